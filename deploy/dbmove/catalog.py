"""What the databases hold: tables, columns and their types, read from ``pg_catalog``."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from deploy.dbmove.mapping import SourceTable

# Character types are cast without their length, so a value too long fails loudly on the target
# instead of being cut by the cast; other types keep their modifier (numeric(10,4) rounds as a column does).
COLUMNS = """
SELECT a.attname,
       CASE WHEN t.typcategory = 'S' THEN format_type(a.atttypid, NULL) ELSE format_type(a.atttypid, a.atttypmod) END,
       a.attnotnull
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""

UNIQUE_COLUMNS = """
SELECT a.attname, i.indisprimary
FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
WHERE i.indrelid = to_regclass(%s) AND i.indisunique AND i.indnkeyatts = 1 AND i.indpred IS NULL
"""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    not_null: bool


@dataclass(frozen=True)
class Table:
    name: str
    columns: dict[str, Column]
    unique: frozenset[str]  # single-column unique keys (primary key included)
    primary_key: str | None

    def names(self) -> str:
        return ", ".join(self.columns)


def _quoted(name: str) -> str:
    schema, _, table = name.rpartition(".")
    return f'"{schema}"."{table}"' if schema else f'"{table}"'


def table_read(conn: psycopg.Connection, name: str) -> Table | None:
    """The table ``name`` (schema.table, or a bare name on the search path), or None if there is none."""
    qualified = _quoted(name)
    rows = conn.execute(COLUMNS, (qualified,)).fetchall()
    if not rows:
        return None
    unique = conn.execute(UNIQUE_COLUMNS, (qualified,)).fetchall()
    primary = next((column for column, is_primary in unique if is_primary), None)
    return Table(
        name=name,
        columns={row[0]: Column(row[0], row[1], row[2]) for row in rows},
        unique=frozenset(column for column, _ in unique),
        primary_key=primary,
    )


def source_table_read(conn: psycopg.Connection, table: SourceTable) -> Table | None:
    return table_read(conn, str(table))
