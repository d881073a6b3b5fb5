"""Celery tasks of the calls app: thin, named, ids in."""

from __future__ import annotations

from celery import shared_task

from calls import errors
from calls.models import Call


@shared_task(name="calls.fetch_recording", bind=True, max_retries=5, default_retry_delay=30, acks_late=True)
def fetch_recording(self, call_id: str) -> None:  # noqa: ANN001
    from calls.services import call_attach_recording

    call = Call.objects.filter(pk=call_id).first()
    if call is None or call.recording_file:
        return
    try:
        call_attach_recording(call=call)
    except (errors.ProviderUnavailable, errors.ProviderRateLimited) as exc:
        raise self.retry(exc=exc) from exc
    except errors.RecordingNotAvailable:
        return
