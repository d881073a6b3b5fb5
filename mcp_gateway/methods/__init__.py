"""The MCP methods, one module per feature, each registering its methods into the dispatcher's table."""

from __future__ import annotations

from mcp_gateway.methods import completion, logs, prompts, resources, session, subscriptions, tasks, tools
from mcp_gateway.methods.base import MethodCall, Methods, Server

MODULES = (session, logs, tools, tasks, resources, prompts, completion, subscriptions)


def method_table() -> Methods:
    methods = Methods()
    for module in MODULES:
        module.register(methods)
    return methods


__all__ = ["MODULES", "MethodCall", "Methods", "Server", "method_table"]
