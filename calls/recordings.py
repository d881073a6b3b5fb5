"""Signed, expiring download links for stored recordings.

A link names the call and its owner and is signed with the server's key, so it works in a browser
without a token, only for that call, and only until it expires.
"""

from __future__ import annotations

import uuid
import wave
from datetime import datetime, timedelta
from io import BytesIO

from django.conf import settings
from django.core import signing
from django.core.files.storage import Storage
from django.utils import timezone

from calls import errors, selectors
from calls.models import Call
from users.models import User

SALT = "calls.recording-download"


def recording_link(call: Call) -> tuple[str, datetime]:
    """A link to the call's audio and when it expires.

    On S3 (a private bucket) it is a presigned GET URL, so the bytes come straight from S3 and the
    bucket needs no public access; otherwise a signed link to our download endpoint."""
    ttl = settings.RECORDING_LINK_TTL_SECONDS
    expires = timezone.now() + timedelta(seconds=ttl)
    name = call.recording_file.name if call.recording_file else None
    presigned = _presigned_url(call.recording_file.storage, name, ttl) if name else None
    if presigned:
        return presigned, expires
    token = signing.dumps({"c": str(call.id), "u": call.owner_id}, salt=SALT, compress=True)
    return f"{settings.PUBLIC_BASE_URL}/api/v1/calls/{call.id}/recording/download?token={token}", expires


def _presigned_url(storage: Storage, name: str, ttl: int) -> str | None:
    from storages.backends.s3 import S3Storage

    if isinstance(storage, S3Storage) and storage.querystring_auth:  # isinstance sees through the lazy default
        return str(storage.url(name, expire=ttl))
    return None


def recording_link_target(token: str) -> tuple[str, int] | None:
    """(call id, owner id) of a valid, unexpired link; None otherwise."""
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.RECORDING_LINK_TTL_SECONDS)
    except signing.BadSignature:
        return None
    return str(data.get("c")), int(data.get("u"))


def recording_link_call(*, call_id: str, token: str) -> Call:
    """The call a download link opens, if ``token`` is a valid, unexpired link for exactly this call and
    its current owner and the audio is stored. Raises ``RecordingLinkInvalid`` (404) otherwise, whatever
    went wrong, so a link reveals nothing about calls it was not made for."""
    target = recording_link_target(token) if token else None
    try:
        wanted = str(uuid.UUID(str(call_id)))
    except ValueError:
        raise errors.RecordingLinkInvalid() from None
    if target is None or target[0] != wanted:
        raise errors.RecordingLinkInvalid()
    owner = User.objects.filter(pk=target[1], is_active=True).first()
    if owner is None:
        raise errors.RecordingLinkInvalid()
    try:
        call = selectors.call_get_for_user(user_id=owner.pk, call_id=wanted)
    except errors.CallNotFound:
        raise errors.RecordingLinkInvalid() from None
    if call.owner_id != owner.pk or not call.recording_file:
        raise errors.RecordingLinkInvalid()
    return call


def recording_duration_seconds(call: Call) -> float | None:
    """The audio's own length for WAV files; otherwise the call's connected duration."""
    if call.recording_file and call.recording_content_type in {"audio/wav", "audio/x-wav"}:
        try:
            with call.recording_file.open("rb") as handle, wave.open(BytesIO(handle.read())) as audio:
                return round(audio.getnframes() / float(audio.getframerate()), 2)
        except (wave.Error, EOFError, OSError):
            pass
    return float(call.duration_seconds) if call.duration_seconds is not None else None
