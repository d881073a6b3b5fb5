"""The full copy of one mapping entry: source key order, batches, COPY on both sides.

Each batch is a key range: its upper bound is found on the source's key index, its rows leave the
source through ``COPY (SELECT ...) TO STDOUT`` already shaped and cast as the target's, and enter
the target through ``COPY ... FROM STDIN`` in the same binary format, streamed without being parsed
here. The batch and its checkpoint commit together, so a killed run resumes after the last whole
batch: no duplicate, no gap.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from deploy.dbmove.errors import CopyFailed
from deploy.dbmove.plan import TablePlan
from deploy.dbmove.progress import Progress
from deploy.dbmove.target import Checkpoint, State, checkpoint_save, indexes_defer, indexes_restore


@dataclass
class TableResult:
    name: str
    source: str
    rows: int = 0
    total: int = 0
    seconds: float = 0.0
    batches: int = 0
    resumed_from: int | None = None
    skipped: bool = False

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def server_error(exc: psycopg.Error) -> str:
    diag = exc.diag
    parts = [diag.message_primary or str(exc).strip()]
    if diag.column_name:
        parts.append(f"column {diag.column_name}")
    if diag.constraint_name:
        parts.append(f"constraint {diag.constraint_name}")
    if diag.message_detail:
        parts.append(diag.message_detail)
    return "; ".join(parts)


def relay(source: psycopg.Connection, target: psycopg.Connection, select: sql.Composable,
          into: sql.Composable) -> int:
    """Stream the rows of ``select`` on the source into ``into`` on the target; returns the row count.

    Binary COPY on both sides: every value is already of the target column's type."""
    with target.cursor() as writer, source.cursor() as reader:
        with reader.copy(sql.SQL("COPY ({}) TO STDOUT (FORMAT binary)").format(select)) as out, \
                writer.copy(sql.SQL("COPY {} FROM STDIN (FORMAT binary)").format(into)) as copy_in:
            for data in out:
                copy_in.write(data)
        return max(writer.rowcount, 0)


def source_count(source: psycopg.Connection, plan: TablePlan) -> int:
    """The rows the entry will copy (for the progress bar's total and the dry run)."""
    query = plan.select(columns=sql.SQL("count(*)")) if plan.entry.filter else sql.SQL(
        "SELECT count(*) FROM {} AS s").format(sql.Identifier(plan.entry.source.schema, plan.entry.source.name))
    row = source.execute(query).fetchone()
    source.rollback()
    return int(row[0]) if row else 0


def _upper_bound(source: psycopg.Connection, plan: TablePlan, last: str | None, batch_size: int) -> str | None:
    """The key ending the next batch of ``batch_size`` source rows, or None when fewer remain."""
    after = sql.SQL("WHERE s.{} > {}").format(sql.Identifier(plan.source_key), plan.key_value(last)) \
        if last is not None else sql.SQL("")
    row = source.execute(sql.SQL("SELECT s.{key}::text FROM {table} AS s {after} ORDER BY s.{key} "
                                 "OFFSET {skip} LIMIT 1").format(
        key=sql.Identifier(plan.source_key), table=sql.Identifier(plan.entry.source.schema, plan.entry.source.name),
        after=after, skip=sql.Literal(batch_size - 1))).fetchone()
    return str(row[0]) if row else None


def _range(plan: TablePlan, last: str | None, upper: str | None) -> sql.Composable | None:
    key = plan.key_ref()
    bounds = []
    if last is not None:
        bounds.append(sql.SQL("{} > {}").format(key, plan.key_value(last)))
    if upper is not None:
        bounds.append(sql.SQL("{} <= {}").format(key, plan.key_value(upper)))
    return sql.SQL(" AND ").join(bounds) if bounds else None


@dataclass
class CopyOptions:
    batch_size: int = 20_000
    max_rows_per_second: int | None = None
    defer_indexes: bool = True
    sleep: Callable[[float], None] = time.sleep


def table_copy(source: psycopg.Connection, target: psycopg.Connection, plan: TablePlan, state: State,
               checkpoint: Checkpoint, progress: Progress, options: CopyOptions) -> TableResult:
    """Copy the rows of ``plan`` after its checkpoint. Raises ``CopyFailed`` naming the batch's key range;
    what was committed before stays and the next run resumes there."""
    resumed_from = checkpoint.rows if checkpoint.batches else None
    result = TableResult(plan.name, str(plan.entry.source), resumed_from=resumed_from)
    if checkpoint.done:
        result.skipped, result.total = True, checkpoint.rows
        return result
    total = source_count(source, plan)
    into = sql.SQL("{} ({})").format(sql.Identifier(plan.table), plan.target_columns())
    started = time.monotonic()
    if not checkpoint.batches and options.defer_indexes:  # (again after a crash here: finds none, keeps the list)
        checkpoint.deferred_indexes = checkpoint.deferred_indexes + indexes_defer(target, plan.table)
        checkpoint_save(target, state, plan.name, checkpoint)
        target.commit()
    with progress.bar(plan.name, total=total, initial=checkpoint.rows) as bar:
        while not checkpoint.done:
            batch_started, last = time.monotonic(), checkpoint.last_key
            upper = _upper_bound(source, plan, last, options.batch_size)
            try:
                copied = relay(source, target, plan.select(_range(plan, last, upper)), into)
                checkpoint = Checkpoint(upper or checkpoint.last_key, checkpoint.rows + copied,
                                        checkpoint.batches + 1, upper is None, checkpoint.deferred_indexes)
                if checkpoint.done:  # the last batch: indexes rebuilt and statistics taken in its transaction
                    indexes_restore(target, checkpoint.deferred_indexes)
                    checkpoint.deferred_indexes = []
                    target.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(plan.table)))
                checkpoint_save(target, state, plan.name, checkpoint)
                target.commit()
            except psycopg.Error as exc:
                target.rollback()
                source.rollback()
                where = f"after key {last}" if last else "from the first key"
                raise CopyFailed(entry=plan.name, stage=f"the batch {where} up to {upper or 'the end'}",
                                 detail=server_error(exc),
                                 hint="fix the mapping or the source rows, then run again: the copy resumes "
                                      "at this batch") from exc
            source.rollback()
            result.rows += copied
            result.batches += 1
            bar.update(copied)
            _throttle(options, copied, time.monotonic() - batch_started)
    result.seconds = time.monotonic() - started
    result.total = checkpoint.rows
    return result


def _throttle(options: CopyOptions, rows: int, seconds: float) -> None:
    """Keep the load on the source under --max-rows-per-second."""
    if options.max_rows_per_second and rows:
        wanted = rows / options.max_rows_per_second
        if wanted > seconds:
            options.sleep(wanted - seconds)
