"""The ``campaigns://{campaign_id}`` resource (registered through ``calls.mcp_resources``): a campaign as
getCampaign shows it. Subscribers get ``notifications/resources/updated`` whenever one of its calls changes
and when the campaign is placed, stopped or finished (``calls.events``); only the owner (or staff) reads it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from calls.campaigns import selectors, services
from calls.campaigns.mcp_tools import own_campaign
from calls.campaigns.shapes import campaign_details
from calls.events import CallChanged, CampaignChanged, call_changes, campaign_changes
from calls.mcp_access import owner_id
from calls.providers import configured_provider
from mcp_gateway import db, notify
from mcp_gateway.context import RequestScope
from mcp_gateway.registry import mcp_resource_lister, mcp_resource_template
from users import resource_cache, scopes

LISTED_CAMPAIGNS = 20


def campaign_uri(campaign_id: object) -> str:
    return f"campaigns://{campaign_id}"


def _campaign_ids(ctx: RequestScope, value: str, context: dict[str, str]) -> list[str]:
    return selectors.campaign_ids_starting_with(owner_id=owner_id(ctx), prefix=value)


@mcp_resource_template(
    uri_template="campaigns://{campaign_id}",
    name="Campaign",
    description=("One of your campaigns as JSON: status, calls by status, progress, spend and its first 20 calls. "
                 "Subscribe to follow it: an update comes each time one of its calls changes."),
    mime_type="application/json",
    scopes=[scopes.CALLS_READ],
    completers={"campaign_id": _campaign_ids},
)
async def campaign(ctx: RequestScope, uri: str, campaign_id: str) -> Any:
    def read() -> dict[str, Any]:
        found = own_campaign(ctx, campaign_id)
        services.campaign_link_if_due(provider=configured_provider(), campaign=found)
        return campaign_details(found).as_json()

    return json.dumps(await db.run(read))


@mcp_resource_lister(name="recent_campaigns", description="Your most recent campaigns", scopes=[scopes.CALLS_READ])
async def recent_campaigns(ctx: RequestScope) -> list[dict[str, Any]]:
    def read() -> list[dict[str, Any]]:
        found, _ = selectors.campaign_list(owner_id=owner_id(ctx), limit=LISTED_CAMPAIGNS)
        return [{"uri": campaign_uri(c.id), "name": c.name or f"Campaign of {c.total_calls} calls",
                 "description": f"{c.status} campaign created {c.created_at:%Y-%m-%d %H:%M} UTC",
                 "mimeType": "application/json"} for c in found]

    return await db.run(read)


@call_changes.subscribe_many
def campaign_calls_changed(events: Sequence[CallChanged]) -> None:
    """Each campaign some of the changed calls belong to: one notification, and one look at whether it is done."""
    campaigns = {event.campaign_id: event.owner_id for event in events if event.campaign_id is not None}
    notify.publish_many((owner, notify.updated_message(campaign_uri(campaign_id)))
                        for campaign_id, owner in campaigns.items())
    for campaign_id in campaigns:
        services.campaign_sync_status(campaign_id=campaign_id)


@campaign_changes.subscribe
def campaign_changed(event: CampaignChanged) -> None:
    """The campaign's subscribers hear it; a new campaign also changes the history and the resource list
    (the notifications go out together: one trip to the event loop)."""
    messages = [notify.updated_message(campaign_uri(event.campaign_id))]
    if event.created:
        resource_cache.invalidate(event.owner_id, *resource_cache.HOT)
        messages += [notify.updated_message("calls://history"), notify.list_changed_message()]
    notify.publish_many((event.owner_id, message) for message in messages)
