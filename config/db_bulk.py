"""Writing many rows' own values in one statement.

Django's ``bulk_update`` builds a ``CASE WHEN pk = ... THEN ...`` per row and field, which costs more to
compile in Python than the rows cost to write; on PostgreSQL ``update_rows`` sends each field's values as one
array parameter, bound on the server in binary (``execute_bound``), and joins them to the table with
``unnest``. Other databases take ``bulk_update``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import psycopg
from django.db import connections, models, router

T = TypeVar("T")


def update_rows(objs: Sequence[models.Model], fields: Sequence[str]) -> int:
    """Write ``fields`` of each of ``objs`` (instances of one model, saved before) as they are in memory:
    one UPDATE however many there are. Signals and ``auto_now`` are not applied, as with ``bulk_update``.
    Returns the rows written."""
    if not objs or not fields:
        return 0
    model = type(objs[0])
    alias = router.db_for_write(model)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return model._default_manager.db_manager(alias).bulk_update(objs, fields)
    meta, quote = model._meta, connection.ops.quote_name
    pk = meta.pk
    if pk is None:  # abstract models have none; a saved instance's model always has one
        raise TypeError(f"{model.__name__} has no primary key")
    columns: list[models.Field[Any, Any]] = [pk]
    for name in fields:
        field = meta.get_field(name)
        if not isinstance(field, models.Field) or not field.concrete:
            raise ValueError(f"{model.__name__}.{name} is not a column")
        columns.append(field)
    arrays: list[list[Any]] = [[] for _ in columns]
    for obj in objs:
        for values, field in zip(arrays, columns, strict=True):
            values.append(field.get_db_prep_save(getattr(obj, field.attname), connection))
    names = [quote(f"c{index}") for index in range(len(columns))]
    # Identifiers and types come from the model's own meta; every value is a parameter.
    sql = (f"UPDATE {quote(meta.db_table)} AS t SET "  # noqa: S608
           + ", ".join(f"{quote(str(field.column))} = v.{name}" for field, name in zip(columns[1:], names[1:],
                                                                                       strict=True))
           + " FROM unnest(" + ", ".join(f"%b::{field.db_type(connection)}[]" for field in columns)
           + f") AS v({', '.join(names)}) WHERE t.{quote(str(pk.column))} = v.{names[0]}")
    return execute_bound(sql, arrays, using=alias)


def insert_rows(objs: Sequence[models.Model], *, batch_size: int = 5_000) -> None:
    """``bulk_create`` of new instances of one model, on PostgreSQL as ``INSERT ... SELECT FROM unnest`` with
    each column one binary array: ``auto_now_add`` and ``auto_now`` are applied and database-generated keys
    set on the instances, as ``bulk_create`` does; signals are not sent (nor does ``bulk_create``)."""
    if not objs:
        return
    model = type(objs[0])
    alias = router.db_for_write(model)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        model._default_manager.db_manager(alias).bulk_create(objs, batch_size=batch_size)
        return
    meta, quote = model._meta, connection.ops.quote_name
    pk = meta.pk
    generated = pk is not None and pk.db_returning and all(obj.pk is None for obj in objs)
    fields = [field for field in meta.concrete_fields if not (generated and field is pk)]
    columns = ", ".join(quote(str(field.column)) for field in fields)
    unnest = ", ".join(f"%b::{field.db_type(connection)}[]" for field in fields)
    names = ", ".join(f"c{index}" for index in range(len(fields)))
    returning = f" RETURNING {quote(str(pk.column))}" if generated and pk is not None else ""
    sql = (f"INSERT INTO {quote(meta.db_table)} ({columns}) SELECT {names} FROM unnest({unnest}) "  # noqa: S608 - ours
           f"WITH ORDINALITY AS v({names}, position) ORDER BY position{returning}")
    for start in range(0, len(objs), batch_size):
        chunk = objs[start:start + batch_size]
        arrays = [[field.get_db_prep_save(field.pre_save(obj, True), connection) for obj in chunk] for field in fields]
        keys = _execute(connection, sql, arrays, lambda cursor: cursor.fetchall() if returning else [])
        for index, obj in enumerate(chunk):
            if keys:
                obj.pk = keys[index][0]
            obj._state.adding, obj._state.db = False, alias


def execute_bound(sql: str, params: Sequence[Any], *, using: str = "default") -> int:
    """Run one PostgreSQL statement with its parameters bound on the server, in binary where the SQL says
    ``%b``, on the Django connection (so in its open transaction). Django's cursors quote every value into
    the SQL text in Python: for arrays of a hundred rows, four times slower than the statement itself. The
    rows it touched."""
    return _execute(connections[using], sql, params, lambda cursor: cursor.rowcount)


def _execute(connection: Any, sql: str, params: Sequence[Any], result: Callable[[psycopg.Cursor[Any]], T]) -> T:
    """Run the statement on the Django connection's own psycopg connection; ``result`` reads the cursor."""
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params)
        return result(cursor)
