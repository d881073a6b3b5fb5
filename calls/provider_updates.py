"""What a provider's report means for a call: the status it moves to and the fields it fills in.

Pure functions of a ``Call`` and a ``ProviderCall``; ``calls.services.call_apply_provider_update`` applies
them under the row lock.
"""

from __future__ import annotations

from typing import Any

import phonenumbers
from django.utils import timezone

from calls.models import TERMINAL_STATUSES, AnsweredBy, Call, CallStatus
from calls.providers.base import ProviderCall

PROGRESS_RANK: dict[str, int] = {
    CallStatus.PENDING: 0, CallStatus.SCHEDULED: 1, CallStatus.QUEUED: 2, CallStatus.RINGING: 3,
    CallStatus.IN_PROGRESS: 4,
}
FINAL_STATUS = {
    "completed": CallStatus.COMPLETED, "failed": CallStatus.FAILED, "busy": CallStatus.BUSY,
    "no-answer": CallStatus.NO_ANSWER, "no_answer": CallStatus.NO_ANSWER, "canceled": CallStatus.CANCELED,
    "cancelled": CallStatus.CANCELED,
}
ERROR_QUEUE_STATUSES = {"pre_queue_error", "queue_error", "call_error", "complete_error"}


def status_from_provider(call: Call, update: ProviderCall) -> str:
    queue_status = update.queue_status
    if update.completed or queue_status == "complete" or queue_status in ERROR_QUEUE_STATUSES:
        final = FINAL_STATUS.get(update.status)
        if final is not None:
            return final
        if queue_status in ERROR_QUEUE_STATUSES or update.error_message:
            return CallStatus.FAILED
        return CallStatus.COMPLETED if (update.duration_seconds or 0) > 0 else CallStatus.FAILED
    if queue_status == "started":
        return CallStatus.IN_PROGRESS
    if queue_status == "allocated":
        return CallStatus.RINGING
    if call.start_time and call.start_time > timezone.now():
        return CallStatus.SCHEDULED
    return CallStatus.QUEUED


def next_status(call: Call, update: ProviderCall) -> str:
    """The status the report moves the call to: never backwards, and nothing moves a call that ended."""
    reported = status_from_provider(call, update)
    if call.is_terminal:
        return call.status
    if reported not in TERMINAL_STATUSES and PROGRESS_RANK.get(reported, 0) < PROGRESS_RANK.get(call.status, 0):
        return call.status
    return reported


def e164_or_blank(raw: str) -> str:
    """The provider's caller id, normalised; Bland sometimes reports national digits only."""
    if not raw:
        return ""
    try:
        number = phonenumbers.parse(raw if raw.startswith("+") else f"+{raw}", None)
    except phonenumbers.NumberParseException:
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def merge_details(call: Call, update: ProviderCall) -> set[str]:
    changed: set[str] = set()
    values: dict[str, Any] = {
        "queue_status": update.queue_status,
        "answered_by": update.answered_by if update.answered_by in AnsweredBy.values else "",
        "started_at": update.started_at,
        "ended_at": update.ended_at,
        "duration_seconds": update.duration_seconds,
        "provider_price": update.price,
        "summary": update.summary,
        "recording_url": update.recording_url,
        "from_number": e164_or_blank(update.from_number),
        "error_message": update.error_message,
        "ended_by": update.ended_by,
        "disposition": update.disposition,
        "provider_payload": update.raw,
    }
    if update.transcript:
        values["transcript"] = [
            {"speaker": s.speaker, "text": s.text, "at": s.at} for s in update.transcript if s.text
        ]
    for field, value in values.items():
        if value in (None, "", {}, []):
            continue  # a partial report never erases what we know
        if getattr(call, field) != value:
            setattr(call, field, value)
            changed.add(field)
    return changed
