"""Bad Sheets configuration and bad spreadsheet ids: one clear error each (a system check at start-up, the
admin page, a 400 on the REST API), while calls keep working and their rows wait in the outbox."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from sheets_sync.checks import sheets_configuration
from sheets_sync.client import reset_sheets_client
from sheets_sync.drain import drain_once
from sheets_sync.models import OutboxEntry, SpreadsheetStatus
from tests.sheets.core.conftest import client, place

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]


def only_error(expected_id: str) -> str:
    problems = sheets_configuration()
    assert [p.id for p in problems] == [expected_id]
    with pytest.raises(SystemCheckError, match=expected_id):
        call_command("check")
    return problems[0].msg


@pytest.mark.parametrize(("credentials", "says"), [
    ("{not json", "not valid JSON"),
    (json.dumps({"type": "service_account", "client_email": "a@b.c"}), "private_key"),
    ("/nonexistent/key.json", "cannot be read"),
])
def test_malformed_credentials_are_one_clear_error_and_calls_keep_working(sheets, provider, user, admin_client,
                                                                          credentials, says):
    sheets.settings.SHEETS_CREDENTIALS = credentials
    reset_sheets_client()
    message = only_error("sheets_sync.E001")
    assert "SHEETS_CREDENTIALS" in message
    assert says in message
    call = place(provider, user)  # the call goes ahead; its row waits
    assert OutboxEntry.objects.filter(call=call).exists()
    page = admin_client.get("/admin/sheets_sync/spreadsheetstatus/monitor/")
    assert page.status_code == 200
    assert "sheets_sync.E001" in page.content.decode()


def test_missing_credentials_with_an_operations_sheet_is_one_error(sheets):
    sheets.settings.SHEETS_CREDENTIALS = ""
    reset_sheets_client()
    assert "SHEETS_CREDENTIALS is not set" in only_error("sheets_sync.E002")


@pytest.mark.parametrize("prefix", ["Calls/Log", "", "x" * 95, "Calls:"])
def test_a_bad_tab_prefix_is_one_error(sheets, prefix):
    sheets.settings.SHEETS_TAB_PREFIX = prefix
    assert "SHEETS_TAB_PREFIX" in only_error("sheets_sync.E003")


def test_a_malformed_operations_spreadsheet_id_is_one_error(sheets):
    sheets.settings.SHEETS_OPERATIONS_SPREADSHEET_ID = "not an id!"
    assert "SHEETS_OPERATIONS_SPREADSHEET_ID" in only_error("sheets_sync.E004")


def test_an_unknown_operations_spreadsheet_is_one_error_and_an_admin_alert(sheets, provider, user):
    sheets.settings.SHEETS_OPERATIONS_SPREADSHEET_ID = "NoSuchSheet0123456789abcdefgh"
    assert "no such spreadsheet" in only_error("sheets_sync.E005")
    call = place(provider, user)
    report = drain_once(client=client())
    assert report.failures == 1
    assert OutboxEntry.objects.filter(call=call).exists()  # the row waits
    status = SpreadsheetStatus.objects.get(spreadsheet_id="NoSuchSheet0123456789abcdefgh")
    assert "NoSuchSheet0123456789abcdefgh" in status.alert
    assert status.access_ok is False
    assert drain_once(client=client()).stopped == "empty"  # refused: left alone until re-checked


def test_an_unshared_spreadsheet_is_one_error_naming_the_fix(sheets, provider, user):
    other = sheets.new_spreadsheet(shared_with=["somebody@else.example"])
    sheets.settings.SHEETS_OPERATIONS_SPREADSHEET_ID = other
    assert "not shared with the service account" in only_error("sheets_sync.E005")


def test_the_users_me_api_sets_the_spreadsheet_and_refuses_bad_ids_clearly(api, user):
    good = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde"
    answer = api.patch("/api/v1/users/me/", {"sheets_spreadsheet_id": good}, format="json")
    assert answer.status_code == 200
    assert answer.json()["sheets_spreadsheet_id"] == good
    address = f"https://docs.google.com/spreadsheets/d/{good[::-1]}/edit#gid=0"
    answer = api.patch("/api/v1/users/me/", {"sheets_spreadsheet_id": address}, format="json")
    assert answer.json()["sheets_spreadsheet_id"] == good[::-1]
    assert api.get("/api/v1/users/me/").json()["sheets_spreadsheet_id"] == good[::-1]

    for bad in ("short", "has spaces in it 0123456789", "x" * 200):
        answer = api.patch("/api/v1/users/me/", {"sheets_spreadsheet_id": bad}, format="json")
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] in {"invalid_spreadsheet_id", "invalid"}
    answer = api.patch("/api/v1/users/me/", {"username": "mallory"}, format="json")
    assert answer.status_code == 400
    user.refresh_from_db()
    assert user.username == "alice"
    assert user.sheets_spreadsheet_id == good[::-1]
    assert api.patch("/api/v1/users/me/", {"sheets_spreadsheet_id": ""}, format="json").json()[
        "sheets_spreadsheet_id"] == ""
