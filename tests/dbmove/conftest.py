from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core.management import call_command

from deploy.dbmove.mapping import SHIPPED_MAPPING
from tests.dbmove import source_db

PASSWORD = "correct horse 🐎 battery"
_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def password_hash() -> str:
    return source_db.bcrypt_hash(PASSWORD)


@pytest.fixture
def make_source(password_hash: str) -> Iterator[Callable[..., str]]:
    """Supabase-like source databases (callmcp_dbmove_test_*), each dropped after the test."""
    made: list[str] = []

    def make(*, users: int = 30, calls: int = 120) -> str:
        name = f"callmcp_dbmove_test_{os.getpid()}_{next(_numbers)}"
        source_db.create_database(name)
        made.append(name)
        url = source_db.database_url(name)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(source_db.SCHEMA)
        source_db.populate(url, users=users, calls=calls, password_hash=password_hash)
        return url

    yield make
    for name in made:
        source_db.drop_database(name)


@pytest.fixture
def source_url(make_source: Callable[..., str]) -> str:
    return make_source()


def run(*args: str, **options: Any) -> str:
    """manage.py migrate_from_source ARGS, in process; returns what it printed."""
    out = StringIO()
    call_command("migrate_from_source", *args, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


def source_sql(url: str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(query, params)
        return cursor.fetchall() if cursor.description else []


def edited_mapping(tmp_path: Path, old: str, new: str, *, count: int = 1) -> str:
    """The shipped mapping with ``old`` replaced, as a file; returns its path."""
    text = SHIPPED_MAPPING.read_text(encoding="utf-8")
    assert text.count(old) >= count
    path = tmp_path / "mapping.toml"
    path.write_text(text.replace(old, new, count), encoding="utf-8")
    return str(path)


def helper_schema_exists(url: str) -> bool:
    return bool(source_sql(url, "SELECT to_regnamespace('callmcp_move') IS NOT NULL")[0][0])
