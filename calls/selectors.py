"""Reads for calls. Every access to a user's call goes through ``call_get_for_user`` (or, for the
details view, ``call_details_get_for_user`` and its event-loop twin ``call_details_aget_for_user``,
which apply the same rule): a call that is missing and a call that is someone else's are the same
"not found"."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, IntegerField, Model, Q, QuerySet, Subquery

from calls import errors
from calls.models import AnsweredBy, Call, CallAnalysis, CallStatus
from config import async_db
from config.errors import InvalidInput

MAX_PAGE_SIZE = 100
# What a history row shows (``presenters.call_summary``): a page loads only these columns, not the
# transcript, metadata and raw provider payload of twenty calls.
SUMMARY_FIELDS = ("id", "owner_id", "to_number", "status", "answered_by", "created_at", "duration_seconds",
                  "cost_credits")


def _call_key(call_id: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(call_id))
    except ValueError:
        raise errors.CallNotFound(call_id=str(call_id)[:64]) from None


def call_get_for_user(*, user_id: int, call_id: Any, staff: bool = False) -> Call:
    """The call, if it is ``user_id``'s (staff reach every call). Takes ids, not a ``User``, so the MCP
    path answers from its authenticated principal without loading the user row first."""
    key = _call_key(call_id)
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


# --- one call's details in one statement -------------------------------------------------------------

# What ``presenters.call_details`` reads (and ``services.call_refresh_if_stale`` decides on); not the
# transcript, the corrected transcript, the request data or the raw provider payload.
DETAIL_FIELDS = (*SUMMARY_FIELDS, "provider_call_id", "updated_at", "from_number", "task", "pathway_id", "voice",
                 "language", "max_duration", "record", "start_time", "queue_status", "started_at", "ended_at",
                 "reserved_credits", "summary", "error_message", "ended_by", "disposition", "recording_url",
                 "recording_file", "metadata")
# Whether the transcript is truthy as the Python value would be (it is a list of segments; an empty one is
# ``[]``), computed by the database so the segments are not sent.
_TRUTHY_JSON = {
    "postgresql": ("CASE jsonb_typeof({c}) WHEN 'array' THEN jsonb_array_length({c}) > 0 "
                   "WHEN 'object' THEN {c} <> '{{}}'::jsonb WHEN 'string' THEN {c} <> '\"\"'::jsonb "
                   "WHEN 'number' THEN {c} <> '0'::jsonb WHEN 'boolean' THEN {c} = 'true'::jsonb ELSE false END"),
    "sqlite": ("CASE json_type({c}) WHEN 'array' THEN json_array_length({c}) > 0 WHEN 'object' THEN {c} <> '{{}}' "
               "WHEN 'text' THEN json_extract({c}, '$') <> '' WHEN 'integer' THEN json_extract({c}, '$') <> 0 "
               "WHEN 'real' THEN json_extract({c}, '$') <> 0 WHEN 'true' THEN 1 ELSE 0 END"),
}


@dataclass(frozen=True)
class _DetailsQuery:
    """The details statement of one database: built once, its column converters with it."""

    sql: str
    db: BaseDatabaseWrapper  # the connection whose operations built it: for converting values, never for I/O
    attnames: list[str]  # in the model's field order, as ``Model.from_db`` takes them
    # The columns that have Django converters: (position, the column's expression, its converters).
    converters: list[tuple[int, Any, list[Any]]]


# Per database alias, engine and staff flag (None: the engine has no such statement): the statement and
# converters depend on nothing else. Not per connection object: on the event loop each request's context
# would make a wrapper of its own just to find it.
_details_queries: dict[tuple[str, str, bool], _DetailsQuery | None] = {}


def _column(db: BaseDatabaseWrapper, model: type[Model], name: str) -> str:
    """``table.column`` of a concrete field, quoted."""
    q, field = db.ops.quote_name, cast(Field, model._meta.get_field(name))
    return f"{q(model._meta.db_table)}.{q(str(field.column))}"


def _details_query(db: BaseDatabaseWrapper, staff: bool) -> _DetailsQuery:
    """The statement, from quoted names of the models' meta only (the values are parameters)."""
    fields = [f for f in Call._meta.concrete_fields if f.name in DETAIL_FIELDS]
    table, pk = db.ops.quote_name(Call._meta.db_table), _column(db, Call, "id")
    columns = [_column(db, Call, field.name) for field in fields]
    columns.append(_TRUTHY_JSON[db.vendor].format(c=_column(db, Call, "transcript")) + " AS transcript_present")
    other = db.ops.quote_name(CallAnalysis._meta.db_table)
    exists = f"{_column(db, CallAnalysis, 'call')} = {pk}"
    columns.append(" ".join(["EXISTS (SELECT 1 FROM", other, "WHERE", exists + ")", "AS analyses_present"]))
    where = [f"{pk} = %s"] + ([] if staff else [f"{_column(db, Call, 'owner')} = %s"])
    sql = " ".join(["SELECT", ", ".join(columns), "FROM", table, "WHERE", " AND ".join(where)])
    converters = []
    for position, field in enumerate(fields):
        column = field.get_col(Call._meta.db_table)
        if functions := db.ops.get_db_converters(column) + field.get_db_converters(db):
            converters.append((position, column, functions))
    return _DetailsQuery(sql=sql, db=db, attnames=[field.attname for field in fields], converters=converters)


def _prepared_details(staff: bool) -> _DetailsQuery | None:
    key = (DEFAULT_DB_ALIAS, connections.settings[DEFAULT_DB_ALIAS]["ENGINE"], staff)
    if key not in _details_queries:
        db = connections[DEFAULT_DB_ALIAS]
        _details_queries[key] = _details_query(db, staff) if db.vendor in _TRUTHY_JSON else None
    return _details_queries[key]


def _details_params(db: BaseDatabaseWrapper, *, user_id: int, key: Any, staff: bool) -> list[Any]:
    return [Call._meta.pk.get_db_prep_value(key, db)] + ([] if staff else [user_id])


def _details_call(db: BaseDatabaseWrapper, query: _DetailsQuery, row: Sequence[Any] | None, key: Any) -> Call:
    if row is None:
        raise errors.CallNotFound(call_id=str(key))
    values = list(row[:len(query.attnames)])
    for position, column, converters in query.converters:
        for convert in converters:
            values[position] = convert(values[position], column, db)
    call = Call.from_db(db.alias, query.attnames, values)
    call.__dict__.update(transcript_present=bool(row[-2]), analyses_present=bool(row[-1]))
    return call


def call_details_get_for_user(*, user_id: int, call_id: Any, staff: bool = False) -> Call:
    """``call_get_for_user`` for a details view, in one indexed statement: the columns the details show,
    whether the call has a transcript and whether it has analyses (``transcript_present`` and
    ``analyses_present``, which ``presenters.call_details`` reads: a call with no analyses costs no second
    query). The statement and its converters are built once per database, not compiled per read: a
    third of the ORM's CPU per read here."""
    key = _call_key(call_id)
    query = _prepared_details(staff)
    if query is None:
        return call_get_for_user(user_id=user_id, call_id=key, staff=staff)
    db = connections[DEFAULT_DB_ALIAS]
    with db.cursor() as cursor:
        cursor.execute(query.sql, _details_params(db, user_id=user_id, key=key, staff=staff))
        row = cursor.fetchone()
    return _details_call(db, query, row, key)


async def call_details_aget_for_user(*, user_id: int, call_id: Any, staff: bool = False) -> Call | None:
    """``call_details_get_for_user`` run on the event loop (``config.async_db``): the same statement and
    converters, and the same ``CallNotFound``; None when the loop cannot read here (then use the former)."""
    key = _call_key(call_id)
    query = _prepared_details(staff)
    if query is None:
        return None
    row = await async_db.fetchone(query.sql, _details_params(query.db, user_id=user_id, key=key, staff=staff))
    if row is async_db.NOT_AVAILABLE:
        return None
    return _details_call(query.db, query, cast("Sequence[Any] | None", row), key)
