"""Writes for campaigns: place one (all rows checked, every call's credits reserved at once, one provider
batch request), link its calls to the provider's ids, cancel it, and note when its last call ended.

Each call of a campaign is an ordinary ``Call`` holding its own reservation (``call:<id>``), so from then on
``calls.services`` settles it exactly once, whether the webhook, the poller or a read reports its end first.
Callers catch ``config.errors.DomainError`` (``calls.campaigns.errors``, ``calls.errors``, ``users.errors``).
"""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from calls import errors as call_errors
from calls import services as call_services
from calls.campaigns.errors import CampaignNotCancellable
from calls.campaigns.validation import CampaignRow, CampaignSettings, check_rows, check_settings
from calls.events import calls_written, campaign_changed
from calls.models import TERMINAL_STATUSES, Call, CallEvent, CallStatus, Campaign, CampaignStatus
from calls.providers.base import BatchCall, BatchRequest, ListCallsQuery, Provider, ProviderCall
from calls.reports import calls_apply_provider_updates
from config import metrics
from config.db_bulk import execute_bound, insert_rows
from users.models import User
from users.services import credits_release_many, credits_reserve_many

logger = logging.getLogger(__name__)

CAMPAIGN_ID_METADATA_KEY = "callmcp_campaign_id"
LIST_PAGE = 1000
REPORT_CONCURRENCY = 8


def campaign_prepare(*, provider: Provider, rows: list[Any], name: str = "", task: str = "", pathway_id: str = "",
                     voice: str = "", first_sentence: str = "", language: str = "", max_duration: int | None = None,
                     record: bool = False, wait_for_greeting: bool = False, start_time: datetime | None = None,
                     ) -> tuple[CampaignSettings, list[CampaignRow]]:
    """Every rule checked, nothing written: what ``campaign_place`` would place (and a confirmation can show)."""
    good = check_rows(rows)
    shared = check_settings(provider=provider, name=name, task=task, pathway_id=pathway_id, voice=voice,
                            first_sentence=first_sentence, language=language, max_duration=max_duration,
                            record=record, wait_for_greeting=wait_for_greeting, start_time=start_time)
    return shared, good


def campaign_reservation(*, shared: CampaignSettings, rows: list[CampaignRow]) -> int:
    """The credits a campaign holds while it runs: each call's ``max_duration x rate``."""
    return len(rows) * call_services.reservation_for(shared.max_duration)


def campaign_place(*, provider: Provider, user: User, shared: CampaignSettings, rows: list[CampaignRow],
                   source: str = "tool") -> Campaign:
    """Reserve every call's credits (all or nothing: ``InsufficientCredits`` for the total), then place the
    whole campaign with one provider batch request. If the provider refuses or is down, every hold is
    released and no campaign or call remains. ``rows`` and ``shared`` come from ``campaign_prepare``."""
    per_call = call_services.reservation_for(shared.max_duration)
    campaign = Campaign(id=uuid.uuid4(), owner=user, name=shared.name, task=shared.task, pathway_id=shared.pathway_id,
                        voice=shared.voice, first_sentence=shared.first_sentence, language=shared.language,
                        max_duration=shared.max_duration, record=shared.record, start_time=shared.start_time,
                        total_calls=len(rows), reserved_credits=per_call * len(rows))
    calls = [Call(id=uuid.uuid4(), owner=user, campaign=campaign, campaign_index=row.index, to_number=row.to_number,
                  task=shared.task, pathway_id=shared.pathway_id, voice=shared.voice,
                  first_sentence=shared.first_sentence, language=shared.language, max_duration=shared.max_duration,
                  record=shared.record, wait_for_greeting=shared.wait_for_greeting, start_time=shared.start_time,
                  metadata=row.metadata, request_data=row.request_data, reserved_credits=per_call,
                  status=CallStatus.PENDING) for row in rows]
    with transaction.atomic():
        campaign.save(force_insert=True)
        insert_rows(calls)
        credits_reserve_many(user=user, holds=[(call.credit_reference, per_call) for call in calls],
                             memo=f"campaign {campaign.id}: up to {shared.max_duration} min a call")
    try:
        batch_id = provider.create_batch(_batch_request(shared, campaign, calls))
    except call_errors.ProviderError:
        with transaction.atomic():
            credits_release_many(user=user, references=[call.credit_reference for call in calls],
                                 memo="the provider did not place the campaign")
            Call.objects.filter(campaign=campaign).delete()
            Campaign.objects.filter(pk=campaign.pk).delete()
        raise
    status = CallStatus.SCHEDULED if shared.start_time else CallStatus.QUEUED
    now = timezone.now()
    with transaction.atomic():
        Campaign.objects.filter(pk=campaign.pk).update(provider=provider.name, provider_batch_id=batch_id,
                                                       status=CampaignStatus.ACTIVE, placed_at=now, updated_at=now)
        queued = _queue_pending(campaign=campaign, provider=provider.name, status=status, now=now)
        placed = [call for call in calls if call.pk in queued]
        insert_rows([CallEvent(call_id=call.pk, source=source, from_status=CallStatus.PENDING, to_status=status,
                               detail=f"placed in batch {batch_id}") for call in placed])
        for call in placed:
            call.provider, call.status, call.updated_at = provider.name, status, now
        calls_written(calls=placed, created=True)  # each call's Sheets row, as for a call placed alone
        campaign_changed(campaign_id=campaign.id, owner_id=user.pk, created=True)
    metrics.put(metrics.CALLS_PLACED, len(calls))
    campaign.refresh_from_db()  # its calls are linked to the provider's by calls.link_campaign_calls (a task)
    return campaign


def _queue_pending(*, campaign: Campaign, provider: str, status: str, now: datetime) -> set[uuid.UUID]:
    """Move the campaign's calls still pending to ``status`` (one statement); returns the ids it moved. A fast
    webhook may already have moved a call on (under its row lock): that one is left as it is."""
    if connection.vendor != "postgresql":  # the embedded SQLite default: the rows are locked by its one writer
        pending = Call.objects.filter(campaign=campaign, status=CallStatus.PENDING)
        moved = set(pending.values_list("pk", flat=True))
        pending.update(provider=provider, status=status, updated_at=now)
        return moved
    table = connection.ops.quote_name(Call._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET provider = %s, status = %s, updated_at = %s "  # noqa: S608 - our table
                       "WHERE campaign_id = %s AND status = %s RETURNING id",
                       [provider, status, now, campaign.pk, CallStatus.PENDING])
        return {pk for (pk,) in cursor.fetchall()}


def _batch_request(shared: CampaignSettings, campaign: Campaign, calls: list[Call]) -> BatchRequest:
    return BatchRequest(
        calls=tuple(BatchCall(to_number=call.to_number, request_data=call.request_data, start_time=call.start_time,
                              metadata={**call.metadata, call_services.CALL_ID_METADATA_KEY: str(call.id),
                                        CAMPAIGN_ID_METADATA_KEY: str(campaign.id)})
                    for call in calls),
        task=shared.task, pathway_id=shared.pathway_id, voice=shared.voice, first_sentence=shared.first_sentence,
        language=shared.language, max_duration=shared.max_duration, record=shared.record,
        wait_for_greeting=shared.wait_for_greeting, webhook=f"{settings.PUBLIC_BASE_URL}/api/v1/webhooks/bland",
        description=(shared.name or f"callmcp campaign {campaign.id}")[:60],
    )


def campaign_link_calls(*, provider: Provider, campaign: Campaign) -> int:
    """Give each call of the campaign its provider call id, from the provider's call list filtered by the batch
    (a page per 1,000 calls; a campaign's numbers are unique). Calls a webhook already linked are left alone.
    Returns how many were linked now. The provider failing leaves them for the next try (reads retry).

    Run after the campaign is placed (the ``calls.link_campaign_calls`` task, retried while Bland is still
    dispatching the batch), before a stop, and on reads (``campaign_link_if_due``); the poller needs the ids."""
    if not campaign.provider_batch_id:
        return 0
    unlinked = dict(Call.objects.filter(campaign=campaign, provider_call_id__isnull=True)
                    .values_list("to_number", "pk"))
    if not unlinked:
        return 0
    found: dict[Any, str] = {}
    start = 0
    try:
        while True:
            page = provider.list_calls(ListCallsQuery(batch_id=campaign.provider_batch_id, ascending=True,
                                                      start=start, stop=start + LIST_PAGE, limit=LIST_PAGE))
            found.update({unlinked[item.to_number]: item.provider_call_id for item in page.calls
                          if item.to_number in unlinked})
            start += LIST_PAGE
            if len(page.calls) < LIST_PAGE or start >= page.total_count:
                break
    except call_errors.ProviderError as exc:
        logger.warning("campaign %s: calls not linked yet (%s)", campaign.id, exc.code)
    if not found:
        return 0
    return _link(found)


def _link(found: dict[Any, str]) -> int:
    """Set each call's provider call id (one statement), unless a webhook linked it meanwhile (the update
    waits for its row lock, then sees the id it set). Returns how many were set."""
    if connection.vendor != "postgresql":  # the embedded SQLite default: a statement per call
        with transaction.atomic():
            return sum(Call.objects.filter(pk=pk, provider_call_id__isnull=True).update(provider_call_id=linked)
                       for pk, linked in found.items())
    table = connection.ops.quote_name(Call._meta.db_table)
    with transaction.atomic():
        return execute_bound(f"UPDATE {table} AS target SET provider_call_id = linked.provider_call_id "  # noqa: S608 - ours
                             "FROM unnest(%b::uuid[], %b::varchar[]) AS linked(id, provider_call_id) "
                             "WHERE target.id = linked.id AND target.provider_call_id IS NULL",
                             [list(found), list(found.values())])


def campaign_cancel(*, provider: Provider, campaign: Campaign, source: str = "tool") -> Campaign:
    """Stop the campaign's batch: calls that have not been dialled are cancelled and give back all their
    credits; calls already ringing or talking finish and pay as usual. Idempotent; a campaign whose every call
    has ended is ``CampaignNotCancellable``."""
    if campaign.status == CampaignStatus.CANCELLED:
        return campaign
    open_calls = Call.objects.filter(campaign=campaign).exclude(status__in=TERMINAL_STATUSES)
    if campaign.status == CampaignStatus.COMPLETED or not open_calls.exists():
        raise CampaignNotCancellable(campaign_id=str(campaign.id))
    if campaign.provider_batch_id:
        provider.stop_batch(campaign.provider_batch_id)
        campaign_link_calls(provider=provider, campaign=campaign)
    # Only the calls the stop ended: those still ringing or talking are reported by their webhook and the poller.
    reports = _reports(provider, list(open_calls.filter(provider_call_id__isnull=False)))
    calls_apply_provider_updates(updates=[(call.pk, report) for call, report in reports if report.completed],
                                 source=source)
    for call in open_calls.filter(provider_call_id__isnull=True):
        call_services.call_cancel(provider=provider, call=call, source=source)  # the provider never had it
    now = timezone.now()
    with transaction.atomic():
        Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.CANCELLED, cancelled_at=now,
                                                       updated_at=now)
        campaign_changed(campaign_id=campaign.id, owner_id=campaign.owner_id)
    campaign.refresh_from_db()
    campaign_sync_status(campaign_id=campaign.id)
    return campaign


def _reports(provider: Provider, calls: list[Call]) -> list[tuple[Call, ProviderCall]]:
    """What the provider says of each call now, asked ``REPORT_CONCURRENCY`` at a time (the HTTP client is
    thread-safe; the database is only touched by the caller). A call the provider fails to report is left to
    its webhook and the poller."""
    def ask(call: Call) -> tuple[Call, ProviderCall | None]:
        try:
            return call, provider.get_call(str(call.provider_call_id))
        except call_errors.ProviderError as exc:
            logger.warning("call %s not refreshed after its campaign stopped (%s)", call.id, exc.code)
            return call, None

    with ThreadPoolExecutor(max_workers=REPORT_CONCURRENCY) as pool:
        return [(call, report) for call, report in pool.map(ask, calls) if report is not None]


def campaign_sync_status(*, campaign_id: Any) -> bool:
    """Note that the campaign's last call ended (status completed, or ``completed_at`` of a cancelled one).
    Cheap and idempotent: called after each change of one of its calls. Returns whether it changed now."""
    if Call.objects.filter(campaign_id=campaign_id).exclude(status__in=TERMINAL_STATUSES).exists():
        return False
    now = timezone.now()
    with transaction.atomic():
        done = Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.ACTIVE).update(
            status=CampaignStatus.COMPLETED, completed_at=now, updated_at=now)
        done += Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.CANCELLED,
                                        completed_at__isnull=True).update(completed_at=now, updated_at=now)
        if done:
            owner_id = Campaign.objects.values_list("owner_id", flat=True).get(pk=campaign_id)
            campaign_changed(campaign_id=campaign_id, owner_id=owner_id)
    return bool(done)



def campaign_unlinked(*, campaign_id: Any) -> int:
    """How many calls of the campaign have no provider call id yet."""
    return Call.objects.filter(campaign_id=campaign_id, provider_call_id__isnull=True).count()


def campaign_link_if_due(*, provider: Provider, campaign: Campaign) -> None:
    """On reads: link calls the provider had not created yet when the campaign was placed (Bland dispatches
    a batch asynchronously), at most once per ``CALL_DETAILS_REFRESH_SECONDS`` per campaign across workers."""
    if campaign.status not in (CampaignStatus.ACTIVE, CampaignStatus.CANCELLED) or not campaign.provider_batch_id:
        return
    interval = settings.CALL_DETAILS_REFRESH_SECONDS
    if interval > 0 and not cache.add(f"campaigns:link:{campaign.pk}", 1, timeout=interval):
        return
    if Call.objects.filter(campaign=campaign, provider_call_id__isnull=True).exists():
        campaign_link_calls(provider=provider, campaign=campaign)
