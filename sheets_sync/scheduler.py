"""Which spreadsheet the drain serves next: deficit round robin over the spreadsheets with waiting rows,
critical first.

One request touches one spreadsheet and costs one quota token however many rows it carries, so the
quota, not the rows, is what spreadsheets share. Each round every waiting spreadsheet is credited one
request (the quantum) and is served while it has credit; what it spends beyond a request (a new month
tab, a header, a read-back after an ambiguous append) it pays back by sitting out later rounds. Rounds
go critical first (a spreadsheet with an ended, failed or charged call waiting), then the least recently
served, so a busy spreadsheet gets one request per round like every other and none is starved by it:
with N spreadsheets waiting, each is served at least once every N requests.

The state (credit, last service, lease) lives in ``SpreadsheetStatus`` rows, so every worker shares one
rotation; the lease keeps a spreadsheet to one drainer at a time (two drainers appending the same new
call would write it twice).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Count, Min, Q
from django.utils import timezone

from sheets_sync.models import OutboxEntry, SpreadsheetStatus

QUANTUM = 1.0  # requests credited per round
MAX_CREDIT = 2.0  # a spreadsheet skipped for lack of budget does not save up more than this


@dataclass(frozen=True)
class Candidate:
    spreadsheet_id: str
    waiting: int
    critical: int
    oldest: datetime
    last_served_at: datetime | None
    deficit: float


class DeficitRoundRobin:
    """The bookkeeping of deficit round robin, apart from where the figures are kept."""

    def __init__(self, quantum: float = QUANTUM, max_credit: float = MAX_CREDIT) -> None:
        self.quantum = quantum
        self.max_credit = max_credit

    def credit(self, deficit: float) -> float:
        return min(deficit + self.quantum, self.max_credit)

    def may_serve(self, deficit: float) -> bool:
        return deficit >= 1.0

    def charge(self, deficit: float, cost: int, *, emptied: bool) -> float:
        """Credit left after a turn that cost ``cost`` requests; an emptied spreadsheet keeps none."""
        return 0.0 if emptied else deficit - cost


def round_order(candidates: Iterable[Candidate], *, oldest_first: bool = False) -> list[Candidate]:
    """The order of one round: critical first (unless resyncing a backlog oldest-first), then the least
    recently served (never served first), then the one waiting longest."""
    epoch = datetime.min.replace(tzinfo=UTC)

    def key(c: Candidate) -> tuple[int, datetime, datetime, str]:
        urgency = 0 if (c.critical and not oldest_first) else 1
        served = c.last_served_at or epoch
        return (urgency, c.oldest if oldest_first else served, served if oldest_first else c.oldest, c.spreadsheet_id)

    return sorted(candidates, key=key)


def candidates(*, worker: str, spreadsheet_ids: Iterable[str] | None = None, critical_only: bool = False,
               now: datetime | None = None) -> list[Candidate]:
    """Spreadsheets with rows waiting that this worker may serve now: not refused by Sheets recently
    (``blocked_until``) and not leased by another drainer."""
    now = now or timezone.now()
    query = OutboxEntry.objects.all()
    if spreadsheet_ids is not None:
        query = query.filter(spreadsheet_id__in=list(spreadsheet_ids))
    if critical_only:
        query = query.filter(critical=True)
    waiting = list(query.values("spreadsheet_id").annotate(
        waiting=Count("id"), critical=Count("id", filter=Q(critical=True)), oldest=Min("created_at")))
    if not waiting:
        return []
    statuses = {s.spreadsheet_id: s for s in SpreadsheetStatus.objects.filter(
        spreadsheet_id__in=[w["spreadsheet_id"] for w in waiting])}
    found = []
    for row in waiting:
        status = statuses.get(row["spreadsheet_id"])
        if status is not None:
            if status.blocked_until and status.blocked_until > now:
                continue
            if status.lease_until and status.lease_until > now and status.lease_owner != worker:
                continue
        found.append(Candidate(spreadsheet_id=row["spreadsheet_id"], waiting=row["waiting"], critical=row["critical"],
                               oldest=row["oldest"], last_served_at=status.last_served_at if status else None,
                               deficit=status.deficit if status else 0.0))
    return found


def status_for(spreadsheet_id: str) -> SpreadsheetStatus:
    status, _ = SpreadsheetStatus.objects.get_or_create(spreadsheet_id=spreadsheet_id)
    return status


def lease_acquire(spreadsheet_id: str, *, worker: str, now: datetime | None = None) -> bool:
    """Take (or renew) the spreadsheet for ``worker``; False if another drainer holds it."""
    now = now or timezone.now()
    status_for(spreadsheet_id)
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(lease_owner=worker)
    return bool(SpreadsheetStatus.objects.filter(free, spreadsheet_id=spreadsheet_id).update(
        lease_owner=worker, lease_until=now + timedelta(seconds=settings.SHEETS_LEASE_SECONDS)))


def lease_release(spreadsheet_id: str, *, worker: str) -> None:
    SpreadsheetStatus.objects.filter(spreadsheet_id=spreadsheet_id, lease_owner=worker).update(
        lease_owner="", lease_until=None)


def turn_begin(candidate: Candidate, drr: DeficitRoundRobin) -> bool:
    """Credit the spreadsheet its quantum for this round; True when it may be served now."""
    deficit = drr.credit(candidate.deficit)
    SpreadsheetStatus.objects.filter(spreadsheet_id=candidate.spreadsheet_id).update(deficit=deficit)
    return drr.may_serve(deficit)


def turn_end(spreadsheet_id: str, drr: DeficitRoundRobin, *, cost: int, emptied: bool,
             now: datetime | None = None) -> None:
    status = SpreadsheetStatus.objects.filter(spreadsheet_id=spreadsheet_id).only("deficit").first()
    if status is None:
        return
    SpreadsheetStatus.objects.filter(pk=status.pk).update(
        deficit=drr.charge(status.deficit, cost, emptied=emptied), last_served_at=now or timezone.now())
