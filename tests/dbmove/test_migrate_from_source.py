"""manage.py migrate_from_source against a real Supabase-like source and the test database as target."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.contrib.auth.hashers import get_hasher
from django.core.management import CommandError, call_command
from django.db import connection
from rest_framework.test import APIClient

from calls.models import Call, CallEvent
from tests.dbmove import source_db
from tests.dbmove.conftest import PASSWORD, edited_mapping, run, source_sql
from users.models import CreditAccount, CreditLedgerEntry, User
from users.selectors import credits_ledger_sums
from users.services import credits_grant, user_create

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def login(username: str, password: str) -> int:
    return APIClient().post("/api/v1/auth/token/", {"username": username, "password": password},
                            format="json").status_code


def report_rows(text: str, header: str) -> dict[str, list[str]]:
    """The rows of the table printed under ``header`` (first cell -> the other cells)."""
    lines = text.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith(header)) + 2
    rows = {}
    for line in lines[start:]:
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) < 3:
            break
        rows[cells[0]] = cells[1:]
    return rows


def run_failing(*args: str) -> tuple[str, str]:
    out = StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("migrate_from_source", *args, stdout=out, stderr=StringIO())
    return out.getvalue(), str(failure.value)


def test_full_copy_verifies_clean_and_a_migrated_user_logs_in_with_the_old_password(source_url):
    source_sql(source_url, "UPDATE auth.users SET encrypted_password = NULL WHERE email = 'user7@example.com'")
    source_sql(source_url, "UPDATE auth.users SET banned_until = now() + interval '1 year' "
                           "WHERE email = 'user8@example.com'")

    copied = run("--source-url", source_url)

    summary = report_rows(copied, "table")
    assert summary["users.User"][1:3] == ["30", "30"]
    assert summary["calls.Call"][1:3] == ["120", "120"]
    assert summary["calls.CallEvent"][1:3] == ["120", "120"]
    assert "The copy is complete" in copied
    verified = run("--source-url", source_url, "--verify")
    assert "no differences" in verified
    assert set(report_rows(verified, "table")) >= {"users.User", "users.CreditAccount", "calls.Call", "calls.CallEvent"}

    user = User.objects.get(username="user3@example.com")
    assert (user.email, user.first_name, user.last_name) == ("user3@example.com", "Zoë", "Ångström-3 北京")
    assert user.password.startswith("bcrypt$$2a$04$")
    assert User.objects.get(username="user5@example.com").first_name == ""  # raw_user_meta_data was NULL
    big = source_sql(source_url, "SELECT summary, transcript, created_at, ended_at, metadata FROM public.calls "
                                 "WHERE id = %s", (source_db.call_id(97),))[0]
    call = Call.objects.get(id=source_db.call_id(97))
    assert len(big[0]) > 100_000
    assert (call.summary, call.transcript, call.created_at, call.ended_at, call.metadata) == big
    assert call.owner.username == f"user{1 + 97 % 30}@example.com"
    assert call.status == "busy"
    assert call.to_number == "+14150000097"
    sparse = Call.objects.get(id=source_db.call_id(40))  # NULL summary, metadata and from_number on the source
    assert (sparse.summary, sparse.metadata, sparse.from_number, sparse.voice) == ("", {}, "+12025550100", "maya")
    # Columns the source lacks take the model's defaults.
    assert (sparse.queue_status, sparse.reserved_credits, sparse.corrected_transcript, sparse.idempotency_key) == (
        "", 0, [], None)
    assert user.scopes == ["calls:read", "calls:write", "credits:read"]
    assert Call.objects.get(id=source_db.call_id(4)).status == "in_progress"
    assert Call.objects.get(id=source_db.call_id(8)).status == "canceled"

    assert login("user3@example.com", "wrong password") == 401
    assert login("user3@example.com", PASSWORD) == 200
    user.refresh_from_db()
    assert user.password.split("$", 1)[0] == get_hasher().algorithm  # upgraded to the project's hasher
    assert login("user3@example.com", PASSWORD) == 200
    assert login("user4@example.com", "x" * 100) == 401  # over bcrypt's 72 bytes: a wrong password, not a 500
    assert login("user7@example.com", PASSWORD) == 401  # had no password on Supabase
    assert login("user8@example.com", PASSWORD) == 401  # banned there, inactive here

    access = APIClient().post("/api/v1/auth/token/", {"username": "user3@example.com", "password": PASSWORD},
                              format="json").json()["access"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    credits = client.get("/api/v1/credits/").json()
    assert credits["balance"]["available"] == 411  # $4.11 on Supabase
    assert [(entry["kind"], entry["amount"], entry["reference"]) for entry in credits["results"]] == [
        ("grant", 411, "import:supabase")]
    assert CreditAccount.objects.get(user__username="user9@example.com").balance == 0  # no credits row there

    # Sequences continue after the copied ids: new rows made by the service do not collide.
    newcomer = user_create(username="after-the-move", password=None)
    assert newcomer.id > max(User.objects.exclude(pk=newcomer.pk).values_list("id", flat=True))
    credits_grant(user=user, amount=50, memo="after the move")
    assert credits_ledger_sums(user=user).available == CreditAccount.objects.get(user=user).balance == 461
    event = CallEvent.objects.create(call=call, source="system", to_status="busy")
    assert event.id > 120


def test_sync_applies_inserts_updates_and_deletes_made_on_the_source_after_the_copy(source_url, password_hash):
    run("--source-url", source_url)
    new_user, new_call = "00000000-0000-4000-8000-00000000aaaa", "00000000-0000-4000-9000-00000000aaaa"
    source_sql(source_url, "INSERT INTO auth.users (id, email, encrypted_password, created_at, updated_at, "
                           "raw_user_meta_data) VALUES (%s, 'nouveau@example.com', %s, now(), now(), "
                           "'{\"full_name\": \"Nouvel Utilisateur\"}')", (new_user, password_hash))
    source_sql(source_url, "INSERT INTO public.credits (user_id, balance) VALUES (%s, 12.5)", (new_user,))
    source_sql(source_url, "INSERT INTO public.calls (id, user_id, phone_number, status, transcript) "
                           "VALUES (%s, %s, '+33612345678', 'queued', '[]')", (new_call, new_user))
    source_sql(source_url, "INSERT INTO public.call_events (call_id, status, message) VALUES (%s, 'queued', "
                           "'placé ☎')", (new_call,))
    # An update that leaves updated_at alone is seen too: changes come from triggers, not timestamps.
    source_sql(source_url, "UPDATE public.calls SET status = 'completed', summary = 'Résumé mis à jour' "
                           "WHERE id = %s", (source_db.call_id(10),))
    source_sql(source_url, "UPDATE public.credits SET balance = balance - 1 WHERE user_id = %s",
               (source_db.user_id(3),))
    source_sql(source_url, "DELETE FROM public.calls WHERE id = %s", (source_db.call_id(20),))
    source_sql(source_url, "DELETE FROM auth.users WHERE id = %s", (source_db.user_id(6),))  # cascades there

    synced = run("--source-url", source_url, "--sync")

    assert re.search(r"Lag: \d+\.\d s", synced)
    newcomer = User.objects.get(username="nouveau@example.com")
    assert newcomer.first_name == "Nouvel"
    assert Call.objects.get(id=new_call).owner == newcomer
    assert list(CallEvent.objects.filter(call_id=new_call).values_list("detail", flat=True)) == ["placé ☎"]
    updated = Call.objects.get(id=source_db.call_id(10))
    assert (updated.status, updated.summary) == ("completed", "Résumé mis à jour")
    assert not Call.objects.filter(id=source_db.call_id(20)).exists()
    assert not CallEvent.objects.filter(call_id=source_db.call_id(20)).exists()
    assert not User.objects.filter(username="user6@example.com").exists()
    assert not Call.objects.filter(id__in=[source_db.call_id(n) for n in (5, 35, 65, 95)]).exists()
    user3 = User.objects.get(username="user3@example.com")
    assert credits_ledger_sums(user=user3).available == user3.credit_account.balance == 311
    assert CreditLedgerEntry.objects.filter(account__user=user3).first().kind == "settle"  # newest first
    assert credits_ledger_sums(user=newcomer).available == 1250
    assert "no differences" in run("--source-url", source_url, "--verify")

    ledger_rows = CreditLedgerEntry.objects.count()
    again = report_rows(run("--source-url", source_url, "--sync"), "table")
    assert {name: cells[1:] for name, cells in again.items()} == {
        name: ["0", "0"] for name in ("users.User", "users.CreditAccount", "calls.Call", "calls.CallEvent")}
    assert CreditLedgerEntry.objects.count() == ledger_rows
    assert login("nouveau@example.com", PASSWORD) == 200


def test_verify_names_the_keys_of_corrupted_rows_and_exits_non_zero(source_url):
    run("--source-url", source_url)
    user3 = User.objects.get(username="user3@example.com")
    event = CallEvent.objects.order_by("id").first()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE calls_call SET summary = 'tampered' WHERE id = %s", [source_db.call_id(42)])
        cursor.execute("DELETE FROM calls_callevent WHERE id = %s", [event.id])
        cursor.execute("UPDATE users_creditledgerentry SET amount = amount + 5 WHERE account_id = %s",
                       [user3.credit_account.id])

    printed, error = run_failing("--source-url", source_url, "--verify")

    assert "difference" in error
    assert f"calls.Call: different: {source_db.call_id(42)}" in printed
    assert f"calls.CallEvent: missing on the target: {event.id}" in printed
    assert f"different: {user3.id} (source key {source_db.user_id(3)})" in printed
    assert f"accounts whose balance is not their ledger's sum (user ids): {user3.id}" in printed
    rows = report_rows(printed, "table")
    assert rows["users.User"][-1] == "ok"
    assert rows["calls.Call"][-1] == "DIFFERENT"


def test_verify_in_small_chunks_names_each_changed_row_of_an_integer_keyed_table_once(source_url):
    """Chunk bounds follow the key's own order (1, 11, 21, ... 101, 111), not its text's (1, 101, 11, ...),
    so the chunks are disjoint key ranges and a changed row is counted in one of them."""
    run("--source-url", source_url)
    event_ids = list(CallEvent.objects.order_by("id").values_list("id", flat=True))
    assert len(event_ids) > 100
    changed = [event_ids[4], event_ids[44]]
    with connection.cursor() as cursor:
        cursor.execute("UPDATE calls_callevent SET detail = 'tampered' WHERE id = ANY(%s)", [changed])

    printed, error = run_failing("--source-url", source_url, "--verify", "--chunk-rows", "10")

    assert "difference" in error
    assert f"calls.CallEvent: different: {changed[0]}, {changed[1]}" in printed
    events = report_rows(printed, "table")["calls.CallEvent"]
    assert events[-1] == "DIFFERENT"
    assert events[-3] == "2"  # different rows


def test_rows_outside_an_entrys_filter_are_not_copied_and_leave_the_target_when_they_fall_out(source_url,
                                                                                               tmp_path):
    mapping = edited_mapping(tmp_path, 'source = "auth.users"\nkey = "id"\n',
                             'source = "auth.users"\nkey = "id"\nwhere = "NOT s.is_anonymous"\n', count=2)
    anonymous, later = "4f0a7f1e-0000-4000-8000-000000000001", "4f0a7f1e-0000-4000-8000-000000000002"
    source_sql(source_url, "INSERT INTO auth.users (id, email, is_anonymous, created_at) VALUES "
                           "(%s, NULL, true, now()), (%s, 'later@example.com', false, now())", (anonymous, later))
    source_sql(source_url, "INSERT INTO public.credits (user_id, balance) VALUES (%s, 2)", (later,))

    run("--source-url", source_url, "--mapping", mapping)
    assert not User.objects.filter(username=anonymous).exists()
    assert User.objects.filter(username="later@example.com").exists()
    assert "no differences" in run("--source-url", source_url, "--mapping", mapping, "--verify")

    source_sql(source_url, "UPDATE auth.users SET is_anonymous = true WHERE id = %s", (later,))
    synced = report_rows(run("--source-url", source_url, "--mapping", mapping, "--sync"), "table")

    assert synced["users.User"][-1] == synced["users.CreditAccount"][-1] == "1"  # deleted
    assert not User.objects.filter(username="later@example.com").exists()
    assert "no differences" in run("--source-url", source_url, "--mapping", mapping, "--verify")


def test_copy_of_some_tables_then_the_rest(source_url):
    _, error = run_failing("--source-url", source_url, "--tables", "calls.Call")
    assert "calls.Call refers to users.User, which is not copied yet" in error
    assert not Call.objects.exists()

    first = run("--source-url", source_url, "--tables", "users.User", "users.CreditAccount")
    assert "Some tables are not copied yet" in first
    assert User.objects.count() == 30
    assert not Call.objects.exists()
    rest = report_rows(run("--source-url", source_url), "table")
    assert rest["users.User"][-1] == "done before"
    assert rest["calls.Call"][1] == "120"
    assert "no differences" in run("--source-url", source_url, "--verify")


def test_progress_bars_show_rows_rate_and_eta_per_table(make_source, capfd):
    source_url = make_source(users=5, calls=300)
    run("--source-url", source_url, "--progress", "--batch-size", "100")
    bars = capfd.readouterr().err
    assert re.search(r"calls\.Call: 100%\|.*\| 300/300 \[\d\d:\d\d<\d\d:\d\d, +[\d.]+k? rows/s\]", bars)
    assert "calls.CallEvent: " in bars


def test_teardown_removes_the_triggers_and_the_helper_schema_from_the_source(source_url):
    run("--source-url", source_url)
    triggers = "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'callmcp_move%%'"
    assert source_sql(source_url, triggers)[0][0] > 0

    removed = run("--source-url", source_url, "--teardown-source")

    assert "schema callmcp_move" in removed
    assert source_sql(source_url, triggers)[0][0] == 0
    source_sql(source_url, "UPDATE public.calls SET status = 'failed'")  # writes go on without the triggers
