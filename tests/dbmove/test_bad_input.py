"""Bad input stops the move with a message naming the problem, before anything is written anywhere."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from deploy.dbmove.errors import MappingInvalid
from deploy.dbmove.mapping import mapping_load
from deploy.dbmove.models import MoveState
from tests.dbmove.conftest import edited_mapping, helper_schema_exists, run, source_sql
from users.models import User

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def failure(*args: str) -> str:
    with pytest.raises(CommandError) as raised:
        call_command("migrate_from_source", *args, stdout=StringIO(), stderr=StringIO())
    return str(raised.value)


def nothing_written(source_url: str) -> None:
    assert not helper_schema_exists(source_url)
    assert not User.objects.exists()
    assert not MoveState.objects.exists()


def test_an_unreachable_source_is_named_with_the_reason():
    message = failure("--source-url", "postgresql://postgres@127.0.0.1:1/nowhere")
    assert message.startswith("cannot connect to the source database 127.0.0.1:1/nowhere:")
    assert "refused" in message or "failed" in message


def test_the_password_of_an_unreachable_source_is_not_printed():
    message = failure("--source-url", "postgresql://postgres:hunter2@127.0.0.1:1/nowhere")
    assert "hunter2" not in message


def test_a_source_without_a_mapped_table_is_refused(source_url):
    source_sql(source_url, "DROP TABLE public.call_events")
    message = failure("--source-url", source_url)
    assert "tables[calls.CallEvent]" in message
    assert "the source has no table public.call_events" in message
    nothing_written(source_url)


def test_a_mapping_naming_an_unknown_source_column_is_refused(source_url, tmp_path):
    mapping = edited_mapping(tmp_path, 'to_number = "phone_number"', 'to_number = "phone"')
    message = failure("--source-url", source_url, "--mapping", mapping)
    assert "tables[calls.Call].columns.to_number.column: the source table public.calls has no column 'phone'" \
        in message
    nothing_written(source_url)


def test_a_mapping_naming_an_unknown_target_column_is_refused(source_url, tmp_path):
    mapping = edited_mapping(tmp_path, 'to_number = "phone_number"', 'to_numbr = "phone_number"')
    message = failure("--source-url", source_url, "--mapping", mapping)
    assert "tables[calls.Call].columns.to_numbr: the target model calls.Call has no column 'to_numbr'" in message
    nothing_written(source_url)


def test_a_mapping_expression_the_source_rejects_is_refused_naming_its_entry(source_url, tmp_path):
    mapping = edited_mapping(tmp_path, "round(s.call_length * 60)", "round(s.call_lenght * 60)")
    message = failure("--source-url", source_url, "--mapping", mapping)
    assert "tables[calls.Call].columns.duration_seconds: the source rejects it: column s.call_lenght does not " \
           "exist" in message
    nothing_written(source_url)


def test_values_the_source_cannot_convert_are_refused_naming_the_column(source_url, tmp_path):
    mapping = edited_mapping(tmp_path, 'provider_price = "price"', 'provider_price = { sql = "s.status" }')
    message = failure("--source-url", source_url, "--mapping", mapping)
    assert "tables[calls.Call].columns.provider_price: the source rejects it: invalid input syntax for type " \
           "numeric" in message
    nothing_written(source_url)


def test_a_target_that_holds_data_is_refused(source_url, make_user):
    make_user("already-here")
    message = failure("--source-url", source_url)
    assert "the target database already holds data (users_user, users_creditaccount)" in message
    assert not helper_schema_exists(source_url)
    assert User.objects.count() == 1


def test_a_target_that_is_not_migrated_is_refused(source_url):
    call_command("migrate", "dbmove", "zero", verbosity=0)
    try:
        message = failure("--source-url", source_url)
    finally:
        call_command("migrate", "dbmove", verbosity=0)
    assert message.startswith("the target database has unapplied migrations (dbmove.0001_initial)")
    assert not helper_schema_exists(source_url)


def test_a_dry_run_shows_the_plan_and_writes_nothing(source_url):
    plan = run("--source-url", source_url, "--dry-run")
    assert "calls.Call (calls_call) <- public.calls (120 rows), in id order" in plan
    assert "owner_id" in plan
    assert "id handed out for auth.users key s.user_id" in plan
    assert "change-capture triggers on public.calls (id)" in plan
    assert "nothing was written" in plan
    nothing_written(source_url)


def test_sync_before_any_copy_is_refused(source_url):
    assert "no finished copy is recorded on this target" in failure("--source-url", source_url, "--sync")
    nothing_written(source_url)


def test_a_second_source_cannot_be_synced_into_a_copy_of_the_first(make_source):
    first, second = make_source(users=3, calls=3), make_source(users=3, calls=3)
    run("--source-url", first)
    assert "has no callmcp_move schema: it is another database" in failure("--source-url", second, "--sync")
    assert not helper_schema_exists(second)


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ('to_number = "phone_number"', 'to_number = { column = "phone_number", sql = "1" }',
         "tables[calls.Call].columns.to_number: give only one of sql, column"),
        ('to_number = "phone_number"', 'to_number = { colum = "phone_number" }',
         "tables[calls.Call].columns.to_number: unknown setting(s) colum"),
        ('owner_id = { key = "auth.users", column = "user_id" }',
         'owner_id = { key = "auth.user", column = "user_id" }',
         "tables[calls.Call].columns.owner_id.key: no [keys.'auth.user'] section declares that key"),
        ('target = "calls.Call"', 'target = "calls"', "tables[calls].target: 'calls' is not app_label.Model"),
        ("format = 1", "format = 2", "format: format 2 is not supported"),
        ('to_number = "phone_number"', 'to_number = "x.phone_number"',
         "tables[calls.Call].columns.to_number.column: 'x.phone_number' names the alias 'x'"),
    ],
)
def test_a_malformed_mapping_is_refused_naming_the_entry(tmp_path, old, new, where):
    with pytest.raises(MappingInvalid) as raised:
        mapping_load(edited_mapping(tmp_path, old, new))
    assert raised.value.code == "mapping_invalid"
    assert where in raised.value.message


def test_a_mapping_that_is_not_toml_is_refused(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("format = 1\n[[tables]\n", encoding="utf-8")
    with pytest.raises(MappingInvalid, match="is not valid TOML"):
        mapping_load(path)


def test_a_model_that_does_not_exist_is_refused(source_url, tmp_path):
    mapping = edited_mapping(tmp_path, 'target = "calls.CallEvent"', 'target = "calls.CallEvents"')
    assert "tables[calls.CallEvents].target: no model 'calls.CallEvents' is installed" in failure(
        "--source-url", source_url, "--mapping", mapping)
    nothing_written(source_url)
