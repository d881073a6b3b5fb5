"""Change notifications: resources/subscribe and resources/unsubscribe on a legacy session, and the
2026-07-28 ``subscriptions/listen`` stream (with the tasks extension's ``taskIds`` filter for
``notifications/tasks``)."""

from __future__ import annotations

from typing import Any

from config.errors import DomainError
from mcp_gateway import boundary, errors
from mcp_gateway.jsonrpc import notification_message
from mcp_gateway.methods.base import MethodCall, Methods, call_handler
from mcp_gateway.methods.resources import resolve

SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId"
TASK_STATUS = "notifications/tasks"  # the 2026-07-28 tasks extension's status notification
LISTEN_FILTERS = {
    "toolsListChanged": "notifications/tools/list_changed",
    "promptsListChanged": "notifications/prompts/list_changed",
    "resourcesListChanged": "notifications/resources/list_changed",
}


async def subscribe(call: MethodCall) -> dict[str, Any]:
    uri = call.params["uri"]
    reader, variables, _ = resolve(call.server.registry, call.scope, uri)
    try:
        await call_handler(reader, call.scope, uri, **variables)  # the same access check as reading it
    except DomainError as exc:
        refusal = boundary.subscription_failure(exc, uri=uri, modern=call.scope.modern)
        if refusal is not None:
            raise refusal from None
    if call.session is not None and uri not in call.session.subscriptions:
        call.session.subscriptions.append(uri)
    return {}


async def unsubscribe(call: MethodCall) -> dict[str, Any]:
    uri = call.params["uri"]
    if call.session is not None and uri in call.session.subscriptions:
        call.session.subscriptions.remove(uri)
    return {}


def _readable(call: MethodCall, uri: Any) -> bool:
    try:
        resolve(call.server.registry, call.scope, uri)
    except errors.McpError:
        return False
    return True


async def listen(call: MethodCall) -> dict[str, Any]:
    """Acknowledge, then forward the caller's notifications that pass the filter until the stream closes."""
    wanted = call.params.get("notifications") or {}
    honored: dict[str, Any] = {name: True for name in LISTEN_FILTERS if wanted.get(name)}
    uris = [uri for uri in wanted.get("resourceSubscriptions") or [] if _readable(call, uri)]
    if uris:
        honored["resourceSubscriptions"] = uris
    task_ids = [task_id for task_id in wanted.get("taskIds") or [] if isinstance(task_id, str)]
    if task_ids:
        honored["taskIds"] = task_ids  # the tasks extension: notifications/tasks of these tasks
    methods = {LISTEN_FILTERS[name] for name in honored if name in LISTEN_FILTERS}
    tag = {SUBSCRIPTION_ID: call.scope.request_id}
    scope = call.scope
    async with call.server.notifier.listen(owner=scope.principal.rate_key) as messages:
        acknowledged = {"notifications": honored, "_meta": tag}
        await scope.emit(notification_message("notifications/subscriptions/acknowledged", acknowledged))
        async for message in messages:
            method = message.get("method")
            params = dict(message.get("params") or {})
            if method in methods or _subscribed(method, params, uris, task_ids):
                params["_meta"] = {**params.get("_meta", {}), **tag}
                await scope.emit(notification_message(str(method), params))
    return {"_meta": tag}


def _subscribed(method: Any, params: dict[str, Any], uris: list[str], task_ids: list[str]) -> bool:
    if method == "notifications/resources/updated":
        return params.get("uri") in uris
    return method == TASK_STATUS and params.get("taskId") in task_ids


def register(methods: Methods) -> None:
    methods.add("resources/subscribe", subscribe)
    methods.add("resources/unsubscribe", unsubscribe)
    methods.add("subscriptions/listen", listen, streams=True)
