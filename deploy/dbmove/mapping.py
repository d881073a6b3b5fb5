"""The declarative mapping: which source table feeds which model, column by column.

A TOML file (``supabase.toml`` beside this module is the shipped one). Its shape::

    format = 1

    [keys."auth.users"]            # source keys that become integer ids on the target
    column = "id"
    order_by = "created_at, id"    # the order in which ids are first handed out

    [[tables]]
    target = "users.User"          # app_label.Model
    source = "auth.users"          # schema.table; its alias in expressions is `s`
    key = "id"                     # source column the copy walks in order (default: its primary key)
    where = "is_anonymous = false" # optional filter; rows leaving it are deleted on the target by --sync
    joins = [{ table = "public.profiles", alias = "p", on = "p.id = s.id", key = "id" }]

    [tables.columns]               # target column = spec
    last_login = "last_sign_in_at"                           # a rename
    email = { column = "email", default = "" }               # default: used when the value is NULL
    duration_seconds = { sql = "round(call_length * 60)" }   # computed in SQL on the source
    max_duration = { column = "max_duration", cast = "integer", default = 10 }
    is_staff = { value = false }                             # a constant
    id = { key = "auth.users", column = "id" }               # the integer handed out for that source key

Every value is cast to the target column's type. Target columns left out take the model's default.
This module checks the file's shape only; ``plan`` checks it against the databases. Both raise
``MappingInvalid`` naming the entry (``tables[users.User].columns.email``).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.dbmove.errors import MappingInvalid

SHIPPED_MAPPING = Path(__file__).with_name("supabase.toml")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
MAIN_ALIAS = "s"


@dataclass(frozen=True)
class SourceTable:
    schema: str
    name: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class KeySpec:
    """Integer ids handed out on the source for the keys of ``table`` (UUIDs become bigints)."""

    name: str
    table: SourceTable
    column: str
    order_by: str


@dataclass(frozen=True)
class Join:
    table: SourceTable
    alias: str
    on: str
    key: str  # the joined table's column that holds the main row's key (how its changes are traced back)


@dataclass(frozen=True)
class ColumnSpec:
    where: str
    target: str
    kind: str  # "column" | "sql" | "value" | "key"
    column: str | None = None  # "name" (of `s`) or "alias.name"
    sql: str | None = None
    value: Any = None
    key: str | None = None
    cast: str | None = None
    default: Any = None
    has_default: bool = False


@dataclass(frozen=True)
class TableMap:
    where: str
    name: str
    target: str  # app_label.Model
    source: SourceTable
    key: str | None
    filter: str | None
    joins: tuple[Join, ...]
    columns: tuple[ColumnSpec, ...]

    @property
    def aliases(self) -> dict[str, SourceTable]:
        return {MAIN_ALIAS: self.source, **{join.alias: join.table for join in self.joins}}


@dataclass(frozen=True)
class LedgerSpec:
    reference: str
    memo: str


@dataclass(frozen=True)
class Mapping:
    path: str
    keys: dict[str, KeySpec]
    tables: tuple[TableMap, ...]
    ledger: LedgerSpec | None

    def table(self, name: str) -> TableMap:
        for table in self.tables:
            if name in (table.name, table.target):
                return table
        raise MappingInvalid(path=self.path, where="--tables", problem=f"no entry named {name!r}")


class _Reader:
    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, where: str, problem: str) -> MappingInvalid:
        return MappingInvalid(path=self.path, where=where, problem=problem)

    def table(self, value: object, where: str, allowed: Collection[str], required: Collection[str] = ()
              ) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a table, got {type(value).__name__}")
        if unknown := sorted(set(value) - set(allowed)):
            raise self.fail(where, f"unknown setting(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")
        if missing := sorted(set(required) - set(value)):
            raise self.fail(where, f"missing setting(s) {', '.join(missing)}")
        return value

    def text(self, value: object, where: str, *, identifier: bool = False) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"expected a non-empty string, got {value!r}")
        if identifier and not IDENTIFIER.match(value):
            raise self.fail(where, f"{value!r} is not a plain SQL identifier")
        return value

    def source_table(self, value: object, where: str) -> SourceTable:
        text = self.text(value, where)
        schema, _, name = text.rpartition(".")
        schema = schema or "public"
        if not (IDENTIFIER.match(schema) and IDENTIFIER.match(name)):
            raise self.fail(where, f"{text!r} is not schema.table")
        return SourceTable(schema, name)

    def column_ref(self, value: object, where: str, aliases: set[str]) -> str:
        text = self.text(value, where)
        alias, _, name = text.rpartition(".")
        if alias and alias not in aliases:
            raise self.fail(where, f"{text!r} names the alias {alias!r}, which is not {' or '.join(sorted(aliases))}")
        if not IDENTIFIER.match(name):
            raise self.fail(where, f"{text!r} is not a column name")
        return text


COLUMN_SETTINGS = {"column", "sql", "value", "key", "cast", "default"}
KINDS = ("key", "sql", "value", "column")


def _column(reader: _Reader, target: str, raw: object, where: str, aliases: set[str], keys: dict[str, KeySpec]
            ) -> ColumnSpec:
    if isinstance(raw, str):
        raw = {"column": raw}
    spec = reader.table(raw, where, COLUMN_SETTINGS)
    given = [kind for kind in KINDS if kind in spec]
    if not given:
        raise reader.fail(where, "give one of column, sql, value or key")
    kind = given[0]
    if kind != "key" and len(given) > 1:
        raise reader.fail(where, f"give only one of {', '.join(given)}")
    if kind == "key" and set(given) - {"key", "column"}:
        raise reader.fail(where, "a key spec takes only key and column")
    if kind == "value" and ("cast" in spec or "default" in spec):
        raise reader.fail(where, "a constant value takes no cast or default")
    column = reader.column_ref(spec["column"], f"{where}.column", aliases) if "column" in spec else None
    if kind == "key":
        if spec["key"] not in keys:
            raise reader.fail(f"{where}.key", f"no [keys.{spec['key']!r}] section declares that key")
        if column is None:
            raise reader.fail(where, "a key spec needs the source column holding the key")
    return ColumnSpec(
        where=where,
        target=reader.text(target, where, identifier=True),
        kind=kind,
        column=column,
        sql=reader.text(spec["sql"], f"{where}.sql") if kind == "sql" else None,
        value=spec.get("value"),
        key=spec.get("key"),
        cast=reader.text(spec["cast"], f"{where}.cast") if "cast" in spec else None,
        default=spec.get("default"),
        has_default="default" in spec,
    )


def _joins(reader: _Reader, raw: object, where: str) -> tuple[Join, ...]:
    if not isinstance(raw, list):
        raise reader.fail(where, "expected a list of joins")
    joins: list[Join] = []
    seen = {MAIN_ALIAS}
    for index, item in enumerate(raw):
        here = f"{where}[{index}]"
        spec = reader.table(item, here, {"table", "alias", "on", "key"}, {"table", "alias", "on", "key"})
        alias = reader.text(spec["alias"], f"{here}.alias", identifier=True)
        if alias in seen:
            raise reader.fail(f"{here}.alias", f"alias {alias!r} is already used")
        seen.add(alias)
        joins.append(Join(reader.source_table(spec["table"], f"{here}.table"), alias,
                          reader.text(spec["on"], f"{here}.on"), reader.text(spec["key"], f"{here}.key",
                                                                              identifier=True)))
    return tuple(joins)


def _entry(reader: _Reader, index: int, raw: object, keys: dict[str, KeySpec]) -> TableMap:
    label = raw.get("name") or raw.get("target") if isinstance(raw, dict) else None
    where = f"tables[{label}]" if isinstance(label, str) else f"tables[{index}]"
    spec = reader.table(raw, where, {"name", "target", "source", "key", "where", "joins", "columns"},
                        {"target", "source", "columns"})
    target = reader.text(spec["target"], f"{where}.target")
    if target.count(".") != 1:
        raise reader.fail(f"{where}.target", f"{target!r} is not app_label.Model")
    joins = _joins(reader, spec.get("joins", []), f"{where}.joins")
    aliases = {MAIN_ALIAS, *(join.alias for join in joins)}
    raw_columns = spec["columns"]
    if not isinstance(raw_columns, dict) or not raw_columns:
        raise reader.fail(f"{where}.columns", "expected a table mapping at least one target column")
    columns = tuple(_column(reader, name, value, f"{where}.columns.{name}", aliases, keys)
                    for name, value in raw_columns.items())
    return TableMap(
        where=where,
        name=reader.text(spec.get("name", target), f"{where}.name"),
        target=target,
        source=reader.source_table(spec["source"], f"{where}.source"),
        key=reader.text(spec["key"], f"{where}.key", identifier=True) if "key" in spec else None,
        filter=reader.text(spec["where"], f"{where}.where") if "where" in spec else None,
        joins=joins,
        columns=columns,
    )


def _keys(reader: _Reader, raw: object) -> dict[str, KeySpec]:
    if not isinstance(raw, dict):
        raise reader.fail("keys", "expected a table of [keys.\"schema.table\"] sections")
    keys: dict[str, KeySpec] = {}
    for name, value in raw.items():
        spec = reader.table(value, f"keys.{name}", {"column", "order_by"}, {"column"})
        column = reader.text(spec["column"], f"keys.{name}.column", identifier=True)
        keys[name] = KeySpec(name, reader.source_table(name, f"keys.{name}"), column,
                             reader.text(spec.get("order_by", column), f"keys.{name}.order_by"))
    return keys


def mapping_load(path: Path | str | None = None) -> Mapping:
    """Read and check a mapping file (the shipped Supabase one by default)."""
    file = Path(path) if path else SHIPPED_MAPPING
    reader = _Reader(str(file))
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise reader.fail("file", f"cannot be read ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise reader.fail("file", f"is not valid TOML ({exc})") from exc
    top = reader.table(raw, "top level", {"format", "keys", "tables", "ledger"}, {"format", "tables"})
    if top["format"] != 1:
        raise reader.fail("format", f"format {top['format']!r} is not supported (this tool reads format 1)")
    keys = _keys(reader, top.get("keys", {}))
    if not isinstance(top["tables"], list) or not top["tables"]:
        raise reader.fail("tables", "expected at least one [[tables]] entry")
    tables = tuple(_entry(reader, index, raw_entry, keys) for index, raw_entry in enumerate(top["tables"]))
    names = [table.name for table in tables]
    if duplicate := next((name for name in names if names.count(name) > 1), None):
        raise reader.fail(f"tables[{duplicate}]", "two entries share this name; give one a `name`")
    ledger = None
    if "ledger" in top:
        spec = reader.table(top["ledger"], "ledger", {"reference", "memo"}, {"reference"})
        ledger = LedgerSpec(reader.text(spec["reference"], "ledger.reference"),
                            str(spec.get("memo", "Balance carried over from the source database")))
    return Mapping(path=str(file), keys=keys, tables=tables, ledger=ledger)
