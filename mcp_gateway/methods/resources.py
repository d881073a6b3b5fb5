"""resources/list, resources/templates/list and resources/read.

A URI resolves to a static resource or the first template that matches it. A resource the token has
no scope for is refused with ``insufficient_scope`` naming the scope; one that does not exist, or is
another user's (the reader raises ``NotFound``), is "not found".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mcp_types as types

from config.errors import DomainError
from mcp_gateway import boundary, errors
from mcp_gateway.context import RequestScope
from mcp_gateway.methods.base import MethodCall, Methods, allowed, call_handler, missing_scopes, page
from mcp_gateway.registry import Registry
from mcp_gateway.results import resource_contents
from mcp_gateway.wire import dump


async def resources_list(call: MethodCall) -> dict[str, Any]:
    registry, scope, definitions = call.server.registry, call.scope, call.server.definitions.resources
    resources = [definitions[uri] for uri, spec in sorted(registry.resources.items()) if allowed(spec, scope)]
    for _, lister in sorted(registry.listers.items()):
        if allowed(lister, scope):
            resources.extend(await call_handler(lister.handler, scope))
    return page(call, resources, "resources")


async def templates_list(call: MethodCall) -> dict[str, Any]:
    registry, scope, definitions = call.server.registry, call.scope, call.server.definitions.templates
    templates = [definitions[uri] for uri, spec in sorted(registry.templates.items()) if allowed(spec, scope)]
    return page(call, templates, "resourceTemplates")


Resolved = tuple[Callable[..., Any], dict[str, str], str | None]


def resolve(registry: Registry, scope: RequestScope, uri: str) -> Resolved:
    """The reader of ``uri``, its template variables and MIME type."""
    static = registry.resources.get(uri)
    found = (static, {}) if static is not None else registry.find_template(uri)
    if found is None:
        raise boundary.resource_not_found(uri, modern=scope.modern)
    spec, variables = found
    if not allowed(spec, scope):
        missing = missing_scopes(spec, scope)
        raise errors.InsufficientScope(f"Reading {uri} needs the scope(s) {', '.join(missing)}.", required=missing)
    return spec.reader, variables, spec.mime_type


async def read(scope: RequestScope, registry: Registry, uri: str) -> tuple[Any, str | None]:
    """What the reader of ``uri`` returns and its MIME type; domain failures mapped at the boundary."""
    reader, variables, mime_type = resolve(registry, scope, uri)
    try:
        return await call_handler(reader, scope, uri, **variables), mime_type
    except DomainError as exc:
        raise boundary.resource_failure(exc, uri=uri, modern=scope.modern) from None


async def resources_read(call: MethodCall) -> dict[str, Any]:
    uri = call.params["uri"]
    value, mime_type = await read(call.scope, call.server.registry, uri)
    return dump(types.ReadResourceResult.model_validate({"contents": resource_contents(uri, value, mime_type)}))


def register(methods: Methods) -> None:
    methods.add("resources/list", resources_list)
    methods.add("resources/templates/list", templates_list)
    methods.add("resources/read", resources_read, streams=True)
