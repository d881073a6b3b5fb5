"""Writes for calls: the one write path for tools, the REST API, webhooks and the poller.

Every change goes through ``call_apply_provider_update`` or the small functions here: they lock the
call row, record a ``CallEvent``, move credits exactly once and announce ``calls.events`` after commit.
Functions that talk to the phone provider take it as ``provider=`` (interfaces pass
``calls.providers.configured_provider()``; tests may hand any client). Callers catch
``config.errors.DomainError`` (``calls.errors`` and ``users.errors``).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from calls import errors
from calls.events import call_changed, call_written
from calls.models import CANCELLABLE_STATUSES, Call, CallEvent, CallStatus
from calls.provider_updates import merge_details
from calls.providers.base import PlaceCallRequest, Provider, ProviderCall
from calls.reports import apply_locked, final, recording_due, settle
from calls.validation import check_language, normalize_phone_number
from calls.voices import voice_check
from config import metrics
from users.models import User
from users.services import credits_release, credits_reserve

logger = logging.getLogger(__name__)

# Our call id travels in the provider's metadata, so a webhook that overtakes the answer to
# POST /v1/calls (before we know the provider's id) still finds its call.
CALL_ID_METADATA_KEY = "callmcp_call_id"


# --- rules ------------------------------------------------------------------------------------------


def reservation_for(max_duration: int) -> int:
    return max_duration * settings.CALL_CREDITS_PER_MINUTE


def _webhook_url() -> str:
    return f"{settings.PUBLIC_BASE_URL}/api/v1/webhooks/bland"


# --- placing ---------------------------------------------------------------------------------------


def call_place(
    *,
    provider: Provider,
    user: User,
    to_number: str,
    task: str = "",
    pathway_id: str = "",
    from_number: str = "",
    voice: str = "",
    first_sentence: str = "",
    language: str = "",
    max_duration: int | None = None,
    record: bool = False,
    wait_for_greeting: bool = False,
    start_time: datetime | None = None,
    metadata: dict[str, Any] | None = None,
    request_data: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    source: str = "tool",
) -> Call:
    """Validate, reserve ``max_duration x rate`` credits, place the call with the provider.

    Nothing is placed or charged when validation fails. If the provider refuses or is down, the
    reservation is released and no call row remains. Repeating a request with the same
    ``idempotency_key`` returns the call placed the first time.
    """
    to_number = normalize_phone_number(to_number, field="phone_number")
    from_number = normalize_phone_number(from_number, field="from_number") if from_number else ""
    language = check_language((language or "").strip())
    task, pathway_id = (task or "").strip(), (pathway_id or "").strip()
    if not task and not pathway_id:
        raise errors.InvalidCallRequest(reason="Give either task (what the AI agent should do) or pathway_id.")
    if task and pathway_id:
        raise errors.InvalidCallRequest(reason="Give task or pathway_id, not both.")
    max_duration = max_duration or settings.CALL_DEFAULT_MAX_DURATION_MINUTES
    if not 1 <= max_duration <= 720:
        raise errors.InvalidCallRequest(reason="max_duration must be between 1 and 720 minutes.")
    if start_time is not None:
        if timezone.is_naive(start_time):
            raise errors.InvalidCallRequest(reason="start_time needs a UTC offset, e.g. 2026-12-01T15:00:00+00:00.")
        if start_time < timezone.now() + timedelta(minutes=5):
            raise errors.InvalidCallRequest(reason="start_time must be at least 5 minutes in the future.")
    voice = voice_check(provider=provider, voice=voice)
    if idempotency_key:
        existing = Call.objects.filter(owner=user, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing

    call = Call(
        id=uuid.uuid4(), owner=user, to_number=to_number, from_number=from_number, task=task, pathway_id=pathway_id,
        voice=voice, first_sentence=first_sentence, language=language, max_duration=max_duration, record=record,
        wait_for_greeting=wait_for_greeting, start_time=start_time, metadata=metadata or {},
        request_data=request_data or {}, idempotency_key=idempotency_key or None,
        reserved_credits=reservation_for(max_duration), status=CallStatus.PENDING,
    )
    try:
        with transaction.atomic():
            call.save(force_insert=True)
            credits_reserve(user=user, amount=call.reserved_credits, reference=call.credit_reference,
                            memo=f"call to {to_number}, up to {max_duration} min")
    except IntegrityError:
        # The same idempotency key raced us: the other request owns the call.
        return Call.objects.get(owner=user, idempotency_key=idempotency_key)

    try:
        provider_call_id = provider.place_call(PlaceCallRequest(
            to_number=to_number, task=task, pathway_id=pathway_id, from_number=from_number, voice=voice,
            first_sentence=first_sentence, language=language, max_duration=max_duration, record=record,
            wait_for_greeting=wait_for_greeting, start_time=start_time,
            metadata={**(metadata or {}), CALL_ID_METADATA_KEY: str(call.id)},
            request_data=request_data or {}, webhook=_webhook_url(),
            webhook_events=("call",) if settings.CALL_LIVE_EVENTS else (),
        ))
    except errors.ProviderError:
        with transaction.atomic():
            credits_release(user=user, reference=call.credit_reference, memo="the provider did not place the call")
            Call.objects.filter(pk=call.pk).delete()
        raise

    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=call.pk)
        locked.provider = provider.name
        locked.provider_call_id = provider_call_id
        status = CallStatus.SCHEDULED if start_time else CallStatus.QUEUED
        if locked.status == CallStatus.PENDING:  # a fast webhook may already have moved it on
            locked.status = status
        locked.save(update_fields=["provider", "provider_call_id", "status", "updated_at"])
        CallEvent.objects.create(call=locked, source=source, from_status=CallStatus.PENDING, to_status=locked.status,
                                 detail=f"placed with {provider.name} as {provider_call_id}")
        call_written(call=locked, created=True)
        call_changed(call_id=locked.id, owner_id=locked.owner_id, campaign_id=locked.campaign_id, created=True)
    metrics.put(metrics.CALLS_PLACED, 1)
    return locked


# --- updates from the provider ---------------------------------------------------------------------


def _call_named_in_metadata(query: Any, update: ProviderCall) -> Call | None:
    raw_metadata = update.raw.get("metadata")
    metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
    try:
        call_id = uuid.UUID(str(metadata.get(CALL_ID_METADATA_KEY)))
    except ValueError:
        return None
    locked = query.filter(pk=call_id).first()
    if locked is None or locked.provider_call_id not in (None, update.provider_call_id):
        return None
    if locked.provider_call_id is None:
        locked.provider_call_id = update.provider_call_id
        locked.save(update_fields=["provider_call_id", "updated_at"])
    # else: linked meanwhile (a campaign's calls are linked in bulk while their webhooks arrive)
    return locked


def call_apply_provider_update(*, update: ProviderCall, source: str, call: Call | None = None) -> Call | None:
    """Apply what the provider says about a call. Idempotent: the same report twice changes nothing.

    Status never moves backwards; a call that ended settles its real cost (completed) or releases
    its reservation (failed, busy, no answer, cancelled) exactly once. Returns None for calls we
    do not know.
    """
    with transaction.atomic():
        query = Call.objects.select_for_update()
        locked = (query.filter(pk=call.pk) if call is not None else
                  query.filter(provider_call_id=update.provider_call_id)).first()
        if locked is None:
            locked = _call_named_in_metadata(query, update)
        if locked is None:
            return None
        apply_locked(reports=[(locked, update)], source=source)
    recording_due(locked)
    return locked


def call_refresh(*, provider: Provider, call: Call, source: str = "poller") -> Call:
    """Ask the provider for the call's state and apply it."""
    if not call.provider_call_id:
        return call
    update = provider.get_call(call.provider_call_id)
    return call_apply_provider_update(update=update, source=source, call=call) or call


def call_may_refresh(call: Call) -> bool:
    """Whether ``call_refresh_if_stale`` could ask the provider about ``call``: it is in flight with them."""
    return not call.is_terminal and bool(call.provider_call_id)


def call_refresh_if_stale(*, provider: Provider, call: Call, source: str) -> Call:
    """The call, asked about again if it is in flight and has not changed for CALL_DETAILS_REFRESH_SECONDS.

    Bounded: at most one ask per call per interval across all workers (a cache key), however often it
    is read. A provider that fails leaves the call as it was: a read never fails because of it."""
    interval = settings.CALL_DETAILS_REFRESH_SECONDS
    if not call_may_refresh(call):
        return call
    if interval > 0 and (call.updated_at > timezone.now() - timedelta(seconds=interval)
                         or not cache.add(f"calls:refresh:{call.pk}", 1, timeout=interval)):
        return call
    try:
        return call_refresh(provider=provider, call=call, source=source)
    except errors.ProviderError as exc:
        logger.info("call %s not refreshed on read: %s", call.id, exc.code)
        return call


def _stop(*, provider: Provider, call: Call, source: str) -> tuple[bool, ProviderCall | None]:
    """Ask the provider to stop the call: (whether it stopped it, what it reports right after, if it can)."""
    if not call.provider_call_id:
        return False, None
    try:
        provider.stop_call(call.provider_call_id)
    except errors.ProviderNotFound:
        return False, None  # the provider no longer knows it: nothing left to stop
    except errors.ProviderRejected:
        # Typically "already ended": the provider's state decides.
        refreshed = call_refresh(provider=provider, call=call, source=source)
        if refreshed.is_terminal and refreshed.status != CallStatus.CANCELED:
            raise errors.CallNotCancellable(call_id=str(call.id), status=refreshed.status) from None
        return False, None
    try:
        return True, provider.get_call(call.provider_call_id)
    except errors.ProviderError as exc:
        logger.warning("call %s stopped; its cost waits for the provider's report (%s)", call.id, exc.code)
        return True, None


def _cost_pending(stopped: bool, report: ProviderCall | None) -> bool:
    """Whether a call the provider stopped may have talked, and the provider has not said what that cost."""
    return stopped and (report is None or not final(report))


def call_cancel(*, provider: Provider, call: Call, source: str = "tool") -> Call:
    """Stop a queued, scheduled or live call. Idempotent.

    A call that never connected gives back all its credits. A live call pays the provider's price for the
    time it was connected and gets back the rest, at once when the provider reports the price right
    after the stop, otherwise when its report (webhook or poller) comes; until then the hold stays."""
    if call.status == CallStatus.CANCELED:
        return call
    if call.status not in CANCELLABLE_STATUSES:
        raise errors.CallNotCancellable(call_id=str(call.id), status=call.status)
    stopped, report = _stop(provider=provider, call=call, source=source)
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=call.pk)
        if locked.status == CallStatus.CANCELED:
            return locked
        if locked.is_terminal and not stopped:
            raise errors.CallNotCancellable(call_id=str(call.id), status=locked.status)
        # Terminal here only when the provider's report of our stop won the race (it settled the credits):
        # the stop ended it, so it is cancelled.
        before = locked.status
        changed = {"status", "ended_at", *(merge_details(locked, report) if report is not None else ())}
        locked.status = CallStatus.CANCELED
        locked.ended_at = locked.ended_at or timezone.now()
        CallEvent.objects.create(call=locked, source=source, from_status=before, to_status=CallStatus.CANCELED,
                                 detail="cancelled by staff" if source == "admin" else "cancelled by the owner")
        call_changed(call_id=locked.id, owner_id=locked.owner_id, campaign_id=locked.campaign_id)
        if locked.cost_credits is None and not _cost_pending(stopped, report):
            settle([locked])
            changed.add("cost_credits")
        locked.save(update_fields=[*sorted(changed), "updated_at"])
        call_written(call=locked)
    return locked


# --- recordings ------------------------------------------------------------------------------------


def call_attach_recording(*, provider: Provider, call: Call) -> Call:
    """Fetch the audio once from the provider and keep it in Django storage. Idempotent."""
    if call.recording_file:
        return call
    if not call.record:
        raise errors.RecordingNotAvailable(reason="This call was placed without record=true, so it has no recording.")
    if not call.is_terminal:
        raise errors.RecordingNotAvailable(reason="The call has not ended yet; the recording comes after it ends.")
    if not call.provider_call_id:
        raise errors.RecordingNotAvailable(reason="The call was never placed.")
    recording = provider.get_recording(call.provider_call_id)
    extension = {"audio/wav": "wav", "audio/x-wav": "wav", "audio/mpeg": "mp3"}.get(recording.content_type, "bin")
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=call.pk)
        if locked.recording_file:
            return locked
        locked.recording_file.save(f"{locked.id}.{extension}", ContentFile(recording.content), save=False)
        locked.recording_content_type = recording.content_type
        locked.recording_bytes = len(recording.content)
        locked.save(update_fields=["recording_file", "recording_content_type", "recording_bytes", "updated_at"])
        CallEvent.objects.create(call=locked, source="system", from_status=locked.status, to_status=locked.status,
                                 detail=f"recording stored ({len(recording.content)} bytes)")
        call_written(call=locked)
        call_changed(call_id=locked.id, owner_id=locked.owner_id, campaign_id=locked.campaign_id)
    return locked


def call_store_corrected_transcript(*, provider: Provider, call: Call) -> Call:
    """Fetch the provider's corrected transcript (with confidences) once, if it has one."""
    if call.corrected_transcript or not call.provider_call_id or not call.record or not call.is_terminal:
        return call
    segments = provider.get_corrected_transcript(call.provider_call_id)
    if not segments:
        return call
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=call.pk)
        if locked.corrected_transcript:
            return locked
        locked.corrected_transcript = [
            {"speaker": s.speaker, "text": s.text, "start": s.start, "end": s.end, "confidence": s.confidence}
            for s in segments
        ]
        locked.save(update_fields=["corrected_transcript", "updated_at"])
        call_written(call=locked)
    return locked
