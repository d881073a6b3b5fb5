"""The Sheets call log's state in the database: what waits to be written, where each call's row is, and
how each spreadsheet is doing.

``OutboxEntry`` is the transactional outbox: one entry per call and target spreadsheet, holding the
row's latest values. ``sheets_sync.outbox`` writes it in the transaction of the call change (so it
commits or rolls back with it); repeated changes before a drain overwrite it (``version`` moves), and the
drain deletes it only if the version it wrote is still the latest. While Sheets is down, over quota or
misconfigured, entries wait here: this is the fallback storage, nothing else is.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class OutboxEntry(models.Model):
    call = models.ForeignKey("calls.Call", on_delete=models.CASCADE, related_name="sheets_outbox")
    spreadsheet_id = models.CharField(max_length=128)
    tab = models.CharField(max_length=100, help_text="The month tab the call's row lives in.")
    payload = models.JSONField(help_text="The row's latest values, in the layout's column order.")
    critical = models.BooleanField(default=False, help_text="The call ended, failed or was charged.")
    version = models.PositiveBigIntegerField(default=1, help_text="Moves on every change; the drain checks it.")
    created_at = models.DateTimeField(default=timezone.now, help_text="The oldest change not yet written.")
    updated_at = models.DateTimeField(default=timezone.now, help_text="The latest change.")
    attempts = models.PositiveIntegerField(default=0, help_text="Requests that carried it and failed.")
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = "outbox entry"
        verbose_name_plural = "outbox entries"
        ordering = ["-critical", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["call", "spreadsheet_id"], name="sheets_outbox_one_per_call_and_sheet"),
        ]
        indexes = [
            models.Index(fields=["spreadsheet_id", "-critical", "created_at", "id"], name="sheets_outbox_drain_order"),
            models.Index(fields=["created_at"], name="sheets_outbox_age"),
        ]

    def __str__(self) -> str:
        return f"call {self.call_id} -> {self.spreadsheet_id} ({'critical' if self.critical else 'progress'})"


class SheetRow(models.Model):
    """Where a call's row is in a spreadsheet, from append's answer: later states are written there."""

    call = models.ForeignKey("calls.Call", on_delete=models.CASCADE, related_name="sheet_rows")
    spreadsheet_id = models.CharField(max_length=128)
    tab = models.CharField(max_length=100)
    row_number = models.PositiveIntegerField()
    written_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["call", "spreadsheet_id"], name="sheets_row_one_per_call_and_sheet"),
        ]
        indexes = [models.Index(fields=["spreadsheet_id", "tab", "row_number"], name="sheets_row_position")]

    def __str__(self) -> str:
        return f"{self.spreadsheet_id} {self.tab}!{self.row_number}"


class SpreadsheetStatus(models.Model):
    """One spreadsheet the log writes to: health, size, access, and the drain's bookkeeping."""

    spreadsheet_id = models.CharField(max_length=128, unique=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    alert = models.TextField(blank=True, help_text="What staff must fix (access, tab, size); empty when fine.")
    alert_at = models.DateTimeField(null=True, blank=True)
    cell_count = models.PositiveBigIntegerField(default=0, help_text="Cells in all tabs (Google's cap: 10 million).")
    size_warning = models.TextField(blank=True, help_text="Set when the spreadsheet nears Google's cell cap.")
    size_warning_at = models.DateTimeField(null=True, blank=True)
    access_ok = models.BooleanField(null=True, help_text="The last access check: None = not checked yet.")
    access_checked_at = models.DateTimeField(null=True, blank=True)
    access_error = models.TextField(blank=True)
    tabs = models.JSONField(default=dict, blank=True, help_text="Known tabs: {title: {rows, columns, header}}.")
    reconcile_tabs = models.JSONField(
        default=list, blank=True, help_text="Tabs whose last append may have been applied unseen: read back first.")
    blocked_until = models.DateTimeField(null=True, blank=True, help_text="Refused by Sheets: not tried before.")
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_served_at = models.DateTimeField(null=True, blank=True)
    deficit = models.FloatField(default=0.0, help_text="Deficit round robin: requests it is owed.")
    rows_written = models.PositiveBigIntegerField(default=0)
    requests = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = "spreadsheet status"
        verbose_name_plural = "spreadsheet statuses"
        ordering = ["spreadsheet_id"]

    def __str__(self) -> str:
        return self.spreadsheet_id
