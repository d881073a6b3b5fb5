"""The steps of a data move: open (check everything), dry run, copy, sync, verify, tear down.

``move_open`` reads the mapping, reaches both databases and checks the mapping against them,
running every expression on the source inside a transaction it rolls back: a bad mapping, an
unreachable source or an unready target stops there, before anything is written anywhere.

Callers catch ``MoveError`` (``deploy.dbmove.errors``); its ``code`` tells the cases apart.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from django.apps import apps
from psycopg import sql

from deploy.dbmove import catalog
from deploy.dbmove.copier import CopyOptions, TableResult, server_error, source_count, table_copy
from deploy.dbmove.errors import MoveError, NotCopied, SourceMismatch, TargetNotEmpty, WrongSource
from deploy.dbmove.mapping import Mapping, mapping_load
from deploy.dbmove.plan import TablePlan, plan_build, source_tables_named, target_models
from deploy.dbmove.progress import Progress
from deploy.dbmove.source import (
    capture_install,
    capture_remove,
    helpers_install,
    helpers_installed,
    snapshot_xmin,
    source_connect,
    source_identity,
    url_label,
)
from deploy.dbmove.sync import SyncReport, sync_pass
from deploy.dbmove.target import (
    Checkpoint,
    State,
    checkpoints_read,
    ledger_rebuild,
    sequences_reset,
    state_create,
    state_mark_copied,
    state_read,
    tables_vacuum_analyze,
    target_check_migrated,
    target_connect,
    target_tables_with_rows,
)
from deploy.dbmove.verify import Comparison, balances_compare, table_compare, totals

SAMPLE_ROWS = 100


@dataclass
class Move:
    mapping: Mapping
    source: psycopg.Connection
    target: psycopg.Connection
    plans: list[TablePlan]
    key_types: dict[str, str]
    source_url: str  # with its password: for connections only; messages use source_label

    def select(self, names: list[str] | None) -> list[TablePlan]:
        if not names:
            return list(self.plans)
        wanted = {self.mapping.table(name).name for name in names}
        return [plan for plan in self.plans if plan.name in wanted]

    @property
    def source_label(self) -> str:
        """host/database of the source, for messages (never the password)."""
        return url_label(self.source_url)

    @property
    def accounts(self) -> TablePlan | None:
        if self.mapping.ledger is None:
            return None
        return next((plan for plan in self.plans if plan.model._meta.label == "users.CreditAccount"), None)

    def close(self) -> None:
        self.source.close()
        self.target.close()


def move_open(*, source_url: str, mapping_path: Path | str | None = None) -> Move:
    """Check the mapping, both databases and every source expression; nothing is written."""
    mapping = mapping_load(mapping_path)
    source = source_connect(source_url)
    try:
        target_check_migrated()
        target = target_connect()
    except BaseException:
        source.close()
        raise
    try:
        source_tables = {str(table): catalog.source_table_read(source, table) for table in source_tables_named(mapping)}
        source.rollback()
        target_tables = {model._meta.db_table: catalog.table_read(target, model._meta.db_table)
                         for model in target_models(mapping)}
        target.rollback()
        plans = plan_build(mapping, source_tables=source_tables, target_tables=target_tables,
                           started=datetime.now(tz=UTC))
        key_types = {name: source_tables[str(key.table)].columns[key.column].type  # type: ignore[union-attr]
                     for name, key in mapping.keys.items()}  # (plan_build has checked that these tables exist)
        move = Move(mapping, source, target, plans, key_types, source_url)
        _check_queries(move)
    except BaseException:
        source.close()
        target.close()
        raise
    return move


def _explain(move: Move, where: str, query: sql.Composed, *, run: bool = False) -> None:
    """Run (or only plan) ``query`` on the source; a refusal becomes ``SourceMismatch`` naming ``where``."""
    statement = query if run else sql.SQL("EXPLAIN {}").format(query)
    try:
        with move.source.transaction():  # a savepoint: the checks' rollback stays possible
            move.source.execute(statement).fetchall()
    except psycopg.OperationalError as exc:
        raise MoveError(reason=f"lost the connection to the source {move.source_label}: {server_error(exc)}") from exc
    except psycopg.Error as exc:  # the savepoint is rolled back: the checks' transaction goes on
        raise SourceMismatch(path=move.mapping.path, where=where,
                             problem=f"the source rejects it: {server_error(exc)}") from exc


def _check_plan(move: Move, plan: TablePlan) -> None:
    if plan.entry.joins:
        _explain(move, f"{plan.entry.where}.joins", sql.SQL("SELECT 1 {}").format(plan.from_clause()))
    if plan.entry.filter:
        _explain(move, f"{plan.entry.where}.where", plan.select(columns=sql.SQL("1")))
    for column in plan.columns:
        _explain(move, column.where, plan.select(columns=column.expr))
    sample = sql.SQL("{} LIMIT {}").format(plan.select(), sql.Literal(SAMPLE_ROWS))
    try:
        _explain(move, plan.entry.where, sample, run=True)
    except SourceMismatch:
        for column in plan.columns:  # name the column whose values the source cannot convert
            _explain(move, column.where, sql.SQL("{} LIMIT {}").format(plan.select(columns=column.expr),
                                                                        sql.Literal(SAMPLE_ROWS)), run=True)
        raise


def _check_queries(move: Move) -> None:
    """Every expression of the mapping, planned (and a sample of rows converted) on the source, with the
    helper schema created for the occasion if it is missing, in a transaction that is rolled back."""
    move.source.rollback()
    try:
        if not helpers_installed(move.source):
            helpers_install(move.source, list(move.mapping.keys.values()), move.key_types)
        for key in move.mapping.keys.values():
            _explain(move, f"keys.{key.name}.order_by", sql.SQL("SELECT 1 FROM {} ORDER BY {}").format(
                sql.Identifier(key.table.schema, key.table.name), sql.SQL(key.order_by)))
        for plan in move.plans:
            _check_plan(move, plan)
    finally:
        move.source.rollback()


# --- dry run -------------------------------------------------------------------------------------------


@dataclass
class DryRun:
    plans: list[TablePlan]
    source_rows: dict[str, int]
    state: State | None
    checkpoints: dict[str, Checkpoint]
    to_install: list[str]


def move_dry_run(move: Move, *, tables: list[str] | None = None) -> DryRun:
    """What a copy would do: raises what the copy would raise, writes nothing."""
    state = _state_or_empty(move)
    selected = move.select(tables)
    to_install = []
    if not helpers_installed(move.source):
        to_install.append("schema callmcp_move (change table, ids handed out for source keys)")
        to_install += [f"key table and trigger on {key.table} ({key.column})" for key in move.mapping.keys.values()]
        captured = sorted({f"{table} ({column})" for plan in move.plans for table, column in plan.captured})
        to_install += [f"change-capture triggers on {name}" for name in captured]
    return DryRun(selected, {plan.name: source_count(move.source, plan) for plan in selected}, state,
                  checkpoints_read(move.target, state) if state else {}, to_install)


def _state_or_empty(move: Move) -> State | None:
    """The recorded copy from this source, or None when the target is empty; raises otherwise."""
    state = state_read(move.target)
    if state is None:
        if busy := target_tables_with_rows(move.target):
            raise TargetNotEmpty(tables=", ".join(busy))
        return None
    _same_source(move, state)
    return state


def _same_source(move: Move, state: State) -> None:
    if not helpers_installed(move.source):
        raise WrongSource(reason=f"this target holds a copy from {state.source_label}, but {move.source_label} "
                                 "has no callmcp_move schema: it is another database, or its schema was removed "
                                 "(--teardown-source)")
    if source_identity(move.source) != state.source_id:
        raise WrongSource(reason=f"this target holds a copy from another source ({state.source_label}); "
                                 f"{move.source_label} is not it")


# --- copy ----------------------------------------------------------------------------------------------


@dataclass
class CopyReport:
    tables: list[TableResult] = field(default_factory=list)
    finished: bool = False
    ledger_entries: int = 0
    seconds: float = 0.0


def move_copy(move: Move, *, tables: list[str] | None = None, options: CopyOptions | None = None,
              progress: Progress | None = None) -> CopyReport:
    """Copy (or resume copying) the selected entries; when every entry is done, rebuild the ledger,
    reset the sequences and mark the copy finished. Raises ``CopyFailed`` naming the batch."""
    started = time.monotonic()
    state = _state_or_empty(move)
    selected = move.select(tables)
    if state is None:
        _dependencies_selected(selected, {})
        capture_install(move.source, move.plans, list(move.mapping.keys.values()), move.key_types)
        xmin = snapshot_xmin(move.source)
        move.source.rollback()
        state = state_create(move.target, source_id=source_identity(move.source), source_label=move.source_label,
                             mapping_path=move.mapping.path, change_xmin=xmin)
    checkpoints = checkpoints_read(move.target, state)
    _dependencies_selected(selected, checkpoints)
    report = CopyReport()
    for plan in selected:
        report.tables.append(table_copy(move.source, move.target, plan, state, checkpoints.get(plan.name, Checkpoint()),
                                        progress or Progress(enabled=False), options or CopyOptions()))
    checkpoints = checkpoints_read(move.target, state)
    report.finished = all(checkpoints.get(plan.name, Checkpoint()).done for plan in move.plans)
    if report.finished and state.copied_at is None:
        if move.accounts is not None and move.mapping.ledger is not None:
            report.ledger_entries = ledger_rebuild(move.target, move.mapping.ledger)
        sequences_reset(move.target, [plan.model for plan in move.plans])
        state_mark_copied(move.target, state)
        move.target.commit()
        analyzed = [plan.model for plan in move.plans]
        if report.ledger_entries:  # the rebuilt ledger too: the balance check's plan depends on its statistics
            analyzed.append(apps.get_model("users", "CreditLedgerEntry"))
        tables_vacuum_analyze(move.target, analyzed)
    report.seconds = time.monotonic() - started
    return report


def _dependencies_selected(selected: list[TablePlan], checkpoints: dict[str, Checkpoint]) -> None:
    names = {plan.name for plan in selected}
    for plan in selected:
        for needed in plan.depends_on:
            if needed not in names and not checkpoints.get(needed, Checkpoint()).done:
                raise NotCopied(reason=f"{plan.name} refers to {needed}, which is not copied yet: copy it first, "
                                       f"or both together (--tables {needed} {plan.name})")


# --- sync and verify -----------------------------------------------------------------------------------


def move_sync(move: Move) -> SyncReport:
    """One pass of changes since the last one (or since the copy started)."""
    state = state_read(move.target)
    if state is None or state.copied_at is None:
        raise NotCopied(reason="no finished copy is recorded on this target: run the copy first (an interrupted "
                               "copy resumes where it stopped)")
    _same_source(move, state)
    return sync_pass(move.source, move.target, move.plans, state, move.mapping.ledger)


@dataclass
class VerifyReport:
    tables: list[Comparison] = field(default_factory=list)
    balances: Comparison | None = None
    drifted_accounts: list[str] = field(default_factory=list)
    source_total: int | None = None
    ledger_total: int | None = None
    seconds: float = 0.0

    @property
    def differences(self) -> int:
        found = sum(table.difference.count + (0 if table.clean else 1) for table in self.tables)
        if self.balances is not None:
            found += self.balances.difference.count + len(self.drifted_accounts)
            found += int(self.source_total != self.ledger_total)
        return found

    @property
    def rows(self) -> int:
        return sum(max(table.source_rows, table.target_rows) for table in self.tables)


def move_verify(move: Move, *, tables: list[str] | None = None, chunk_rows: int | None = None) -> VerifyReport:
    """Compare every selected entry (and the credit balances) between source and target."""
    if move.mapping.keys and not helpers_installed(move.source):
        raise NotCopied(reason=f"{move.source_label} has no callmcp_move schema (where the ids handed out for its "
                               "keys live): nothing has been copied from it yet")
    for conn, side in ((move.source, "source"), (move.target, "target")):
        if conn.info.server_version < 140000:
            raise MoveError(reason=f"--verify needs PostgreSQL 14 or later on the {side} (hash_record_extended)")
    started = time.monotonic()
    report = VerifyReport()
    options = {"chunk_rows": chunk_rows} if chunk_rows else {}
    selected = move.select(tables)
    report.tables = _compare_tables(move, selected, options)
    accounts = move.accounts
    if accounts is not None and accounts in selected:
        report.balances, report.drifted_accounts = balances_compare(move.source, move.target, accounts, **options)
        report.source_total, report.ledger_total = totals(move.source, move.target, accounts)
    report.seconds = time.monotonic() - started
    return report


def _compare_tables(move: Move, selected: list[TablePlan], options: dict[str, int]) -> list[Comparison]:
    """``table_compare`` of each table, two tables at a time (the second on connections of its own), in the
    order given: while one table's key bounds are read (one backend) or one side finishes first, the other
    table keeps the second core busy (a tenth of a million calls' verify here)."""
    if len(selected) < 2:
        return [table_compare(move.source, move.target, plan, **options) for plan in selected]
    pending = list(reversed(selected))
    results: dict[str, Comparison] = {}
    lock = threading.Lock()

    def worker(source: psycopg.Connection, target: psycopg.Connection) -> None:
        while True:
            with lock:
                if not pending:
                    return
                plan = pending.pop()
            results[plan.name] = table_compare(source, target, plan, **options)

    with source_connect(move.source_url) as source, target_connect() as target, \
            ThreadPoolExecutor(max_workers=1) as pool:
        second = pool.submit(worker, source, target)
        worker(move.source, move.target)
        second.result()
    return [results[plan.name] for plan in selected]


def move_teardown_source(move: Move) -> list[str]:
    """Remove the triggers and the callmcp_move schema from the source (after sign-off)."""
    return capture_remove(move.source)
