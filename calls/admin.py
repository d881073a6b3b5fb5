"""Staff views of calls. Calls are changed only through ``calls.services`` (the actions below), never by
editing fields: every field is read-only, so credits and events stay consistent with the call."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from calls import services
from calls.models import Call, CallAnalysis, CallEvent
from calls.providers import configured_provider
from config.errors import DomainError


class ReadOnlyInline(admin.TabularInline):
    """Rows written only by services: shown, never added, edited or deleted here."""

    extra = 0
    max_num = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CallEventInline(ReadOnlyInline):
    model = CallEvent
    fields = ("created_at", "source", "from_status", "to_status", "detail")
    readonly_fields = fields
    show_change_link = True


def _pretty_json(value: Any) -> str:
    return format_html('<pre style="white-space: pre-wrap; max-height: 40em; overflow: auto">{}</pre>',
                       json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str))


class CallAnalysisInline(ReadOnlyInline):
    """The answers of analyzeCall on this call: each question beside its answer, newest analysis first."""

    model = CallAnalysis
    verbose_name = "analysis"
    verbose_name_plural = "analyses (analyzeCall)"
    fields = ("created_at", "source", "goal", "answers_table", "answer_schema_pretty", "provider_credits")
    readonly_fields = fields

    @admin.display(description="Questions and answers")
    def answers_table(self, analysis: CallAnalysis) -> str:
        answers, keys = analysis.answers, analysis.answer_keys
        values = [answers.get(key) for key in keys] if isinstance(answers, dict) and keys else list(answers or [])
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td></tr>",
            ((question, json.dumps(value, ensure_ascii=False, default=str))
             for question, value in zip(analysis.questions, values, strict=False)),
        )
        return format_html("<table><tr><th>Question</th><th>Answer</th></tr>{}</table>", rows)

    @admin.display(description="Answer schema")
    def answer_schema_pretty(self, analysis: CallAnalysis) -> str:
        return _pretty_json(analysis.answer_schema) if analysis.answer_schema is not None else "-"


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = ("created_at", "owner", "to_number", "status", "answered_by", "duration_seconds", "cost_credits")
    list_filter = ("status", "answered_by", "provider", ("created_at", admin.DateFieldListFilter))
    search_fields = ("provider_call_id", "to_number", "owner__username")
    search_help_text = "Call id, provider call id, number or owner's username."
    list_select_related = ("owner",)
    date_hierarchy = "created_at"
    inlines = [CallAnalysisInline, CallEventInline]
    actions = ["cancel_calls", "refresh_calls"]
    fieldsets = (
        (None, {"fields": ("id", "owner", "status", "answered_by", "to_number", "from_number", "created_at",
                           "updated_at", "started_at", "ended_at", "duration_seconds", "error_message")}),
        ("Request", {"fields": ("task", "pathway_id", "voice", "first_sentence", "language", "max_duration", "record",
                                "wait_for_greeting", "start_time", "idempotency_key", "metadata_pretty",
                                "request_data_pretty")}),
        ("Credits", {"fields": ("reserved_credits", "cost_credits", "provider_price")}),
        ("Outcome", {"fields": ("summary", "ended_by", "disposition", "transcript_pretty", "recording_url",
                                "recording_file", "recording_content_type", "recording_bytes")}),
        ("Provider", {"classes": ("collapse",), "fields": ("provider", "provider_call_id", "queue_status",
                                                           "provider_payload_pretty")}),
    )
    readonly_fields = tuple(str(field) for group in fieldsets for field in group[1]["fields"])

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The actions need the change permission; the change page is view-only (services own every write).
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the credit ledger references calls; cancel instead

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Call],
                           search_term: str) -> tuple[QuerySet[Call], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        try:
            call_id = uuid.UUID(search_term.strip())
        except ValueError:
            return results, may_have_duplicates
        return results | queryset.filter(pk=call_id), may_have_duplicates

    @admin.display(description="Provider's last raw answer")
    def provider_payload_pretty(self, call: Call) -> str:
        return _pretty_json(call.provider_payload)

    @admin.display(description="Metadata")
    def metadata_pretty(self, call: Call) -> str:
        return _pretty_json(call.metadata)

    @admin.display(description="Request data")
    def request_data_pretty(self, call: Call) -> str:
        return _pretty_json(call.request_data)

    @admin.display(description="Transcript")
    def transcript_pretty(self, call: Call) -> str:
        return _pretty_json(call.transcript)

    def _each(self, request: HttpRequest, queryset: QuerySet[Call], service: Callable[..., Call], done: str) -> None:
        succeeded, provider = 0, configured_provider()
        for call in queryset.select_related("owner"):
            try:
                service(provider=provider, call=call, source="admin")
            except DomainError as exc:
                self.message_user(request, f"{call.id} ({call.to_number}): {exc.message} [{exc.code}]", messages.ERROR)
            else:
                succeeded += 1
        if succeeded:
            self.message_user(request, f"{done} {succeeded} call(s).", messages.SUCCESS)

    @admin.action(description="Cancel selected calls", permissions=["change"])
    def cancel_calls(self, request: HttpRequest, queryset: QuerySet[Call]) -> None:
        self._each(request, queryset, services.call_cancel, "Cancelled")

    @admin.action(description="Refresh from provider", permissions=["change"])
    def refresh_calls(self, request: HttpRequest, queryset: QuerySet[Call]) -> None:
        self._each(request, queryset, services.call_refresh, "Refreshed")


@admin.register(CallEvent)
class CallEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "call", "source", "from_status", "to_status", "detail")
    list_filter = ("source", "to_status")
    search_fields = ("call__provider_call_id", "detail")
    search_help_text = "Call id, provider call id or detail."
    list_select_related = ("call",)
    readonly_fields = ("call", "source", "from_status", "to_status", "detail", "payload_pretty", "created_at")
    fields = readonly_fields

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[CallEvent],
                           search_term: str) -> tuple[QuerySet[CallEvent], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        try:
            call_id = uuid.UUID(search_term.strip())
        except ValueError:
            return results, may_have_duplicates
        return results | queryset.filter(call_id=call_id), may_have_duplicates

    @admin.display(description="Payload")
    def payload_pretty(self, event: CallEvent) -> str:
        return _pretty_json(event.payload)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


from calls.campaigns import admin as campaigns_admin  # noqa: E402, F401 - registers campaigns
from calls.poller import admin as poller_admin  # noqa: E402, F401 - registers the poller's runs and dead letters
