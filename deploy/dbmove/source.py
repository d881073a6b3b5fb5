"""The source database: connecting to it, and the small ``callmcp_move`` schema the tool keeps there.

That schema holds the integer ids handed out for UUID keys (``key_*`` tables), the change table that
triggers on every mapped source table feed (inserts, updates, deletes and truncates, each with the
id of the transaction that made it), and the source's identity. ``--teardown-source`` removes it all.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from deploy.dbmove.errors import MoveError, SourceUnreachable
from deploy.dbmove.mapping import KeySpec, SourceTable
from deploy.dbmove.plan import HELPER_SCHEMA, KEY_ID, KEY_SOURCE, TablePlan, key_table, source_ident

CONNECT_TIMEOUT_SECONDS = 10
LOCK_TIMEOUT = "10s"  # installing a trigger waits for writers of that table; never block them for long
CHANGES = sql.Identifier(HELPER_SCHEMA, "changes")

HELPERS = sql.SQL("""
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.installation (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    installed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO {schema}.installation DEFAULT VALUES ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS {schema}.changes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_name text NOT NULL,
    key_column text NOT NULL,
    row_key text NOT NULL,
    op "char" NOT NULL,
    xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    changed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS changes_by_table ON {schema}.changes (table_name, key_column, xid);
""")

# One function per (table, key column): it records the key of every row written, the old key too
# when an update changes it, and a truncate as such. Written in SQL so the cost per row stays small.
CAPTURE_FUNCTION = """
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $capture$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO {changes} (table_name, key_column, row_key, op) VALUES ({table}, {column}, '*', 'T');
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' AND OLD.{key} IS NOT NULL THEN
        INSERT INTO {changes} (table_name, key_column, row_key, op)
        VALUES ({table}, {column}, OLD.{key}::text, left(TG_OP, 1));
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.{key} IS NOT NULL
       AND (TG_OP = 'INSERT' OR OLD.{key} IS DISTINCT FROM NEW.{key}) THEN
        INSERT INTO {changes} (table_name, key_column, row_key, op)
        VALUES ({table}, {column}, NEW.{key}::text, left(TG_OP, 1));
    END IF;
    RETURN NULL;
END
$capture$;
DROP TRIGGER IF EXISTS {trigger} ON {source};
CREATE TRIGGER {trigger} AFTER INSERT OR UPDATE OR DELETE ON {source}
    FOR EACH ROW EXECUTE FUNCTION {function}();
DROP TRIGGER IF EXISTS {truncate_trigger} ON {source};
CREATE TRIGGER {truncate_trigger} AFTER TRUNCATE ON {source} FOR EACH STATEMENT EXECUTE FUNCTION {function}();
"""

# Keys are handed out by a trigger as rows arrive, so no row is ever without its integer id.
KEY_FUNCTION = """
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $keys$
BEGIN
    INSERT INTO {keys} ({source_key}) VALUES (NEW.{column}) ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$keys$;
DROP TRIGGER IF EXISTS {trigger} ON {source};
CREATE TRIGGER {trigger} AFTER INSERT OR UPDATE OF {column} ON {source}
    FOR EACH ROW EXECUTE FUNCTION {function}();
"""


def url_label(url: str) -> str:
    """host:port/database of a URL, without the credentials, for messages and logs."""
    parts = urlsplit(url)
    if not parts.hostname:
        return re.sub(r"password=\S+", "password=***", url)
    return f"{parts.hostname}:{parts.port or 5432}{parts.path}"


def source_connect(url: str) -> psycopg.Connection:
    """A connection to the source in UTC; raises ``SourceUnreachable`` with the reason."""
    try:
        conn = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS, application_name="callmcp-dbmove")
    except (psycopg.OperationalError, psycopg.ProgrammingError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise SourceUnreachable(url=url_label(url), reason=reason) from exc
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute("SET statement_timeout = 0")
    conn.commit()
    return conn


def _name(*parts: str) -> str:
    return "_".join(re.sub(r"\W", "_", part) for part in parts)[:60]


def helpers_install(conn: psycopg.Connection, keys: list[KeySpec], key_types: dict[str, str]) -> None:
    """The schema, the change table and the key tables (no triggers, no rows): inside the caller's
    transaction, so a dry run can create them to check its queries and roll them back."""
    conn.execute(HELPERS.format(schema=sql.Identifier(HELPER_SCHEMA)))
    for key in keys:
        conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} ({} {} PRIMARY KEY, {} bigint GENERATED ALWAYS AS "
                             "IDENTITY UNIQUE)").format(key_table(key), sql.Identifier(KEY_SOURCE),
                                                        sql.SQL(key_types[key.name]), sql.Identifier(KEY_ID)))


def helpers_installed(conn: psycopg.Connection) -> bool:
    found = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{HELPER_SCHEMA}.installation",)).fetchone()
    conn.rollback()
    return bool(found and found[0])


def source_identity(conn: psycopg.Connection) -> str:
    row = conn.execute(sql.SQL("SELECT id FROM {}").format(sql.Identifier(HELPER_SCHEMA, "installation"))).fetchone()
    conn.rollback()
    if row is None:
        raise MoveError(reason="the source's callmcp_move schema has no installation row")
    return str(row[0])


def capture_install(conn: psycopg.Connection, plans: list[TablePlan], keys: list[KeySpec],
                    key_types: dict[str, str]) -> None:
    """Helpers, key tables filled in their order, and the triggers, in one transaction: no row
    written after it commits goes unseen, and every key has its id."""
    try:
        conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(LOCK_TIMEOUT)))
        helpers_install(conn, keys, key_types)
        for key in keys:
            _key_trigger(conn, key)
        captured = {(str(table), column): table for plan in plans for table, column in plan.captured}
        for (_, column), table in captured.items():
            _capture_trigger(conn, table, column)
        conn.commit()
    except psycopg.errors.LockNotAvailable as exc:
        conn.rollback()
        raise MoveError(reason=f"could not install change capture on the source: a table stayed locked by writers "
                               f"for {LOCK_TIMEOUT} ({exc.diag.message_primary}); run again") from exc
    except psycopg.errors.InsufficientPrivilege as exc:
        conn.rollback()
        raise MoveError(reason=f"could not install change capture on the source: {exc.diag.message_primary}; "
                               "connect as the owner of the mapped tables") from exc


def _key_trigger(conn: psycopg.Connection, key: KeySpec) -> None:
    function = sql.Identifier(HELPER_SCHEMA, _name("keys", key.table.schema, key.table.name))
    conn.execute(sql.SQL(KEY_FUNCTION).format(
        keys=key_table(key), source_key=sql.Identifier(KEY_SOURCE), function=function,
        column=sql.Identifier(key.column), trigger=sql.Identifier("callmcp_move_keys"), source=source_ident(key.table)))
    conn.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ORDER BY {} ON CONFLICT DO NOTHING").format(
        key_table(key), sql.Identifier(KEY_SOURCE), sql.Identifier(key.column), source_ident(key.table),
        sql.SQL(key.order_by)))


def _capture_trigger(conn: psycopg.Connection, table: SourceTable, column: str) -> None:
    conn.execute(sql.SQL(CAPTURE_FUNCTION).format(
        function=sql.Identifier(HELPER_SCHEMA, _name("capture", table.schema, table.name, column)),
        changes=CHANGES, table=sql.Literal(str(table)), column=sql.Literal(column), key=sql.Identifier(column),
        trigger=sql.Identifier(_name("callmcp_move_capture", column)),
        truncate_trigger=sql.Identifier(_name("callmcp_move_truncate", column)), source=source_ident(table)))


def capture_remove(conn: psycopg.Connection) -> list[str]:
    """Drop the triggers on the source tables and the callmcp_move schema. Returns what was removed."""
    removed = []
    rows = conn.execute(
        """SELECT t.tgname, n.nspname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace WHERE t.tgname LIKE 'callmcp\\_move\\_%'"""
    ).fetchall()
    for trigger, schema, table in rows:
        conn.execute(sql.SQL("DROP TRIGGER {} ON {}").format(sql.Identifier(trigger), sql.Identifier(schema, table)))
        removed.append(f"trigger {trigger} on {schema}.{table}")
    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(HELPER_SCHEMA)))
    removed.append(f"schema {HELPER_SCHEMA}")
    conn.commit()
    return removed


def snapshot_xmin(conn: psycopg.Connection) -> str:
    """The oldest transaction still running: every change of an older one is committed (or gone)."""
    row = conn.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text").fetchone()
    assert row is not None  # noqa: S101 - the function always answers
    return str(row[0])
