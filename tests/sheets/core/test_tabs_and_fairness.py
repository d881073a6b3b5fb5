"""Month tabs that already exist get their header; a spreadsheet near Google's cell cap is warned about;
no spreadsheet waits behind a busy one; the breaker closing sends the backlog oldest-first."""

from __future__ import annotations

import logging

import pytest
from django.core.cache import cache

from sheets_sync import layout
from sheets_sync.client import reset_sheets_client
from sheets_sync.drain import RESYNC_KEY, drain_once
from sheets_sync.events import BreakerClosed, breaker_closed
from sheets_sync.models import OutboxEntry, SpreadsheetStatus
from tests.sheets.core.conftest import client, place, report

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]


def test_a_tab_that_exists_without_a_header_gets_one(sheets, provider, user, account):
    call = place(provider, user)
    tab = layout.tab_title(call.created_at)
    own = sheets.new_spreadsheet(shared_with=[account["client_email"]], sheets=[tab])
    sheets.settings.SHEETS_OPERATIONS_SPREADSHEET_ID = own
    from sheets_sync.services import spreadsheet_resync

    spreadsheet_resync(spreadsheet_id=own)
    drain_once(client=client())
    rows = sheets.values(own)[tab]
    assert rows[0] == layout.HEADER
    assert [r[0] for r in rows[1:]] == [str(call.id)]


def test_a_spreadsheet_near_the_cell_cap_is_warned_about(sheets, provider, user, admin_client, caplog):
    sheets.settings.SHEETS_CELL_WARNING_RATIO = 0.001  # 10,000 cells: a new month tab is 13,000
    place(provider, user)
    with caplog.at_level(logging.WARNING, logger="sheets_sync.tabs"):
        drain_once(client=client())
    status = SpreadsheetStatus.objects.get(spreadsheet_id=sheets.ops)
    assert "cells of Google's 10,000,000" in status.size_warning
    assert any("cells of Google's" in r.getMessage() for r in caplog.records)
    page = admin_client.get("/admin/sheets_sync/spreadsheetstatus/monitor/")
    assert "cells of Google&#x27;s 10,000,000" in page.content.decode()


def test_no_spreadsheet_waits_behind_a_busy_one(sheets, provider, make_user, account):
    from users.services import user_set_spreadsheet

    sheets.settings.SHEETS_OPERATIONS_SPREADSHEET_ID = ""
    heavy, *light = [make_user(f"u{i}", credits=1_000) for i in range(4)]
    sheet_of = {}
    for owner in (heavy, *light):
        sheet_of[owner.pk] = sheets.new_spreadsheet(shared_with=[account["client_email"]])
        user_set_spreadsheet(user=owner, spreadsheet_id=sheet_of[owner.pk])
    for _ in range(6):
        place(provider, heavy)
    for owner in light:
        place(provider, owner)
    sheets.settings.SHEETS_MAX_BATCH_BYTES = 1_100  # one row a request: the quota, not the rows, is shared
    # Each spreadsheet's first turn makes its tab (metadata, addSheet, header) and writes one row.
    report = drain_once(client=client(), max_requests=4 * 4)
    assert report.requests <= 4 * 4 + 3
    for owner in light:
        assert not OutboxEntry.objects.filter(spreadsheet_id=sheet_of[owner.pk]).exists()  # served in round one
    assert OutboxEntry.objects.filter(spreadsheet_id=sheet_of[heavy.pk]).count() == 5  # one turn, like the rest
    drain_once(client=client())
    assert not OutboxEntry.objects.exists()


def test_the_breaker_closing_sends_the_backlog_oldest_first(sheets, provider, user):
    sheets.settings.SHEETS_CREDENTIALS = ""  # Sheets unusable while the backlog builds
    reset_sheets_client()
    older = place(provider, user)
    newer = report(place(provider, user), queue_status="complete", status="completed", completed=True,
                   duration_seconds=5)  # critical, but younger
    sheets.settings.SHEETS_CREDENTIALS = sheets.key_json
    reset_sheets_client()
    sheets.settings.SHEETS_MAX_BATCH_BYTES = 1_100  # one row a request

    breaker_closed.send_now(BreakerClosed(closed_at=0.0))
    assert cache.get(RESYNC_KEY)
    drain_once(client=client(), max_requests=4)  # metadata, new tab, header, then one row: the oldest
    tab = layout.tab_title(older.created_at)
    assert [r[0] for r in sheets.values(sheets.ops)[tab][1:]] == [str(older.id)]
    assert drain_once(client=client()).stopped == "empty"
    assert cache.get(RESYNC_KEY) is None  # the backlog is gone: back to critical first
    assert [r[0] for r in sheets.values(sheets.ops)[tab][1:]] == [str(older.id), str(newer.id)]
