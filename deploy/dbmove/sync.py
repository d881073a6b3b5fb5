"""Live sync for the transition: apply what changed on the source since the last pass.

What changed comes from the change table the triggers feed (``source.CAPTURE_FUNCTION``), not from
``updated_at``: a row whose writer forgot the timestamp, a delete, or a key an update replaced are
all seen. The watermark is a transaction id, the oldest one still running when the last pass took its
snapshot: a transaction older than that had committed (or rolled back) before, so its changes were in
that snapshot; everything from the watermark on is read again, which the idempotent upserts make
harmless. A transaction that commits late is never skipped, as it would be with a timestamp.

One pass is one REPEATABLE READ snapshot on the source and one transaction on the target: the
changed rows are staged with COPY and upserted, rows whose key is gone from the source (or left the
entry's filter) are deleted, the ledger and sequences follow, and the watermark moves, all or nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg import sql

from deploy.dbmove.copier import relay, server_error
from deploy.dbmove.errors import CopyFailed, NotCopied
from deploy.dbmove.mapping import LedgerSpec
from deploy.dbmove.plan import TablePlan
from deploy.dbmove.source import CHANGES, snapshot_xmin
from deploy.dbmove.target import State, ledger_forget, ledger_rebuild, sequences_reset, state_mark_synced


@dataclass
class SyncTable:
    name: str
    read: int = 0  # source rows of keys that changed
    written: int = 0  # of them, rows inserted or updated (unchanged rows are left alone)
    deleted: int = 0


@dataclass
class SyncReport:
    tables: list[SyncTable] = field(default_factory=list)
    ledger_entries: int = 0
    watermark: str = ""
    snapshot_at: datetime | None = None
    lag_seconds: float = 0.0
    pending_changes: int = 0
    seconds: float = 0.0


def _captured(plan: TablePlan) -> sql.Composable:
    return sql.SQL(", ").join(sql.SQL("({}, {})").format(sql.Literal(str(table)), sql.Literal(column))
                              for table, column in plan.captured)


def changed_keys(plan: TablePlan, xmin: str) -> sql.Composed:
    """Source keys of this entry touched by transactions from ``xmin`` on."""
    return sql.SQL("SELECT DISTINCT CAST(row_key AS {type}) AS k FROM {changes} WHERE (table_name, key_column) IN "
                   "({captured}) AND xid >= CAST({xmin} AS xid8) AND op <> 'T'").format(
        type=sql.SQL(plan.source_key_type), changes=CHANGES, captured=_captured(plan), xmin=sql.Literal(xmin))


def _truncated(source: psycopg.Connection, plans: list[TablePlan], xmin: str) -> None:
    for plan in plans:
        row = source.execute(sql.SQL("SELECT table_name, changed_at FROM {} WHERE (table_name, key_column) IN ({}) "
                                     "AND xid >= CAST({} AS xid8) AND op = 'T' LIMIT 1").format(
            CHANGES, _captured(plan), sql.Literal(xmin))).fetchone()
        if row:
            raise NotCopied(reason=f"{row[0]} was truncated on the source at {row[1]:%Y-%m-%d %H:%M:%S} UTC; a sync "
                                   f"cannot tell which rows went. Copy again into an empty target.")


def _stage(target: psycopg.Connection, name: str, plan: TablePlan, columns: sql.Composable) -> sql.Identifier:
    stage = sql.Identifier(name)
    target.execute(sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
        stage, columns, sql.Identifier(plan.table)))
    return stage


def _upsert(target: psycopg.Connection, plan: TablePlan, stage: sql.Identifier) -> int:
    table = sql.Identifier(plan.table)
    names = [column.name for column in plan.columns if column.name != plan.pk]
    compared = [column.name for column in plan.columns if column.name != plan.pk and column.stable] or names
    if not names:  # nothing but the key: present or not
        return max(target.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT DO NOTHING").format(
            table, plan.target_columns(), plan.target_columns(), stage)).rowcount, 0)
    statement = sql.SQL("INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage} ON CONFLICT ({pk}) "
                        "DO UPDATE SET {sets} WHERE ({old}) IS DISTINCT FROM ({new})").format(
        table=table, columns=plan.target_columns(), stage=stage, pk=sql.Identifier(plan.pk),
        sets=sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(name)) for name in names),
        old=sql.SQL(", ").join(sql.Identifier(plan.table, name) for name in compared),
        new=sql.SQL(", ").join(sql.Identifier("excluded", name) for name in compared))
    return max(target.execute(statement).rowcount, 0)


def _gone(plan: TablePlan, xmin: str) -> sql.Composed:
    """Target pks of changed keys the entry no longer has on the source."""
    still_there = plan.select(sql.SQL("{} = callmcp_changed.k").format(plan.key_ref()), columns=sql.SQL("1"))
    pk = sql.SQL("CAST({} AS {})").format(plan.pk_for_key(sql.SQL("callmcp_changed.k")), sql.SQL(plan.pk_type))
    return sql.SQL("SELECT pk FROM (SELECT {pk} AS pk FROM ({changed}) AS callmcp_changed WHERE NOT EXISTS ({still})) "
                   "AS gone WHERE pk IS NOT NULL").format(pk=pk, changed=changed_keys(plan, xmin), still=still_there)


def _apply(source: psycopg.Connection, target: psycopg.Connection, plans: list[TablePlan], xmin: str,
           ledger: LedgerSpec | None) -> tuple[list[SyncTable], int]:
    """Deletes first, children before parents (a departed row frees its unique values), then upserts,
    parents before children. The two sets of keys are apart: gone from the source, or still there."""
    results = {plan.name: SyncTable(plan.name) for plan in plans}
    for index, plan in reversed(list(enumerate(plans))):
        gone = _stage(target, f"callmcp_gone_{index}", plan, sql.Identifier(plan.pk))
        relay(source, target, _gone(plan, xmin), gone)
        pks = sql.SQL("SELECT {} FROM {}").format(sql.Identifier(plan.pk), gone)
        if ledger and plan.model._meta.label == "users.CreditAccount":
            ledger_forget(target, pks)
        results[plan.name].deleted = max(target.execute(sql.SQL("DELETE FROM {} WHERE {} IN ({})").format(
            sql.Identifier(plan.table), sql.Identifier(plan.pk), pks)).rowcount, 0)
    for index, plan in enumerate(plans):
        stage = _stage(target, f"callmcp_sync_{index}", plan, plan.target_columns())
        changed = sql.SQL("{} IN (SELECT k FROM ({}) AS callmcp_changed)").format(plan.key_ref(),
                                                                                  changed_keys(plan, xmin))
        results[plan.name].read = relay(source, target, plan.select(changed), stage)
        results[plan.name].written = _upsert(target, plan, stage)
    entries = ledger_rebuild(target, ledger) if ledger and any(
        plan.model._meta.label == "users.CreditAccount" for plan in plans) else 0
    return list(results.values()), entries


def _one(conn: psycopg.Connection, query: str) -> datetime:
    row = conn.execute(query).fetchone()
    assert row is not None  # noqa: S101 - a SELECT of one value
    return row[0]


def sync_pass(source: psycopg.Connection, target: psycopg.Connection, plans: list[TablePlan], state: State,
              ledger: LedgerSpec | None) -> SyncReport:
    """Apply the changes recorded since ``state.change_xmin``. Raises ``CopyFailed`` (nothing applied)."""
    started = time.monotonic()
    report = SyncReport()
    source.rollback()
    source.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    source.read_only = True
    try:
        report.watermark = snapshot_xmin(source)
        snapshot_at = _one(source, "SELECT now()")
        report.snapshot_at = snapshot_at
        _truncated(source, plans, state.change_xmin)
        report.tables, report.ledger_entries = _apply(source, target, plans, state.change_xmin, ledger)
        sequences_reset(target, [plan.model for plan in plans])
        state_mark_synced(target, state, change_xmin=report.watermark, snapshot_at=snapshot_at)
        target.commit()
    except psycopg.Error as exc:
        target.rollback()
        raise CopyFailed(entry="sync", stage="applying the changes", detail=server_error(exc),
                         hint="nothing of this pass was applied; fix the cause and run --sync again") from exc
    finally:
        source.rollback()
        source.isolation_level = None
        source.read_only = None
    row = source.execute(sql.SQL("SELECT clock_timestamp(), (SELECT count(*) FROM {} WHERE xid >= CAST(%s AS xid8) "
                                 "AND changed_at > %s)").format(CHANGES), (report.watermark, report.snapshot_at)
                         ).fetchone()
    source.rollback()
    if row and report.snapshot_at:
        report.lag_seconds = (row[0] - report.snapshot_at).total_seconds()
        report.pending_changes = int(row[1])
    report.seconds = time.monotonic() - started
    return report
