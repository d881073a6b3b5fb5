"""The Sheets admin: the monitor page and the spreadsheets' actions, driven through the admin as staff."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from sheets_sync.drain import drain_once
from sheets_sync.models import OutboxEntry, SpreadsheetStatus
from tests.sheets.core.conftest import client, place

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]

CHANGELIST = "/admin/sheets_sync/spreadsheetstatus/"


def act(admin_client, action: str, *statuses: SpreadsheetStatus):  # noqa: ANN001, ANN201
    return admin_client.post(CHANGELIST, {"action": action, ACTION_CHECKBOX_NAME: [s.pk for s in statuses]},
                             follow=True)


def test_the_monitor_page_shows_traffic_breaker_and_backlog(sheets, provider, user, admin_client, settings):
    place(provider, user)
    drain_once(client=client())
    settings.SHEETS_CREDENTIALS = ""  # sync off: the next call's row waits, and the page says why
    from sheets_sync.client import reset_sheets_client

    reset_sheets_client()
    place(provider, user)
    settings.SHEETS_CREDENTIALS = sheets.key_json
    reset_sheets_client()
    page = admin_client.get(f"{CHANGELIST}monitor/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Circuit breaker: closed" in text
    assert "Backlog: 1 rows waiting" in text
    assert sheets.ops in text
    listing = admin_client.get(CHANGELIST)
    assert listing.status_code == 200
    assert "Monitor" in listing.content.decode()


def test_force_resync_rewrites_every_row_in_place(sheets, provider, user, admin_client):
    calls = [place(provider, user) for _ in range(3)]
    drain_once(client=client())
    status = SpreadsheetStatus.objects.get(spreadsheet_id=sheets.ops)
    page = act(admin_client, "force_resync", status)
    assert page.status_code == 200
    assert "3 rows queued for a resync" in page.content.decode()
    drain_once(client=client())
    assert not OutboxEntry.objects.exists()
    rows = next(iter(t for title, t in sheets.values(sheets.ops).items() if title.startswith("Calls")))
    assert sorted(r[0] for r in rows[1:]) == sorted(str(c.id) for c in calls)  # rewritten, not appended again


def test_recheck_access_clears_the_alert_once_the_sheet_is_shared(sheets, provider, make_user, account,
                                                                   admin_client):
    from users.services import user_set_spreadsheet

    owner = make_user("carol", credits=1_000)
    missing = "CarolSheet0123456789abcdefghijkl"
    user_set_spreadsheet(user=owner, spreadsheet_id=missing)
    call = place(provider, owner)
    drain_once(client=client())
    status = SpreadsheetStatus.objects.get(spreadsheet_id=missing)
    assert "no such spreadsheet" in status.alert
    assert OutboxEntry.objects.filter(spreadsheet_id=missing, call=call).exists()  # waits
    assert not OutboxEntry.objects.filter(spreadsheet_id=sheets.ops).exists()  # the others were written

    page = act(admin_client, "recheck_access", status)
    assert missing in page.content.decode()  # still refused: the message names it
    sheets.new_spreadsheet(shared_with=[account["client_email"]], spreadsheet_id=missing)
    page = act(admin_client, "recheck_access", status)
    assert "can write to it" in page.content.decode()
    status.refresh_from_db()
    assert status.access_ok is True
    assert status.alert == ""
    drain_once(client=client())
    assert not OutboxEntry.objects.exists()


def test_staff_set_a_users_spreadsheet_in_admin_and_their_calls_are_queued_for_it(no_sheets, provider, user,
                                                                                    admin_client):
    from django.urls import reverse

    call = place(provider, user)
    change = reverse("admin:users_user_change", args=[user.pk])
    page = admin_client.get(change)
    form = {name: value for name, value in page.context["adminform"].form.initial.items() if value is not None}
    for name in ("groups", "user_permissions", "last_login", "date_joined"):
        form.pop(name, None)
    form.update({"scopes": '["calls:read", "calls:write", "credits:read"]', "rate_limits": "{}",
                 "date_joined_0": "2025-01-01", "date_joined_1": "00:00:00", "is_active": "on"})
    bad = admin_client.post(change, {**form, "sheets_spreadsheet_id": "nope"})
    assert bad.status_code == 200
    assert "is not a Google spreadsheet id" in bad.content.decode()

    sheet = "StaffChosenSheet0123456789abcdef"
    saved = admin_client.post(change, {**form, "sheets_spreadsheet_id": f"https://docs.google.com/spreadsheets/d/{sheet}/edit"})
    assert saved.status_code == 302, saved.content.decode()[:3000]
    user.refresh_from_db()
    assert user.sheets_spreadsheet_id == sheet
    assert OutboxEntry.objects.filter(call=call, spreadsheet_id=sheet).exists()
