"""The MCP conformance server (``manage.py mcp_conformance_server``): the base settings, with the suite's
fixtures instead of the apps' primitives and an anonymous caller instead of tokens. Loopback only;
never deploy it.
"""

from config.settings.base import *  # noqa: F403
from mcp_gateway.conformance import MODULES

MCP_AUTHENTICATOR = "mcp_gateway.auth.AnonymousAuthenticator"
MCP_DISCOVER_APPS = False
MCP_PRIMITIVE_MODULES = list(MODULES)
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
