"""Staff views of the poller: its runs (read-only) and its dead letters, with a retry action."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from calls.models import DeadLetterStatus, PollDeadLetter, PollRun
from calls.poller.deadletters import dead_letter_retry
from calls.providers import configured_provider
from config.errors import DomainError


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PollRun)
class PollRunAdmin(_ReadOnly):
    list_display = ("started_at", "status", "trigger", "processed", "changed", "failed", "dead_lettered",
                    "list_requests", "detail_requests", "lag_seconds", "finished_at")
    list_filter = ("status", "trigger")
    date_hierarchy = "started_at"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in PollRun._meta.fields]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request)


@admin.register(PollDeadLetter)
class PollDeadLetterAdmin(_ReadOnly):
    list_display = ("created_at", "call", "status", "failures", "last_error", "sqs_message_id", "retried_at",
                    "resolved_at")
    list_filter = ("status",)
    list_select_related = ("call",)
    search_fields = ("call__provider_call_id", "last_error")
    search_help_text = "Provider call id or error."
    actions = ["retry"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in PollDeadLetter._meta.fields]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The retry action needs the change permission; the change page itself is view-only.
        return obj is None and super().has_change_permission(request)

    @admin.action(description="Retry: ask the provider about the call now", permissions=["change"])
    def retry(self, request: HttpRequest, queryset: QuerySet[PollDeadLetter]) -> None:
        provider = configured_provider()
        done = 0
        for letter in queryset.exclude(status=DeadLetterStatus.RESOLVED).select_related("call"):
            try:
                call = dead_letter_retry(letter=letter, provider=provider)
            except DomainError as exc:
                self.message_user(request, f"Call {letter.call_id}: {exc.message} The poller tries it again on "
                                  "its next pass.", messages.WARNING)
            else:
                done += 1
                self.message_user(request, f"Call {call.pk} is {call.get_status_display().lower()}.", messages.INFO)
        if done:
            self.message_user(request, f"Retried {done} call(s).", messages.SUCCESS)
