"""The MCP tools of the calls app, one module per subject. Tool names are the public contract.

The registry discovers ``calls.mcp_tools`` (``mcp_gateway.registry.DISCOVERED_MODULES``) and registers the
tools this package names; a tool module not imported here is not served.
"""

from calls.mcp_tools.phone_calls import (
    cancel_call,
    get_call_details,
    get_call_history,
    get_call_recording,
    get_call_transcript,
    make_phone_call,
)

__all__ = [
    "cancel_call", "get_call_details", "get_call_history", "get_call_recording", "get_call_transcript",
    "make_phone_call",
]
