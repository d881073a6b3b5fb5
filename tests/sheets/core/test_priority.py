"""Critical rows against a spent window, a change that lands while its row is being written, and the beat
task that publishes the Sheets gauges."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.utils import timezone

from sheets_sync import bulk, layout
from sheets_sync.client import reset_sheets_client
from sheets_sync.drain import drain_once
from sheets_sync.models import OutboxEntry, SheetRow
from sheets_sync.tasks import publish_metrics_task
from tests.sheets.api.test_monitor import emitted  # noqa: F401 - fixture
from tests.sheets.core.conftest import OPS_ID, client, place, report

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]

STATUS = layout.HEADER.index("Status")


def writes(emulator) -> list[dict]:  # noqa: ANN001
    return [entry for entry in emulator.log() if entry["kind"] == "write"]


def test_a_critical_row_goes_at_once_after_progress_rows_spent_the_window_down_to_the_reserve(
        sheets, provider, user, settings):
    settings.SHEETS_WRITES_PER_MINUTE_PER_USER = 6
    settings.SHEETS_CRITICAL_RESERVE = 2
    settings.SHEETS_PACE_BURST = 0
    settings.SHEETS_MAX_BATCH_BYTES = 1_100  # one row a request
    reset_sheets_client()
    calls = [place(provider, user) for _ in range(5)]

    progress = drain_once(client=client())
    assert progress.stopped == "quota"  # not waiting most of a minute for a token
    assert len(writes(sheets)) == 4  # the new tab, its header and two rows: the last 2 tokens are kept
    assert OutboxEntry.objects.count() == 3

    ended = report(calls[-1], queue_status="complete", status="completed", completed=True, duration_seconds=42)
    rows = {row[0]: row for row in sheets.values(sheets.ops)[layout.tab_title(ended.created_at)][1:]}
    assert rows[str(ended.id)][STATUS] == "completed"  # the kick after commit wrote it, from the reserve
    assert not OutboxEntry.objects.filter(call=ended).exists()
    assert OutboxEntry.objects.count() == 2  # the progress rows wait for the window
    assert len(writes(sheets)) == 5


def test_a_change_made_while_its_row_is_being_written_stays_queued_for_the_next_turn(no_sheets, provider, user):
    calls = [place(provider, user) for _ in range(3)]
    batch = bulk.pending(OPS_ID, oldest_first=False, critical_only=False, limit=100)
    assert [entry.call_id for entry in batch] == [call.pk for call in calls]
    report(calls[1], queue_status="started", answered_by="human")  # lands while the request is in flight

    with transaction.atomic():
        deleted = bulk.batch_written(batch, spreadsheet_id=OPS_ID, appended_tab=batch[0].tab, first_row=2,
                                     now=timezone.now())
    assert deleted == 2
    left = OutboxEntry.objects.get()
    assert (left.call_id, left.payload[STATUS]) == (calls[1].pk, "in_progress")
    assert dict(SheetRow.objects.values_list("call_id", "row_number")) == {c.pk: n for n, c in enumerate(calls, 2)}
    [again] = bulk.pending(OPS_ID, oldest_first=False, critical_only=False, limit=100)
    assert (again.call_id, again.row) == (calls[1].pk, (batch[0].tab, 3))  # next: a batchUpdate of its row


def test_beat_publishes_the_sheets_gauges_every_minute(settings):
    from config.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["sheets-metrics"]
    assert (entry["task"], entry["schedule"]) == ("sheets_sync.publish_metrics", 60.0)
    assert entry["options"]["expires"] < 60
    assert entry["task"] in app.tasks


def test_the_metrics_task_publishes_quota_use_the_breaker_and_the_backlog(sheets, provider, user, emitted):  # noqa: F811
    place(provider, user)
    drain_once(client=client())  # 1 read (the tabs) and 3 writes (new tab, header, the row) of 60 a minute
    place(provider, user)  # waits
    before = emitted()

    publish_metrics_task.delay()

    after = emitted()
    new = {name: values[len(before.get(name, [])):] for name, values in after.items()}
    assert sorted(new["SheetsQuotaUsedPercent"]) == [1.7, 5.0]
    assert new["SheetsBreakerOpen"] == [0.0]
    assert new["SheetsBacklogRows"] == [1.0]
