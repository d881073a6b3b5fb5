"""listVoices and getAccountStatus: what a model needs before placing calls (which voices exist, how many
credits are left), read from the provider and our ledger."""

from __future__ import annotations

from calls.account import account_status, voices_page
from calls.mcp_access import owner_id
from calls.mcp_models import AccountStatus, GetAccountStatusInput, ListVoicesInput, VoiceList
from calls.providers import configured_provider
from mcp_gateway import db
from mcp_gateway.context import RequestScope
from mcp_gateway.registry import mcp_tool
from users import scopes
from users.selectors import user_get


@mcp_tool(
    name="listVoices",
    title="List the voices",
    description=("The voices the AI agent can speak with on a call, with a description and tags (language, "
                 "accent, gender). Pass a voice's name as makePhoneCall's `voice`; an unknown voice is refused "
                 "there. Filter with query, e.g. 'german male'. The list is cached, so asking again is cheap."),
    input_model=ListVoicesInput,
    output_model=VoiceList,
    annotations={"title": "List the voices", "readOnlyHint": True, "idempotentHint": True, "openWorldHint": True},
    scopes=[scopes.CALLS_READ],
)
async def list_voices(ctx: RequestScope, arguments: ListVoicesInput) -> VoiceList:
    owner_id(ctx)
    return await db.run(voices_page, provider=configured_provider(), query=arguments.query, limit=arguments.limit)


@mcp_tool(
    name="getAccountStatus",
    title="Get your account status",
    description=("Your credits: available to spend and reserved by calls that may still run (a call reserves "
                 "max_duration x the per-minute rate up front). Check before placing calls. For staff it also "
                 "shows the phone provider account's balance and plan limits (calls per day and hour, concurrency)."),
    input_model=GetAccountStatusInput,
    output_model=AccountStatus,
    annotations={"title": "Get your account status", "readOnlyHint": True, "idempotentHint": True,
                 "openWorldHint": True},
    scopes=[scopes.CREDITS_READ],
)
async def get_account_status(ctx: RequestScope, arguments: GetAccountStatusInput) -> AccountStatus:
    def read() -> AccountStatus:
        return account_status(provider=configured_provider(), user=user_get(user_id=owner_id(ctx)))

    return await db.run(read)
