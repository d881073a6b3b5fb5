"""Inputs of the campaign tools, as pydantic models (their inputSchema is generated from these). The rows of a
campaign are checked by ``calls.campaigns.validation``, not here, so that one answer lists every bad row."""

from __future__ import annotations

from typing import Annotated, Any

from django.conf import settings
from pydantic import Field, WithJsonSchema

from calls.campaigns.validation import MAX_CALLS
from calls.mcp_models import Arguments, DateTime
from calls.shapes import enum_schema
from calls.validation import LANGUAGES

# The service checks every row (numbers, duplicates, unknown fields, sizes) and answers one invalid_campaign
# error listing each bad row by index; the schema states the types.
ROW_SCHEMA = {
    "type": "object",
    "properties": {
        "phone_number": {"type": "string", "description": "Who to call, in E.164 format: +14155550123."},
        "request_data": {"type": "object", "description": "Variables for this call, used as {{name}} in the task."},
        "metadata": {"type": "object", "description": "Your own data, returned with the call."},
    },
    "required": ["phone_number"],
}
# No maxItems: a campaign over the limit is refused by the service, which says so (campaign_too_large) the
# same way over MCP and REST.
Rows = Annotated[list[Any], WithJsonSchema({"type": "array", "items": ROW_SCHEMA})]
CAMPAIGN_ID = Field(description="The campaign_id returned by makeCallCampaign.", json_schema_extra={"format": "uuid"})


class MakeCallCampaignInput(Arguments):
    calls: Rows = Field(description=f"One row per number (1 to {MAX_CALLS:,}, each number once), each with its own "
                                    "request_data.")
    task: str = Field("", max_length=2000, description="What the AI agent does on every call; {{name}} is filled "
                                                      "from each row's request_data.")
    pathway_id: str = Field("", max_length=64, description="A Bland conversational pathway instead of a task.")
    name: str = Field("", max_length=60, description="A label for the campaign.")
    voice: str = Field("", max_length=64, description="A voice listVoices shows, e.g. 'maya' (default: Bland's).")
    first_sentence: str = Field("", max_length=500, description="The agent's opening line.")
    language: Annotated[str, enum_schema(LANGUAGES)] | None = Field(None, description="Language code, e.g. 'en-US'.")
    max_duration: int | None = Field(
        None, ge=1, le=720, description=("Longest each call may last, in minutes (default "
                                         f"{settings.CALL_DEFAULT_MAX_DURATION_MINUTES}); sets the reservation."))
    record: bool = Field(False, description="Record every call's audio.")
    wait_for_greeting: bool = Field(False, description="Let each callee speak first.")
    start_time: DateTime | None = Field(None, description="Schedule every call (at least 5 minutes ahead), with a "
                                                         "UTC offset.")
    confirm_spend: bool = Field(False, description="Confirms the reservation when the server asks for confirmation "
                                                   "and your client cannot show the question to the user.")


class GetCampaignInput(Arguments):
    campaign_id: str = CAMPAIGN_ID
    calls_offset: int = Field(0, ge=0, le=MAX_CALLS, description="First row of the page of calls shown.")
    calls_limit: int = Field(20, ge=0, le=100, description="How many of its calls to show (0: only the counts).")


class CampaignRef(Arguments):
    campaign_id: str = CAMPAIGN_ID


class ListCampaignsInput(Arguments):
    limit: int = Field(20, ge=1, le=100)
    offset: int = Field(0, ge=0)
