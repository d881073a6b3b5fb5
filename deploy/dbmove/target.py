"""The target database (the one Django points at): readiness checks, the move's state and
checkpoints, sequences, and the credit ledger rebuilt from the copied balances.

Rows move over a plain psycopg connection of its own, so a batch and its checkpoint commit together
whatever Django's connection is doing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from django.apps import apps
from django.core.management.color import no_style
from django.db import connection as django_connection
from django.db import models
from django.db.migrations.executor import MigrationExecutor
from psycopg import sql
from psycopg.types.json import Jsonb

from deploy.dbmove.errors import TargetNotMigrated
from deploy.dbmove.mapping import LedgerSpec

# Tables `migrate` fills by itself, and the move's own bookkeeping: they may hold rows in an "empty" target.
NOT_DATA = {"contenttypes.contenttype", "auth.permission", "dbmove.movestate", "dbmove.movecheckpoint"}


def target_connect() -> psycopg.Connection:
    params = django_connection.get_connection_params()
    for django_only in ("context", "cursor_factory", "prepare_threshold", "server_side_binding"):
        params.pop(django_only, None)
    conn = psycopg.connect(**params, application_name="callmcp-dbmove")
    conn.execute("SET TimeZone = 'UTC'")
    conn.commit()
    return conn


def target_label() -> str:
    settings = django_connection.settings_dict
    return f"{settings.get('HOST') or 'localhost'}:{settings.get('PORT') or 5432}/{settings.get('NAME')}"


def target_check_migrated() -> None:
    """Raises ``TargetNotMigrated`` naming the migrations still to apply."""
    if django_connection.vendor != "postgresql":
        raise TargetNotMigrated(pending=f"the target is {django_connection.vendor}, not PostgreSQL")
    executor = MigrationExecutor(django_connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        names = [f"{migration.app_label}.{migration.name}" for migration, _ in pending]
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        raise TargetNotMigrated(pending=shown)


def target_tables_with_rows(conn: psycopg.Connection) -> list[str]:
    """Tables of the application's models that hold at least one row."""
    found = []
    for model in apps.get_models():
        if model._meta.label_lower in NOT_DATA or model._meta.proxy or not model._meta.managed:
            continue
        row = conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(
            sql.Identifier(model._meta.db_table))).fetchone()
        if row and row[0]:
            found.append(model._meta.db_table)
    conn.rollback()
    return found


@dataclass
class State:
    id: int
    source_id: str
    source_label: str
    copied_at: datetime | None
    change_xmin: str
    synced_at: datetime | None
    sync_snapshot_at: datetime | None


@dataclass
class Checkpoint:
    last_key: str | None = None
    rows: int = 0
    batches: int = 0
    done: bool = False
    deferred_indexes: list[list[str]] = field(default_factory=list)


def state_read(conn: psycopg.Connection) -> State | None:
    row = conn.execute("SELECT id, source_id::text, source_label, copied_at, change_xmin, synced_at, "
                       "sync_snapshot_at FROM dbmove_state ORDER BY id LIMIT 1").fetchone()
    conn.rollback()
    return State(*row) if row else None


def state_create(conn: psycopg.Connection, *, source_id: str, source_label: str, mapping_path: str,
                 change_xmin: str) -> State:
    conn.execute("INSERT INTO dbmove_state (source_id, source_label, mapping_path, started_at, change_xmin) "
                 "VALUES (%s, %s, %s, now(), %s)", (source_id, source_label, mapping_path[-500:], change_xmin))
    conn.commit()
    state = state_read(conn)
    assert state is not None  # noqa: S101 - just written
    return state


def state_mark_copied(conn: psycopg.Connection, state: State) -> None:
    conn.execute("UPDATE dbmove_state SET copied_at = now() WHERE id = %s AND copied_at IS NULL", (state.id,))


def state_mark_synced(conn: psycopg.Connection, state: State, *, change_xmin: str, snapshot_at: datetime) -> None:
    conn.execute("UPDATE dbmove_state SET change_xmin = %s, synced_at = now(), sync_snapshot_at = %s WHERE id = %s",
                 (change_xmin, snapshot_at, state.id))


def checkpoints_read(conn: psycopg.Connection, state: State) -> dict[str, Checkpoint]:
    rows = conn.execute("SELECT entry, last_key, rows, batches, done, deferred_indexes FROM dbmove_checkpoint "
                        "WHERE state_id = %s", (state.id,)).fetchall()
    conn.rollback()
    return {row[0]: Checkpoint(*row[1:]) for row in rows}


def checkpoint_save(conn: psycopg.Connection, state: State, entry: str, checkpoint: Checkpoint) -> None:
    """Inside the caller's transaction: the batch and its checkpoint commit together."""
    conn.execute(
        """INSERT INTO dbmove_checkpoint (state_id, entry, last_key, rows, batches, done, deferred_indexes, updated_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, now())
           ON CONFLICT (state_id, entry) DO UPDATE SET last_key = EXCLUDED.last_key, rows = EXCLUDED.rows,
               batches = EXCLUDED.batches, done = EXCLUDED.done, deferred_indexes = EXCLUDED.deferred_indexes,
               updated_at = EXCLUDED.updated_at""",
        (state.id, entry, checkpoint.last_key, checkpoint.rows, checkpoint.batches, checkpoint.done,
         Jsonb(checkpoint.deferred_indexes)),
    )


SECONDARY_INDEXES = """
SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.indrelid = to_regclass(%s) AND NOT i.indisunique AND NOT i.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
ORDER BY c.relname
"""


def indexes_defer(conn: psycopg.Connection, table: str) -> list[list[str]]:
    """Drop the table's plain secondary indexes (unique ones stay, they guard the data) and return their
    definitions; inside the caller's transaction, which records them in the checkpoint. Building an
    index once after the load is cheaper than keeping it up to date row by row, as pg_restore knows."""
    found = [[name, definition] for name, definition in conn.execute(SECONDARY_INDEXES, (f'"{table}"',)).fetchall()]
    for name, _ in found:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.SQL(name)))
    return found


def indexes_restore(conn: psycopg.Connection, deferred: list[list[str]]) -> None:
    """Rebuild the indexes ``indexes_defer`` dropped, from their own definitions."""
    if not deferred:
        return
    conn.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the batch's deferred foreign-key checks, now: then an index
    conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
    for _, definition in deferred:
        conn.execute(definition.encode())


def sequences_reset(conn: psycopg.Connection, model_list: list[type[models.Model]]) -> None:
    """Each serial id continues after the largest id copied (Django's own reset statements)."""
    for statement in django_connection.ops.sequence_reset_sql(no_style(), model_list):
        conn.execute(statement.encode())


def tables_vacuum_analyze(conn: psycopg.Connection, model_list: list[type[models.Model]]) -> None:
    """VACUUM (ANALYZE) each copied table: a freshly filled table has no visibility map or statistics, so
    the verification's key scans would visit every heap page and the planner would guess."""
    conn.commit()
    conn.autocommit = True  # VACUUM cannot run inside a transaction block
    try:
        for model in model_list:
            conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(model._meta.db_table)))
    finally:
        conn.autocommit = False


def _ledger_tables() -> tuple[sql.Identifier, sql.Identifier]:
    account = apps.get_model("users", "CreditAccount")
    entry = apps.get_model("users", "CreditLedgerEntry")
    return sql.Identifier(account._meta.db_table), sql.Identifier(entry._meta.db_table)


LEDGER_REBUILD = """
WITH sums AS (
    SELECT account_id, sum(amount) AS amount, sum(reserved_delta) AS reserved FROM {entries} GROUP BY account_id
)
INSERT INTO {entries} (account_id, kind, amount, reserved_delta, spent, balance_after, reserved_after, reference,
                       memo, created_by_id, created_at)
SELECT a.id, CASE WHEN a.balance >= coalesce(s.amount, 0) THEN 'grant' ELSE 'settle' END,
       a.balance - coalesce(s.amount, 0), a.reserved - coalesce(s.reserved, 0),
       greatest(coalesce(s.amount, 0) - a.balance, 0), a.balance, a.reserved, {reference}, {memo}, NULL, now()
FROM {accounts} a LEFT JOIN sums s ON s.account_id = a.id
WHERE a.balance <> coalesce(s.amount, 0) OR a.reserved <> coalesce(s.reserved, 0)
"""


def ledger_rebuild(conn: psycopg.Connection, spec: LedgerSpec) -> int:
    """Append one entry per account whose ledger does not sum to its balance (a grant when the balance
    is higher, a settle of what was spent when it is lower). Idempotent; returns the entries written."""
    accounts, entries = _ledger_tables()
    cursor = conn.execute(sql.SQL(LEDGER_REBUILD).format(
        accounts=accounts, entries=entries, reference=sql.Literal(spec.reference[:100]),
        memo=sql.Literal(spec.memo[:255])))
    return cursor.rowcount


def ledger_forget(conn: psycopg.Connection, account_ids: sql.Composable) -> int:
    """Before accounts deleted on the source go: the ledger entries this tool wrote for them."""
    _, entries = _ledger_tables()
    cursor = conn.execute(sql.SQL("DELETE FROM {} WHERE account_id IN ({})").format(entries, account_ids))
    return cursor.rowcount
