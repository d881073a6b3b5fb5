"""A mapping resolved against the two databases: for each entry, the SQL that reads the source rows
already shaped as the target's, column for column and cast to the target's types.

``plan_build`` raises ``SourceMismatch`` for a table or column the source lacks and ``MappingInvalid``
for an entry the target model cannot take, each naming the entry.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.apps import apps
from django.db import connection as django_connection
from django.db import models
from psycopg import sql

from deploy.dbmove import catalog
from deploy.dbmove.errors import MappingInvalid, SourceMismatch
from deploy.dbmove.mapping import MAIN_ALIAS, ColumnSpec, KeySpec, Mapping, SourceTable, TableMap

HELPER_SCHEMA = "callmcp_move"
KEY_SOURCE = "callmcp_source_key"
KEY_ID = "callmcp_id"


def key_table(spec: KeySpec) -> sql.Identifier:
    return sql.Identifier(HELPER_SCHEMA, f"key_{spec.table.schema}_{spec.table.name}")


def source_ident(table: SourceTable) -> sql.Identifier:
    return sql.Identifier(table.schema, table.name)


@dataclass(frozen=True)
class Column:
    name: str
    where: str  # the mapping entry, for messages
    type: str
    expr: sql.Composable  # over the FROM clause of the entry's source query
    stable: bool  # False for values of the run (an unmapped auto_now field): checksums leave them out
    described: str


@dataclass(frozen=True)
class KeyJoin:
    alias: str
    key: KeySpec
    column: sql.Composable


@dataclass(frozen=True)
class TablePlan:
    entry: TableMap
    model: type[models.Model]
    table: str
    pk: str
    columns: tuple[Column, ...]
    source_key: str
    source_key_type: str
    key_joins: tuple[KeyJoin, ...]
    pk_key: KeySpec | None  # the target pk is the integer handed out for the source key, or the key itself
    depends_on: tuple[str, ...]
    captured: tuple[tuple[SourceTable, str], ...]  # (table, column holding the entry's key) whose changes count

    @property
    def name(self) -> str:
        return self.entry.name

    def from_clause(self) -> sql.Composed:
        parts: list[sql.Composable] = [
            sql.SQL("FROM {} AS {}").format(source_ident(self.entry.source), sql.Identifier(MAIN_ALIAS))
        ]
        for join in self.entry.joins:
            parts.append(sql.SQL("LEFT JOIN {} AS {} ON ({})").format(
                source_ident(join.table), sql.Identifier(join.alias), sql.SQL(join.on)))
        for key_join in self.key_joins:
            parts.append(sql.SQL("LEFT JOIN {} AS {} ON {} = {}").format(
                key_table(key_join.key), sql.Identifier(key_join.alias),
                sql.Identifier(key_join.alias, KEY_SOURCE), key_join.column))
        return sql.SQL(" ").join(parts)

    def key_ref(self) -> sql.Composable:
        return sql.Identifier(MAIN_ALIAS, self.source_key)

    def key_value(self, text: str) -> sql.Composable:
        return sql.SQL("CAST({} AS {})").format(sql.Literal(text), sql.SQL(self.source_key_type))

    def condition(self, extra: sql.Composable | None = None) -> sql.Composable:
        conditions: list[sql.Composable] = [sql.SQL("({})").format(sql.SQL(self.entry.filter))] \
            if self.entry.filter else []
        if extra is not None:
            conditions.append(extra)
        return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("")

    def select(self, extra: sql.Composable | None = None, columns: sql.Composable | None = None) -> sql.Composed:
        """The rows of this entry as the target's (``columns`` replaces the select list)."""
        select_list = columns or sql.SQL(", ").join(column.expr for column in self.columns)
        return sql.SQL("SELECT {} {}{}").format(select_list, self.from_clause(), self.condition(extra))

    def target_pk_expr(self) -> sql.Composable:
        """The target pk of the source row at hand, as the select list computes it."""
        return next(column.expr for column in self.columns if column.name == self.pk)

    def pk_for_key(self, key: sql.Composable) -> sql.Composable:
        """The target pk of a source key value, also for a row the source no longer has."""
        if self.pk_key is None:
            return sql.SQL("CAST({} AS {})").format(key, sql.SQL(self.pk_type))
        return sql.SQL("(SELECT {} FROM {} WHERE {} = {})").format(
            sql.Identifier(KEY_ID), key_table(self.pk_key), sql.Identifier(KEY_SOURCE), key)

    @property
    def pk_type(self) -> str:
        return next(column.type for column in self.columns if column.name == self.pk)

    def target_columns(self) -> sql.Composed:
        return sql.SQL(", ").join(sql.Identifier(column.name) for column in self.columns)


class _Builder:
    def __init__(self, mapping: Mapping, source_tables: dict[str, catalog.Table | None],
                 target_tables: dict[str, catalog.Table | None], started: datetime) -> None:
        self.mapping = mapping
        self.source_tables = source_tables
        self.target_tables = target_tables
        self.started = started

    def mismatch(self, where: str, problem: str) -> SourceMismatch:
        return SourceMismatch(path=self.mapping.path, where=where, problem=problem)

    def invalid(self, where: str, problem: str) -> MappingInvalid:
        return MappingInvalid(path=self.mapping.path, where=where, problem=problem)

    def source(self, table: SourceTable, where: str) -> catalog.Table:
        found = self.source_tables.get(str(table))
        if found is None:
            raise self.mismatch(where, f"the source has no table {table}")
        return found

    def source_column(self, entry: TableMap, ref: str, where: str) -> tuple[str, str]:
        alias, _, name = ref.rpartition(".")
        table = entry.aliases[alias or MAIN_ALIAS]
        found = self.source(table, where)
        if name not in found.columns:
            raise self.mismatch(where, f"the source table {table} has no column {name!r} (it has: {found.names()})")
        return alias or MAIN_ALIAS, name

    def literal(self, value: Any, type_: str, where: str) -> sql.Composable:
        if type_ in ("jsonb", "json"):
            return sql.SQL("CAST({} AS {})").format(sql.Literal(json.dumps(value)), sql.SQL(type_))
        if isinstance(value, dict | list):
            raise self.invalid(where, f"a table or list value needs a json/jsonb target column, not {type_}")
        return sql.SQL("CAST({} AS {})").format(sql.Literal(value), sql.SQL(type_))

    def model_default(self, field: models.Field, type_: str, where: str) -> tuple[sql.Composable, bool, str]:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            return self.literal(self.started, type_, where), False, "time of the run (model default)"
        if not field.has_default() and field.null:
            return sql.SQL("CAST(NULL AS {})").format(sql.SQL(type_)), True, "NULL (model default)"
        default = field.get_default()
        if isinstance(default, datetime):  # e.g. timezone.now: the time of the run, like auto_now
            return self.literal(self.started, type_, where), False, "time of the run (model default)"
        if isinstance(default, uuid.UUID):  # e.g. uuid4: a new one for each row
            return sql.SQL("CAST(gen_random_uuid() AS {})").format(sql.SQL(type_)), False, "a new UUID per row"
        if default is None and not field.null:
            raise self.invalid(f"{where}.columns.{field.column}",
                               "this target column takes no NULL and has no default: map it or give a default")
        value = default if isinstance(field, models.JSONField) else field.get_db_prep_save(default, django_connection)
        return self.literal(value, type_, where), True, f"{default!r} (model default)"


def _key_join(joins: dict[tuple[str, str], KeyJoin], key: KeySpec, column: sql.Composable, ref: tuple[str, str]
              ) -> KeyJoin:
    found = joins.get((key.name, ".".join(ref)))
    if found is None:
        found = joins[(key.name, ".".join(ref))] = KeyJoin(f"k{len(joins) + 1}", key, column)
    return found


class _EntryBuilder:
    def __init__(self, builder: _Builder, entry: TableMap) -> None:
        self.b = builder
        self.entry = entry
        self.key_joins: dict[tuple[str, str], KeyJoin] = {}

    def expression(self, spec: ColumnSpec, type_: str) -> tuple[sql.Composable, str]:
        if spec.kind == "value":
            return self.b.literal(spec.value, type_, spec.where), f"constant {spec.value!r}"
        if spec.kind == "sql":
            expr: sql.Composable = sql.SQL("({})").format(sql.SQL(spec.sql or ""))
            described = f"sql {' '.join((spec.sql or '').split())}"
        else:
            alias, name = self.b.source_column(self.entry, spec.column or "", f"{spec.where}.column")
            expr = sql.Identifier(alias, name)
            described = f"{alias}.{name}"
            if spec.kind == "key":
                key = self.b.mapping.keys[spec.key or ""]
                self.b.source(key.table, f"keys.{key.name}")
                join = _key_join(self.key_joins, key, expr, (alias, name))
                expr, described = sql.Identifier(join.alias, KEY_ID), f"id handed out for {key.table} key {described}"
        if spec.cast:
            expr, described = sql.SQL("CAST({} AS {})").format(expr, sql.SQL(spec.cast)), f"{described}::{spec.cast}"
        expr = sql.SQL("CAST({} AS {})").format(expr, sql.SQL(type_))
        if spec.has_default:
            default = self.b.literal(spec.default, type_, f"{spec.where}.default")
            expr, described = sql.SQL("coalesce({}, {})").format(expr, default), f"{described}, else {spec.default!r}"
        return expr, described

    def columns(self, model: type[models.Model], target: catalog.Table) -> tuple[Column, ...]:
        specs = {spec.target: spec for spec in self.entry.columns}
        fields = [(field, field.column) for field in model._meta.concrete_fields if field.column]
        known = {column for _, column in fields}
        if unknown := sorted(set(specs) - known):
            hint = {field.name: column for field, column in fields}
            problem = f"the target model {self.entry.target} has no column {unknown[0]!r}"
            if unknown[0] in hint:
                problem += f" (the column of that field is {hint[unknown[0]]!r})"
            raise self.b.invalid(specs[unknown[0]].where, problem + f"; its columns: {', '.join(sorted(known))}")
        columns = []
        for field, column in fields:
            type_ = target.columns[column].type
            if column in specs:
                expr, described = self.expression(specs[column], type_)
                columns.append(Column(column, specs[column].where, type_, expr, True, described))
            else:
                expr, stable, described = self.b.model_default(field, type_, self.entry.where)
                columns.append(Column(column, f"{self.entry.where}.columns.{column}", type_, expr, stable, described))
        return tuple(columns)

    def pk_key(self, pk: str) -> KeySpec | None:
        spec = next((spec for spec in self.entry.columns if spec.target == pk), None)
        if spec is None:
            raise self.b.invalid(f"{self.entry.where}.columns", f"the primary key {pk!r} of the target is not mapped")
        source_key = self.source_key()
        if spec.kind not in ("column", "key") or spec.column not in (source_key, f"{MAIN_ALIAS}.{source_key}"):
            raise self.b.invalid(spec.where, f"the primary key must come from the source key {source_key!r} (as is, "
                                             "or through a [keys] entry), so that a deleted row can be traced")
        return self.b.mapping.keys[spec.key or ""] if spec.kind == "key" else None

    def source_key(self) -> str:
        table = self.b.source(self.entry.source, f"{self.entry.where}.source")
        key = self.entry.key or table.primary_key
        if key is None:
            raise self.b.invalid(f"{self.entry.where}.key", f"{self.entry.source} has no primary key: name its key")
        if key not in table.columns:
            raise self.b.mismatch(f"{self.entry.where}.key", f"the source table {self.entry.source} has no column "
                                                             f"{key!r} (it has: {table.names()})")
        if key not in table.unique:
            raise self.b.invalid(f"{self.entry.where}.key", f"{self.entry.source}.{key} is not unique (no primary key "
                                                            "or unique index on it alone)")
        return key

    def captured(self) -> tuple[tuple[SourceTable, str], ...]:
        captured = [(self.entry.source, self.source_key())]
        for index, join in enumerate(self.entry.joins):
            found = self.b.source(join.table, f"{self.entry.where}.joins[{index}].table")
            if join.key not in found.columns:
                raise self.b.mismatch(f"{self.entry.where}.joins[{index}].key",
                                      f"the source table {join.table} has no column {join.key!r}")
            captured.append((join.table, join.key))
        return tuple(captured)


def _model(mapping: Mapping, entry: TableMap) -> type[models.Model]:
    try:
        return apps.get_model(entry.target)
    except (LookupError, ValueError) as exc:
        raise MappingInvalid(path=mapping.path, where=f"{entry.where}.target",
                             problem=f"no model {entry.target!r} is installed") from exc


def source_tables_named(mapping: Mapping) -> list[SourceTable]:
    named = {str(key.table): key.table for key in mapping.keys.values()}
    for entry in mapping.tables:
        named.update({str(table): table for table in entry.aliases.values()})
    return list(named.values())


def target_models(mapping: Mapping) -> list[type[models.Model]]:
    return [_model(mapping, entry) for entry in mapping.tables]


def plan_build(mapping: Mapping, *, source_tables: dict[str, catalog.Table | None],
               target_tables: dict[str, catalog.Table | None], started: datetime) -> list[TablePlan]:
    """Plans in copy order: an entry comes after the entries whose targets its foreign keys reference."""
    builder = _Builder(mapping, source_tables, target_tables, started)
    for key in mapping.keys.values():
        table = builder.source(key.table, f"keys.{key.name}")
        if key.column not in table.unique:
            raise builder.invalid(f"keys.{key.name}.column", f"{key.table}.{key.column} is not a unique column")
    by_model = {_model(mapping, entry): entry.name for entry in mapping.tables}
    plans = []
    for entry in mapping.tables:
        model = _model(mapping, entry)
        target = target_tables.get(model._meta.db_table)
        if target is None:
            raise builder.invalid(f"{entry.where}.target", f"the target has no table {model._meta.db_table}")
        entry_builder = _EntryBuilder(builder, entry)
        columns = entry_builder.columns(model, target)
        pk = (model._meta.pk.column if model._meta.pk else None) or ""
        source_key = entry_builder.source_key()
        depends = {by_model[field.related_model] for field in model._meta.concrete_fields
                   if field.is_relation and field.related_model in by_model and field.related_model is not model}
        plans.append(TablePlan(
            entry=entry, model=model, table=model._meta.db_table, pk=pk, columns=columns, source_key=source_key,
            source_key_type=builder.source(entry.source, entry.where).columns[source_key].type,
            key_joins=tuple(entry_builder.key_joins.values()), pk_key=entry_builder.pk_key(pk),
            depends_on=tuple(sorted(depends)), captured=entry_builder.captured(),
        ))
    return _ordered(plans)


def _ordered(plans: list[TablePlan]) -> list[TablePlan]:
    ordered: list[TablePlan] = []
    pending = list(plans)
    while pending:
        ready = [plan for plan in pending if set(plan.depends_on) <= {done.name for done in ordered}]
        if not ready:  # a cycle: keep the file's order, deferred foreign keys are checked at each commit
            ready = pending[:1]
        ordered.extend(ready)
        pending = [plan for plan in pending if plan not in ready]
    return ordered
