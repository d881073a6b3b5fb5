"""Celery tasks of the calls app: thin, named, ids (or a provider's JSON payload) in."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from calls import errors, services
from calls.campaigns import services as campaign_services
from calls.events import CampaignChanged, RecordingAvailable, campaign_changes, recordings_available
from calls.live_events import call_apply_live_event
from calls.models import Call, Campaign
from calls.poller import PollOptions, poll_calls
from calls.providers import configured_provider
from calls.providers.bland import BlandClient

logger = logging.getLogger(__name__)


@shared_task(name="calls.fetch_recording", bind=True, max_retries=5, default_retry_delay=30, acks_late=True)
def fetch_recording(self, call_id: str) -> None:  # noqa: ANN001
    call = Call.objects.filter(pk=call_id).first()
    if call is None or call.recording_file:
        return
    try:
        services.call_attach_recording(provider=configured_provider(), call=call)
    except (errors.ProviderUnavailable, errors.ProviderRateLimited) as exc:
        raise self.retry(exc=exc) from exc
    except errors.RecordingNotAvailable:
        return


@shared_task(name="calls.process_webhook", autoretry_for=(OperationalError,), retry_backoff=True,
             retry_backoff_max=300, max_retries=5, acks_late=True, ignore_result=True)
def process_webhook(payload: dict[str, Any]) -> None:
    """Apply a verified Bland webhook (the call-details object). Idempotent: a redelivery changes nothing;
    a call we do not know is ignored."""
    call = services.call_apply_provider_update(update=BlandClient.parse_call(payload), source="webhook")
    if call is None:
        logger.info("webhook for unknown provider call %s ignored", payload.get("call_id") or payload.get("c_id"))


@shared_task(name="calls.process_live_event", autoretry_for=(OperationalError,), retry_backoff=True,
             retry_backoff_max=60, max_retries=5, acks_late=True, ignore_result=True)
def process_live_event(payload: dict[str, Any]) -> None:
    """Apply a verified live event (a line said, the call connecting). Idempotent."""
    call_apply_live_event(event=BlandClient.parse_live_event(payload))


@shared_task(name="calls.poll_calls", ignore_result=True)
def poll_calls_task(max_seconds: float | None = None) -> dict[str, Any]:
    """One poller pass (beat runs it every minute): the same code as ``manage.py poll_calls --once``.
    Another runner holding the lock makes it return at once; a pass cut short resumes next time."""
    summary = poll_calls(options=PollOptions.from_settings(
        max_seconds=max_seconds or settings.POLLER_CELERY_MAX_SECONDS, trigger="celery"))
    return summary.as_dict()


@shared_task(name="calls.link_campaign_calls", bind=True, max_retries=10, default_retry_delay=3, acks_late=True,
             ignore_result=True)
def link_campaign_calls(self, campaign_id: str) -> None:  # noqa: ANN001
    """Link a placed campaign's calls to the provider's (Bland creates a batch's calls as it dispatches it):
    retried while some are missing or the provider fails."""
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        return
    try:
        campaign_services.campaign_link_calls(provider=configured_provider(), campaign=campaign)
    except errors.ProviderError as exc:
        raise self.retry(exc=exc) from exc
    if campaign_services.campaign_unlinked(campaign_id=campaign_id) and not settings.CELERY_TASK_ALWAYS_EAGER:
        raise self.retry()


@campaign_changes.subscribe
def link_when_placed(event: CampaignChanged) -> None:
    """After commit: the campaign's rows exist for the worker."""
    if event.created:
        link_campaign_calls.delay(event.campaign_id)


@recordings_available.subscribe
def fetch_when_available(event: RecordingAvailable) -> None:
    """After commit: the task runs once the finished call is visible to the worker."""
    fetch_recording.delay(event.call_id)
