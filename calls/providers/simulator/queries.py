"""``GET /v1/calls``: the list filters, read from the query string as Bland reads them.

``start_date``/``end_date``/``created_at`` bound the creation time, ``update_start_date``/``update_end_date``
the last update (``SimCall.updated_at``); ``sort_by`` is ``created_at`` or ``updated_at``; ``from``/``to``
slice by index and ``limit`` caps the page (1,000 by default); ``total_count`` counts every match."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from calls.providers.simulator.errors import SimError
from calls.providers.simulator.state import SimCall
from calls.providers.simulator.validation import e164, parse_number

SORT_KEYS = ("created_at", "updated_at")


def _query_bool(value: str | None, name: str) -> bool | None:
    if value is None or value == "":
        return None
    lowered = value.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise SimError.flat(400, f"Invalid {name}: must be true or false.")


def _query_number(value: str | None, name: str, kind: Callable[[str], Any]) -> Any:
    if value is None or value == "":
        return None
    try:
        number = kind(value)
    except ValueError:
        raise SimError.flat(400, f"Invalid {name}.") from None
    if number < 0:
        raise SimError.flat(400, f"Invalid {name}.")
    return number


def _query_moment(value: str | None, name: str, tz: zoneinfo.ZoneInfo, *, end: bool) -> datetime | None:
    """A bound on created_at: a date means the day's start (or, as an end, the next day's start) in ``tz``."""
    if value is None or value == "":
        return None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise SimError.flat(400, f"Invalid {name}.") from None
        moment = datetime(day.year, day.month, day.day, tzinfo=tz)
        return moment + timedelta(days=1) if end else moment
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise SimError.flat(400, f"Invalid {name}.") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=tz)
    return moment + timedelta(microseconds=1) if end else moment


def _normalised(value: str | None) -> str | None:
    if not value:
        return None
    number = parse_number(value)
    return e164(number) if number else value


@dataclass(frozen=True)
class ListQuery:
    from_number: str | None = None
    to_number: str | None = None
    start: int | None = None
    stop: int | None = None
    limit: int = 1000
    ascending: bool = False
    after: datetime | None = None  # inclusive
    before: datetime | None = None  # exclusive
    completed: bool | None = None
    answered_by: str | None = None
    duration_gt: float | None = None
    duration_lt: float | None = None
    inbound: bool | None = None
    batch_id: str | None = None
    sort_by: str = "created_at"
    updated_after: datetime | None = None  # inclusive
    updated_before: datetime | None = None  # exclusive

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> ListQuery:
        tz_name = query.get("timezone") or "UTC"
        try:
            tz = zoneinfo.ZoneInfo(tz_name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise SimError.flat(400, "Invalid timezone.") from None
        after = _query_moment(query.get("start_date"), "start_date", tz, end=False)
        before = _query_moment(query.get("end_date"), "end_date", tz, end=True)
        if query.get("created_at"):
            after = _query_moment(query["created_at"], "created_at", tz, end=False)
            before = _query_moment(query["created_at"], "created_at", tz, end=True)
        limit = _query_number(query.get("limit"), "limit", int)
        sort_by = query.get("sort_by") or "created_at"
        if sort_by not in SORT_KEYS:
            raise SimError.flat(400, f"Invalid sort_by: must be one of {', '.join(SORT_KEYS)}.")
        return cls(
            from_number=_normalised(query.get("from_number")),
            to_number=_normalised(query.get("to_number")),
            start=_query_number(query.get("from"), "from", int),
            stop=_query_number(query.get("to"), "to", int),
            limit=1000 if limit is None else limit,
            ascending=bool(_query_bool(query.get("ascending"), "ascending")),
            after=after,
            before=before,
            completed=_query_bool(query.get("completed"), "completed"),
            answered_by=query.get("answered_by") or None,
            duration_gt=_query_number(query.get("duration_gt"), "duration_gt", float),
            duration_lt=_query_number(query.get("duration_lt"), "duration_lt", float),
            inbound=_query_bool(query.get("inbound"), "inbound"),
            batch_id=query.get("batch_id") or None,
            sort_by=sort_by,
            updated_after=_query_moment(query.get("update_start_date"), "update_start_date", tz, end=False),
            updated_before=_query_moment(query.get("update_end_date"), "update_end_date", tz, end=True),
        )

    def matches(self, call: SimCall, now: datetime, wall: Callable[[datetime], datetime]) -> bool:
        """Whether the call passes the filters; dates are compared with its wall-clock timestamps."""
        created = wall(call.created_at)
        minutes = call.outcome.connected_seconds / 60 if call.outcome else 0.0
        checks = (
            self.from_number is None or call.request.from_number == self.from_number,
            self.to_number is None or call.request.to == self.to_number,
            self.after is None or created >= self.after,
            self.before is None or created < self.before,
            self.completed is None or call.finished == self.completed,
            self.answered_by is None or call.answered_by(now) == self.answered_by,
            self.duration_gt is None or minutes > self.duration_gt,
            self.duration_lt is None or minutes < self.duration_lt,
            self.inbound is None or self.inbound is False,
            self.batch_id is None or call.batch_id == self.batch_id,
        )
        if not all(checks):
            return False
        if self.updated_after is None and self.updated_before is None:
            return True
        updated = wall(call.updated_at(now))
        return ((self.updated_after is None or updated >= self.updated_after)
                and (self.updated_before is None or updated < self.updated_before))

    def ordered(self, calls: list[SimCall], now: datetime) -> list[SimCall]:
        """``calls`` (in creation order) sorted as asked; ties keep the order of creation. Simulated update times
        sort as their wall times do, with what happened within one advance in the order it happened."""
        if self.sort_by == "updated_at":
            calls = sorted(calls, key=lambda call: call.updated_at(now))
        return calls if self.ascending else calls[::-1]

