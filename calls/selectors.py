"""Reads for calls. Every access to a user's call goes through ``call_get_for_user``: a call that
is missing and a call that is someone else's are the same "not found"."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.db.models import IntegerField, Q, QuerySet, Subquery

from calls import errors
from calls.models import AnsweredBy, Call, CallStatus
from config.errors import InvalidInput

MAX_PAGE_SIZE = 100
# What a history row shows (``presenters.call_summary``): a page loads only these columns, not the
# transcript, metadata and raw provider payload of twenty calls.
SUMMARY_FIELDS = ("id", "owner_id", "to_number", "status", "answered_by", "created_at", "duration_seconds",
                  "cost_credits")


def call_get_for_user(*, user_id: int, call_id: Any, staff: bool = False) -> Call:
    """The call, if it is ``user_id``'s (staff reach every call). Takes ids, not a ``User``, so the MCP
    path answers from its authenticated principal without loading the user row first."""
    try:
        key = uuid.UUID(str(call_id))
    except ValueError:
        raise errors.CallNotFound(call_id=str(call_id)[:64]) from None
    query = Call.objects.filter(pk=key)
    if not staff:
        query = query.filter(owner_id=user_id)
    call = query.first()
    if call is None:
        raise errors.CallNotFound(call_id=str(key))
    return call


def call_recent(*, owner_id: int, limit: int = 20) -> list[Call]:
    """The owner's newest calls (only the columns a summary shows)."""
    return list(Call.objects.filter(owner_id=owner_id).order_by("-created_at", "-id").only(*SUMMARY_FIELDS)[:limit])


def call_ids_starting_with(*, owner_id: int, prefix: str, among: int = 100) -> list[str]:
    """Completion candidates: ids of the owner's ``among`` newest calls that start with ``prefix``."""
    ids = Call.objects.filter(owner_id=owner_id).order_by("-created_at", "-id").values_list("id", flat=True)
    return [str(i) for i in ids[:among] if str(i).startswith(prefix)]


@dataclass(frozen=True)
class HistoryFilters:
    status: tuple[str, ...] = ()
    answered_by: tuple[str, ...] = ()
    number: str = ""
    since: datetime | None = None
    until: datetime | None = None
    min_duration: int | None = None
    max_duration: int | None = None


class _CountOf(Subquery):
    """``(SELECT count(*) FROM (<query>))``: the same plan as ``QuerySet.count()`` (an index-only scan
    where an index covers the filters), usable as a column. An aggregate annotation would group by
    the owner and count a column, which makes PostgreSQL read every matching row."""

    template = "(SELECT count(*) FROM (%(subquery)s) counted)"
    output_field = IntegerField()


@dataclass(frozen=True)
class HistoryPage:
    calls: list[Call]  # with SUMMARY_FIELDS loaded; read a call's details through call_get_for_user
    total: int
    next_cursor: str | None


def _encode_cursor(call: Call, total: int) -> str:
    raw = json.dumps({"t": call.created_at.isoformat(), "i": str(call.id), "n": total}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID, int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        total = int(data["n"])
        if total < 0:
            raise ValueError
        return datetime.fromisoformat(data["t"]), uuid.UUID(data["i"]), total
    except (ValueError, KeyError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
        raise InvalidInput(reason="Invalid cursor: pass back the next_cursor of a previous page unchanged.") from exc


def call_history_queryset(*, owner_id: int, filters: HistoryFilters) -> QuerySet[Call]:
    query = Call.objects.filter(owner_id=owner_id)
    if filters.status:
        unknown = sorted(set(filters.status) - set(CallStatus.values))
        if unknown:
            allowed = ", ".join(CallStatus.values)
            raise InvalidInput(reason=f"Unknown status {', '.join(unknown)}; use one of {allowed}.")
        query = query.filter(status__in=filters.status)
    if filters.answered_by:
        unknown = sorted(set(filters.answered_by) - set(AnsweredBy.values))
        if unknown:
            raise InvalidInput(
                reason=f"Unknown answered_by {', '.join(unknown)}; use one of {', '.join(AnsweredBy.values)}."
            )
        query = query.filter(answered_by__in=filters.answered_by)
    if filters.number:
        query = query.filter(Q(to_number=filters.number) | Q(from_number=filters.number))
    if filters.since:
        query = query.filter(created_at__gte=filters.since)
    if filters.until:
        query = query.filter(created_at__lt=filters.until)
    if filters.min_duration is not None:
        query = query.filter(duration_seconds__gte=filters.min_duration)
    if filters.max_duration is not None:
        query = query.filter(duration_seconds__lte=filters.max_duration)
    return query


def call_history(*, owner_id: int, filters: HistoryFilters, cursor: str | None = None, limit: int = 20) -> HistoryPage:
    """Newest first, keyset-paginated on (created_at, id): stable while new calls arrive (they appear on
    a fresh first page, never in later ones). Never silently capped: ``total`` counts every match when
    the first page is read (in the same statement) and travels in the cursor, so a walk through the
    pages sees one consistent total and every page is one query; deep pages are an index seek."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(reason=f"limit must be between 1 and {MAX_PAGE_SIZE}.")
    query = call_history_queryset(owner_id=owner_id, filters=filters)
    page_query = query.order_by("-created_at", "-id").only(*SUMMARY_FIELDS)
    if cursor:
        created_at, call_id, total = _decode_cursor(cursor)
        # The redundant created_at__lte bound lets the (owner, created_at, id) index seek to the page.
        page_query = page_query.filter(created_at__lte=created_at).filter(
            Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=call_id)
        )
        calls = list(page_query[: limit + 1])
    else:
        # One statement for the first page: the total is an uncorrelated subquery, evaluated once.
        # An empty first page means no match at all, so its total is 0.
        calls = list(page_query.annotate(total=_CountOf(query.order_by().values("owner_id")))[: limit + 1])
        total = cast(Any, calls[0]).total if calls else 0  # the annotation of the first-page query
    has_more = len(calls) > limit
    calls = calls[:limit]
    return HistoryPage(calls=calls, total=total, next_cursor=_encode_cursor(calls[-1], total) if has_more else None)
