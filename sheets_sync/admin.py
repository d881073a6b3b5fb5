"""Django admin for the Sheets call log: the monitor page (traffic, quota, breaker, alerts, backlog per
spreadsheet, configuration problems), the spreadsheets with their actions (force a resync, re-check
access, drain now) and the outbox, read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, Min, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from sheets_sync import services
from sheets_sync.models import OutboxEntry, SheetRow, SpreadsheetStatus


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OutboxEntry)
class OutboxEntryAdmin(ReadOnly):
    list_display = ("call", "spreadsheet_id", "tab", "critical", "created_at", "updated_at", "attempts", "last_error")
    list_filter = ("critical", "spreadsheet_id")
    search_fields = ("call__id", "spreadsheet_id")
    raw_id_fields = ("call",)


@admin.register(SheetRow)
class SheetRowAdmin(ReadOnly):
    list_display = ("call", "spreadsheet_id", "tab", "row_number", "written_at")
    list_filter = ("spreadsheet_id", "tab")
    search_fields = ("call__id", "spreadsheet_id")
    raw_id_fields = ("call",)


@admin.register(SpreadsheetStatus)
class SpreadsheetStatusAdmin(ReadOnly):
    list_display = ("spreadsheet_id", "waiting", "oldest_waiting", "access", "alert_text", "last_success_at",
                    "cell_count", "rows_written")
    readonly_fields = [f.name for f in SpreadsheetStatus._meta.fields]
    actions = ["force_resync", "recheck_access", "drain_now"]
    change_list_template = "admin/sheets_sync/spreadsheetstatus/change_list.html"

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        backlog = {row["spreadsheet_id"]: row for row in services.backlog()}
        for spreadsheet_id in backlog:
            SpreadsheetStatus.objects.get_or_create(spreadsheet_id=spreadsheet_id)
        self._backlog = backlog
        context = {"monitor_url": reverse("admin:sheets_sync_monitor"), **(extra_context or {})}
        return super().changelist_view(request, extra_context=context)

    def _row(self, status: SpreadsheetStatus) -> dict[str, Any]:
        return getattr(self, "_backlog", {}).get(status.spreadsheet_id, {})

    @admin.display(description="rows waiting")
    def waiting(self, status: SpreadsheetStatus) -> int:
        return int(self._row(status).get("waiting", 0))

    @admin.display(description="oldest waiting (s)")
    def oldest_waiting(self, status: SpreadsheetStatus) -> str:
        row = self._row(status)
        if not row:
            return "-"
        return format_html('<span style="color:{}">{}</span>', "#ba2121" if row["alert"] else "inherit",
                           f"{row['age_seconds']:.0f}")

    @admin.display(description="access")
    def access(self, status: SpreadsheetStatus) -> str:
        return {True: "ok", False: "refused", None: "not checked"}[status.access_ok]

    @admin.display(description="alert")
    def alert_text(self, status: SpreadsheetStatus) -> str:
        return status.alert or status.size_warning or ""

    @admin.action(description="Force a resync: write every call's row again from the database")
    def force_resync(self, request: HttpRequest, queryset: QuerySet[SpreadsheetStatus]) -> None:
        for status in queryset:
            count = services.spreadsheet_resync(spreadsheet_id=status.spreadsheet_id)
            self.message_user(request, f"{status.spreadsheet_id}: {count} rows queued for a resync.")
        services.drain_kick_all()

    @admin.action(description="Re-check access (one read from Sheets)")
    def recheck_access(self, request: HttpRequest, queryset: QuerySet[SpreadsheetStatus]) -> None:
        for status in queryset:
            problem = services.spreadsheet_check_access(spreadsheet_id=status.spreadsheet_id)
            if problem:
                self.message_user(request, problem, messages.ERROR)
            else:
                self.message_user(request, f"{status.spreadsheet_id}: the service account can write to it.")

    @admin.action(description="Drain now")
    def drain_now(self, request: HttpRequest, queryset: QuerySet[SpreadsheetStatus]) -> None:
        SpreadsheetStatus.objects.filter(pk__in=queryset.values("pk")).update(blocked_until=None)
        services.drain_kick_all(spreadsheet_ids=[s.spreadsheet_id for s in queryset])
        self.message_user(request, "A drain was started for the selected spreadsheets.")

    def get_urls(self) -> list[URLPattern]:
        monitor = path("monitor/", self.admin_site.admin_view(self.monitor_view), name="sheets_sync_monitor")
        return [monitor, *super().get_urls()]

    def monitor_view(self, request: HttpRequest) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": "Google Sheets call log",
            "opts": self.model._meta,
            "now": timezone.now(),
            **services.monitor_page(),
            "statuses": SpreadsheetStatus.objects.filter(alert__gt="") | SpreadsheetStatus.objects.filter(
                size_warning__gt=""),
            "entries": OutboxEntry.objects.aggregate(total=Count("id"), oldest=Min("created_at")),
        }
        return TemplateResponse(request, "admin/sheets_sync/monitor.html", context)
