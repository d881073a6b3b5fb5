"""The MCP tools of the calls app, one module per subject. Tool names are the public contract.

The registry discovers ``calls.mcp_tools`` (``mcp_gateway.registry.DISCOVERED_MODULES``) and registers the
tools this package names; a tool module not imported here is not served.
"""

from calls.campaigns.mcp_tools import cancel_campaign, get_campaign, list_campaigns, make_call_campaign
from calls.mcp_tools.account import get_account_status, list_voices
from calls.mcp_tools.analysis import analyze_call, analyze_campaign
from calls.mcp_tools.phone_calls import (
    cancel_call,
    get_call_details,
    get_call_history,
    get_call_recording,
    get_call_transcript,
    make_phone_call,
)

__all__ = [
    "analyze_call", "analyze_campaign", "cancel_call", "cancel_campaign", "get_account_status", "get_campaign",
    "get_call_details", "get_call_history", "get_call_recording", "get_call_transcript", "list_campaigns",
    "list_voices", "make_call_campaign", "make_phone_call",
]
