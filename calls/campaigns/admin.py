"""Staff views of campaigns: each with its calls, counts and spend, and a "stop" action (``campaign_cancel``).
Read-only otherwise: a campaign changes only through ``calls.campaigns.services``."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet, Sum
from django.http import HttpRequest

from calls.campaigns import services
from calls.campaigns.selectors import campaign_totals
from calls.models import TERMINAL_STATUSES, Call, Campaign
from calls.providers import configured_provider
from config.errors import DomainError


class CampaignCallInline(admin.TabularInline):
    model = Call
    fields = ("campaign_index", "to_number", "status", "answered_by", "duration_seconds", "reserved_credits",
              "cost_credits")
    readonly_fields = fields
    ordering = ("campaign_index",)
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("created_at", "owner", "name", "status", "total_calls", "ended_calls", "spent_credits",
                    "reserved_credits")
    list_filter = ("status", ("created_at", admin.DateFieldListFilter))
    search_fields = ("name", "provider_batch_id", "owner__username")
    search_help_text = "Name, provider batch id or owner's username."
    list_select_related = ("owner",)
    inlines = [CampaignCallInline]
    actions = ["stop_campaigns"]
    fields = ("id", "owner", "name", "status", "total_calls", "counts", "task", "pathway_id", "voice", "language",
              "max_duration", "record", "start_time", "reserved_credits", "spend", "provider", "provider_batch_id",
              "created_at", "placed_at", "cancelled_at", "completed_at")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Campaign]:
        return super().get_queryset(request).annotate(
            ended=Count("calls", filter=Q(calls__status__in=list(TERMINAL_STATUSES))),
            spent=Sum("calls__cost_credits"))

    @admin.display(description="Ended", ordering="ended")
    def ended_calls(self, campaign: Any) -> int:
        return int(campaign.ended or 0)

    @admin.display(description="Spent credits", ordering="spent")
    def spent_credits(self, campaign: Any) -> int:
        return int(campaign.spent or 0)

    @admin.display(description="Calls by status")
    def counts(self, campaign: Campaign) -> str:
        totals = campaign_totals(campaign=campaign)
        return ", ".join(f"{status}: {n}" for status, n in totals.counts.items() if n) or "none"

    @admin.display(description="Spend")
    def spend(self, campaign: Campaign) -> str:
        totals = campaign_totals(campaign=campaign)
        released = max(0, campaign.reserved_credits - totals.held - totals.spent)
        return f"{totals.spent} spent, {totals.held} still held, {released} released"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request)  # the action needs it; pages are read-only

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Stop selected campaigns", permissions=["change"])
    def stop_campaigns(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        stopped, provider = 0, configured_provider()
        for campaign in queryset:
            try:
                services.campaign_cancel(provider=provider, campaign=campaign, source="admin")
            except DomainError as exc:
                self.message_user(request, f"{campaign.id}: {exc.message} [{exc.code}]", messages.ERROR)
            else:
                stopped += 1
        if stopped:
            self.message_user(request, f"Stopped {stopped} campaign(s).", messages.SUCCESS)
