"""Reads on the event loop (``config.async_db``): psycopg's asyncio connections from a pool per loop, on the
real PostgreSQL, with Django's adapters, seeing committed rows; where they cannot read, the caller is told
to read through the ORM."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from django.db import connection

from config import async_db
from users.models import User

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def fetch(sql: str, params: list[object]) -> object:
    async def run() -> object:
        try:
            return await async_db.fetchone(sql, params)
        finally:
            await async_db.close_pools()

    return asyncio.run(run())


def test_a_committed_row_comes_back_with_the_orms_types(django_user_model: type[User]) -> None:
    assert User._meta.db_table == "users_user"
    user = django_user_model.objects.create(username="loop-reader", rate_limits={"read": "5/minute"})
    row = fetch('SELECT id, username, date_joined, rate_limits FROM "users_user" WHERE id = %s', [user.pk])

    assert isinstance(row, tuple)
    assert row[:3] == (user.pk, "loop-reader", user.date_joined)  # an aware datetime, as the ORM reads it
    assert row[3] == '{"read": "5/minute"}'  # jsonb as text, as Django's JSONField converters expect it


def test_no_row_is_none_and_a_bad_statement_says_read_through_the_orm() -> None:
    assert fetch('SELECT id FROM "users_user" WHERE id = %s', [-1]) is None
    assert fetch("SELECT no_such_column FROM callmcp_nowhere WHERE id = %s", [1]) is async_db.NOT_AVAILABLE


def test_turned_off_it_says_read_through_the_orm(settings) -> None:  # noqa: ANN001
    settings.DATABASE_ASYNC_POOL_SIZE = 0

    assert fetch("SELECT %s::uuid", [uuid.uuid4()]) is async_db.NOT_AVAILABLE


def test_a_connection_the_server_drops_costs_at_most_a_read_through_the_orm_then_reads_recover(
        django_user_model: type[User]) -> None:
    user = django_user_model.objects.create(username="loop-survivor")
    sql, params = 'SELECT username FROM "users_user" WHERE id = %s', [user.pk]

    async def scenario() -> list[object]:
        try:
            before = await async_db.fetchone(sql, params)
            await asyncio.to_thread(_terminate_loop_connections)  # as a database restart or failover would
            after = [await async_db.fetchone(sql, params) for _ in range(3)]
            return [before, *after]
        finally:
            await async_db.close_pools()

    before, *after = asyncio.run(scenario())

    assert before == ("loop-survivor",)
    assert all(row in (("loop-survivor",), async_db.NOT_AVAILABLE) for row in after)  # never an error
    assert after[-1] == ("loop-survivor",)


def _terminate_loop_connections() -> None:
    """In a thread of its own (it has its own Django connection, closed after)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                           [async_db.APPLICATION_NAME])
            assert cursor.fetchall(), "no loop-side connection was open"
    finally:
        connection.close()
