"""Dead letters: calls the poller gave up on after ``POLLER_MAX_FAILURES`` failed polls in a row.

Each is a ``PollDeadLetter`` row (shown in admin) and, when ``POLLER_DLQ_URL`` is set, an SQS message sent
after the row commits. Retrying (the admin action) resets the call's backoff and polls it at once.
Callers of ``dead_letter_retry`` catch ``calls.errors.ProviderError``.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from calls import errors, services
from calls.models import Call, DeadLetterStatus, EventSource, PollDeadLetter
from calls.poller.dlq import DeadLetterQueueError, dead_letter_queue
from calls.providers.base import Provider

logger = logging.getLogger(__name__)


def dead_letter_open(*, call: Call, run_id: uuid.UUID | None, failures: int, error: str) -> PollDeadLetter:
    """Record (or update) the open dead letter of ``call``; call inside the transaction that counted the
    failure. The SQS message goes out once that transaction commits."""
    letter = PollDeadLetter.objects.filter(call=call, status=DeadLetterStatus.OPEN).first()
    if letter is None:
        letter = PollDeadLetter.objects.create(call=call, run_id=run_id, failures=failures, last_error=error)
    else:
        letter.failures, letter.last_error, letter.run_id = failures, error, run_id
        letter.save(update_fields=["failures", "last_error", "run", "updated_at"])
    letter_id = letter.pk
    transaction.on_commit(lambda: dead_letter_publish(letter_id=letter_id))
    logger.warning("call %s dead-lettered after %d failed polls: %s", call.pk, failures, error)
    return letter


def dead_letter_publish(*, letter_id: int) -> None:
    """Send the dead letter to SQS when a queue is configured; the outcome is kept on the row."""
    queue = dead_letter_queue()
    letter = PollDeadLetter.objects.select_related("call").filter(pk=letter_id).first()
    if queue is None or letter is None:
        return
    call = letter.call
    body = {
        "type": "callmcp.poller.dead_letter", "dead_letter_id": letter.pk, "call_id": str(call.pk),
        "provider_call_id": call.provider_call_id, "owner_id": call.owner_id, "status": call.status,
        "failures": letter.failures, "last_error": letter.last_error,
        "run_id": str(letter.run_id) if letter.run_id else None, "at": timezone.now().isoformat(),
    }
    try:
        message_id = queue.send(body, deduplication_id=f"{letter.pk}-{letter.failures}")
    except DeadLetterQueueError as exc:
        logger.error("dead letter %s could not be sent to SQS: %s", letter.pk, exc)
        PollDeadLetter.objects.filter(pk=letter.pk).update(sqs_error=str(exc)[:500])
        return
    PollDeadLetter.objects.filter(pk=letter.pk).update(sqs_message_id=message_id, sqs_error="")


def dead_letters_resolve(*, call_id: uuid.UUID, now: datetime) -> int:
    """The call was polled successfully: its open or retried dead letters are resolved."""
    return PollDeadLetter.objects.filter(call_id=call_id, status__in=[DeadLetterStatus.OPEN, DeadLetterStatus.RETRIED]
                                         ).update(status=DeadLetterStatus.RESOLVED, resolved_at=now)


def dead_letter_retry(*, letter: PollDeadLetter, provider: Provider) -> Call:
    """Ask the provider about the call now, and give it a fresh start with the poller.

    On success the call has the provider's state and the letter is resolved. If the provider fails again
    the error propagates; the letter stays ``retried`` and the poller tries the call on its next pass (and
    resolves the letter when that works)."""
    now = timezone.now()
    PollDeadLetter.objects.filter(pk=letter.pk).update(status=DeadLetterStatus.RETRIED, retried_at=now)
    Call.objects.filter(pk=letter.call_id).update(poll_failures=0, next_poll_at=None)
    call = Call.objects.get(pk=letter.call_id)
    if not call.provider_call_id:
        return call
    try:
        update = provider.get_call(call.provider_call_id)
    except errors.ProviderError as exc:
        # The error stays on the call: the poller takes it up at once and resolves the letter when it works.
        Call.objects.filter(pk=call.pk).update(last_poll_error=f"retry: {exc.code}: {exc.detail or exc.message}"[:500])
        raise
    with transaction.atomic():
        applied = services.call_apply_provider_update(update=update, source=EventSource.ADMIN, call=call) or call
        Call.objects.filter(pk=call.pk).update(last_polled_at=now, poll_failures=0, last_poll_error="")
        dead_letters_resolve(call_id=call.pk, now=now)
    return applied
