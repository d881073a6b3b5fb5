"""Fixture tools, resources and prompts the official MCP conformance suite expects.

Served only by ``manage.py mcp_conformance_server`` (``config.settings.conformance`` lists these modules
in ``MCP_PRIMITIVE_MODULES`` and discovers no app's primitives); never in a normal server. They exercise
the same dispatcher and transports as the domain tools.
"""

MODULES = (
    "mcp_gateway.conformance.tools",
    "mcp_gateway.conformance.elicitation",
    "mcp_gateway.conformance.resources",
    "mcp_gateway.conformance.modern",
    "mcp_gateway.conformance.tasks",
)
