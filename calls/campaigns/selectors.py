"""Reads for campaigns. A campaign is only reached through ``campaign_get_for_user``: one that is missing
and one that is someone else's are the same "not found"."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, Sum

from calls.campaigns.errors import CampaignNotFound
from calls.models import TERMINAL_STATUSES, Call, CallStatus, Campaign

ROW_FIELDS = ("id", "campaign_index", "to_number", "status", "answered_by", "duration_seconds", "cost_credits",
              "ended_at")


def campaign_get_for_user(*, user_id: int, campaign_id: Any, staff: bool = False) -> Campaign:
    try:
        key = uuid.UUID(str(campaign_id))
    except ValueError:
        raise CampaignNotFound(campaign_id=str(campaign_id)[:64]) from None
    query = Campaign.objects.filter(pk=key)
    if not staff:
        query = query.filter(owner_id=user_id)
    campaign = query.first()
    if campaign is None:
        raise CampaignNotFound(campaign_id=str(key))
    return campaign


def campaign_list(*, owner_id: int, limit: int = 20, offset: int = 0) -> tuple[list[Campaign], int]:
    """The owner's campaigns, newest first, and how many there are."""
    query = Campaign.objects.filter(owner_id=owner_id).order_by("-created_at", "-id")
    return list(query[offset : offset + limit]), query.count()


def campaign_ids_starting_with(*, owner_id: int, prefix: str, among: int = 100) -> list[str]:
    ids = Campaign.objects.filter(owner_id=owner_id).order_by("-created_at").values_list("id", flat=True)
    return [str(i) for i in ids[:among] if str(i).startswith(prefix)]


@dataclass(frozen=True)
class CampaignTotals:
    """Counts by status and the credits of a campaign's calls, in one query."""

    counts: dict[str, int]
    ended: int
    spent: int
    held: int
    unlinked: int


def campaign_totals(*, campaign: Campaign) -> CampaignTotals:
    calls = Call.objects.filter(campaign=campaign)
    by_status = dict(calls.values("status").annotate(n=Count("id")).values_list("status", "n"))
    money = calls.aggregate(spent=Sum("cost_credits"),
                            held=Sum("reserved_credits", filter=Q(cost_credits__isnull=True)),
                            unlinked=Count("id", filter=Q(provider_call_id__isnull=True)))
    counts = {status: int(by_status.get(status, 0)) for status in CallStatus.values}
    return CampaignTotals(counts=counts, ended=sum(counts[s] for s in TERMINAL_STATUSES),
                          spent=int(money["spent"] or 0), held=int(money["held"] or 0),
                          unlinked=int(money["unlinked"] or 0))


def campaign_calls(*, campaign: Campaign, offset: int = 0, limit: int = 20) -> list[Call]:
    """The campaign's calls in the order of its rows (only what a row shows)."""
    return list(Call.objects.filter(campaign=campaign).order_by("campaign_index").only(*ROW_FIELDS)
                [offset : offset + limit])
