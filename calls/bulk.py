"""Writes to many calls at once, by the rules of ``calls.services``: used when a campaign's batch is stopped
and the provider reports a hundred calls cancelled before they were dialled. One transaction and one lock on
the credit account instead of one each; the same events (a ``CallEvent`` and ``call_changed`` per call) and the
same ledger rows (one release per call) as ``call_apply_provider_update`` would write."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from calls.events import call_changed, call_written
from calls.models import TERMINAL_STATUSES, Call, CallEvent
from calls.provider_updates import merge_details, next_status
from calls.providers.base import ProviderCall
from calls.services import call_apply_provider_update
from users.models import User
from users.services import credits_release_many

# What a report of a call that never talked sets; calls with the same values are updated by one statement.
# (Its raw payload is not kept: the summary, status and times say all there is.)
GROUPED_FIELDS = ("status", "queue_status", "answered_by", "started_at", "ended_at", "duration_seconds",
                  "provider_price", "summary", "from_number", "error_message", "ended_by", "disposition")


def _never_talked(report: ProviderCall) -> bool:
    return report.completed and not report.duration_seconds and report.answered_by not in ("human", "voicemail")


def calls_apply_reports(*, reports: Sequence[tuple[Call, ProviderCall]], source: str) -> None:
    """Apply each provider report. Calls that ended without talking (cancelled before dialling, busy, failed)
    are moved and give back their whole hold together; any other report goes through
    ``call_apply_provider_update`` one by one. Idempotent, as each report is."""
    quiet = {call.pk: report for call, report in reports if _never_talked(report)}
    for call, report in reports:
        if call.pk not in quiet:
            call_apply_provider_update(update=report, source=source, call=call)
    if not quiet:
        return
    with transaction.atomic():
        locked = list(Call.objects.select_for_update().filter(pk__in=list(quiet)).exclude(
            status__in=TERMINAL_STATUSES).order_by("pk"))
        events: list[CallEvent] = []
        ended: list[Call] = []
        for call in locked:
            report, before = quiet[call.pk], call.status
            merge_details(call, report)
            call.status = next_status(call, report)
            if call.status not in TERMINAL_STATUSES:
                continue
            ended.append(call)
            events.append(CallEvent(call=call, source=source, from_status=before, to_status=call.status,
                                    detail=(report.error_message or f"{report.queue_status} {report.status}")[:255],
                                    payload={"queue_status": report.queue_status, "status": report.status}))
        if not ended:
            return
        owner = User.objects.get(pk=ended[0].owner_id)  # a campaign's calls share their owner
        credits_release_many(user=owner, references=[call.credit_reference for call in ended],
                             memo="call ended without talking")
        groups: dict[tuple[object, ...], list[uuid.UUID]] = defaultdict(list)
        for call in ended:
            groups[tuple(getattr(call, field) for field in GROUPED_FIELDS)].append(call.pk)
        now = timezone.now()
        for values, pks in groups.items():
            Call.objects.filter(pk__in=pks).update(**dict(zip(GROUPED_FIELDS, values, strict=True)), cost_credits=0,
                                                   updated_at=now)
        CallEvent.objects.bulk_create(events, batch_size=500)
        for call in ended:
            call.owner, call.cost_credits = owner, 0
            call_written(call=call)
            call_changed(call_id=call.id, owner_id=call.owner_id, campaign_id=call.campaign_id)
