"""Spending and usage per day or month, summed from the credit ledger and the calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Count, Sum
from django.db.models.functions import TruncDay, TruncMonth
from django.utils import timezone

from calls.models import Call
from config.errors import InvalidInput
from users.models import CreditLedgerEntry, User

GROUPINGS = {"day": TruncDay, "month": TruncMonth}
MAX_RANGE = timedelta(days=3 * 366)


def usage_report(*, user: User, since: datetime | None = None, until: datetime | None = None,
                 group_by: str = "day") -> dict[str, Any]:
    """Credits spent, minutes called and calls by status, per ``group_by`` period in [since, until)."""
    if group_by not in GROUPINGS:
        raise InvalidInput(reason=f"group_by must be one of {', '.join(GROUPINGS)}, not {group_by!r}.")
    until = until or timezone.now()
    since = since or until - timedelta(days=30)
    if since >= until:
        raise InvalidInput(reason="since must be before until.")
    if until - since > MAX_RANGE:
        raise InvalidInput(reason="The range may span at most three years.")
    trunc = GROUPINGS[group_by]
    fmt = "%Y-%m-%d" if group_by == "day" else "%Y-%m"
    periods: dict[str, dict[str, Any]] = {}

    def period(key: datetime) -> dict[str, Any]:
        label = key.strftime(fmt)
        return periods.setdefault(label, {"period": label, "spent_credits": 0, "minutes": 0.0, "calls": 0,
                                          "by_status": {}})

    spend = (CreditLedgerEntry.objects.filter(account__user=user, created_at__gte=since, created_at__lt=until)
             .annotate(p=trunc("created_at", tzinfo=UTC)).values("p").annotate(spent=Sum("spent")))
    for row in spend:
        period(row["p"])["spent_credits"] += int(row["spent"] or 0)
    calls = (Call.objects.filter(owner=user, created_at__gte=since, created_at__lt=until)
             .annotate(p=trunc("created_at", tzinfo=UTC)).values("p", "status")
             .annotate(n=Count("id"), seconds=Sum("duration_seconds")))
    for counted in calls:
        bucket = period(counted["p"])
        bucket["calls"] += counted["n"]
        bucket["minutes"] = round(bucket["minutes"] + (counted["seconds"] or 0) / 60, 2)
        bucket["by_status"][counted["status"]] = bucket["by_status"].get(counted["status"], 0) + counted["n"]
    ordered = [periods[key] for key in sorted(periods)]
    by_status: dict[str, int] = {}
    for bucket in ordered:
        for status, count in bucket["by_status"].items():
            by_status[status] = by_status.get(status, 0) + count
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "group_by": group_by,
        "totals": {
            "spent_credits": sum(b["spent_credits"] for b in ordered),
            "minutes": round(sum(b["minutes"] for b in ordered), 2),
            "calls": sum(b["calls"] for b in ordered),
            "by_status": by_status,
        },
        "periods": ordered,
    }
