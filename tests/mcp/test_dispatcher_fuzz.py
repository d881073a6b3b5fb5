"""Whatever JSON a client sends, the dispatcher answers with well-formed JSON-RPC 2.0 (or, for a
notification, nothing) and never lets an exception or an internal error out."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.redis_clients import redis_for_loop
from mcp_gateway.context import Connection, Principal
from mcp_gateway.gateway import Gateway
from mcp_gateway.sessions import SessionState
from tests.mcp.conftest import gateway_for_tests
from users.scopes import ALL_SCOPES

# subscriptions/listen is left out: it streams until the client goes away, by design.
METHODS = [
    "initialize", "ping", "server/discover", "tools/list", "tools/call", "resources/list",
    "resources/templates/list", "resources/read", "resources/subscribe", "resources/unsubscribe",
    "prompts/list", "prompts/get", "logging/setLevel", "completion/complete",
    "notifications/initialized", "notifications/cancelled", "notifications/progress",
    "notifications/roots/list_changed", "tools/juggle", "", "rpc.discover",
]
PARAM_KEYS = [
    "name", "uri", "cursor", "arguments", "level", "protocolVersion", "capabilities", "clientInfo", "ref",
    "argument", "context", "requestId", "progressToken", "_meta", "inputResponses", "requestState",
]
SESSION_VERSIONS = [None, "2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(
    max_size=12)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
ids = st.integers(min_value=-(2**40), max_value=2**40) | st.text(max_size=8) | st.none() | st.booleans() | st.floats(
    allow_nan=False, allow_infinity=False) | st.lists(st.integers(), max_size=2)
modern_meta = st.fixed_dictionaries({
    "io.modelcontextprotocol/protocolVersion": st.sampled_from(["2026-07-28", "2025-11-25", "1999-01-01"]) | scalars,
}, optional={
    "io.modelcontextprotocol/clientCapabilities": st.just({}) | json_values,
    "io.modelcontextprotocol/logLevel": st.sampled_from(["debug", "warning", "nonsense"]),
    "progressToken": st.integers() | st.text(max_size=4),
})
param_values = st.one_of(
    json_values,
    st.sampled_from(["test://hello", "test://items/1", "test://items/{item_id}", "test_greeting", "test_echo",
                     "test_refuse", "info", "2025-11-25", "ref/prompt", "ref/resource"]),
    st.fixed_dictionaries({"type": st.sampled_from(["ref/prompt", "ref/resource", "ref/other"]),
                           "name": st.text(max_size=12), "uri": st.text(max_size=12)}),
    st.fixed_dictionaries({"name": st.text(max_size=8), "value": st.text(max_size=8)}),
    modern_meta,
)
params = st.dictionaries(st.sampled_from(PARAM_KEYS), param_values, max_size=5) | json_values
rpc_messages = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.sampled_from(["2.0", "2.0", "2.0", "1.0"]) | scalars,
        "id": ids,
        "method": st.sampled_from(METHODS) | st.text(max_size=16) | scalars,
        "params": params,
        "result": json_values,
        "error": json_values,
    },
)
messages = st.one_of(rpc_messages, rpc_messages, json_values)
payloads = st.one_of(messages, st.lists(messages, max_size=4))


def valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def may_go_unanswered(message: Any) -> bool:
    """Notification-shaped, or a reply to a request the server sent: JSON-RPC answers neither."""
    if not isinstance(message, dict):
        return False
    if "method" in message:
        return "id" not in message
    return "id" in message and ("result" in message or "error" in message)


def is_notification(message: Any) -> bool:
    """A valid notification: it must never be answered."""
    return (isinstance(message, dict) and message.get("jsonrpc") == "2.0" and isinstance(message.get("method"), str)
            and "id" not in message and isinstance(message.get("params", {}), dict))


def expected_id(message: Any) -> Any:
    return message["id"] if isinstance(message, dict) and valid_id(message.get("id")) else None


def assert_well_formed(answer: Any, message: Any) -> None:
    """A JSON-RPC 2.0 response to ``message``: its id (or null), exactly one of result and error."""
    assert isinstance(answer, dict), answer
    assert answer.get("jsonrpc") == "2.0", answer
    assert answer.get("id") in (expected_id(message), None), (answer, message)
    assert set(answer) - {"jsonrpc", "id"} in ({"result"}, {"error"}), answer
    if "error" in answer:
        error = answer["error"]
        assert isinstance(error["code"], int), error
        assert not isinstance(error["code"], bool)
        assert isinstance(error["message"], str), error
        assert error["code"] != -32603, f"internal error (an unhandled exception) for {message!r}: {error}"
    else:
        assert isinstance(answer["result"], dict), answer


def check(payload: Any, answer: Any, session: SessionState | None) -> None:
    batches = session is not None and session.protocol_version == "2025-03-26"
    if isinstance(payload, list) and batches and payload:
        must = [m for m in payload if not may_go_unanswered(m)]
        may = [m for m in payload if not is_notification(m)]
        if answer is None:
            assert not must, f"no answer to {payload!r}"
            return
        assert isinstance(answer, list), f"{payload!r} answered {answer!r}"
        assert len(must) <= len(answer) <= len(may), f"{payload!r} answered {answer!r}"
        unanswered = list(may)
        for reply in answer:
            message = next((m for m in unanswered if expected_id(m) == reply.get("id")), None)
            assert message is not None or reply.get("id") is None, f"{payload!r} answered {answer!r}"
            if message is not None:
                unanswered.remove(message)
            assert_well_formed(reply, message)
        return
    if answer is None:
        assert may_go_unanswered(payload), f"no answer to {payload!r}"
        return
    assert not is_notification(payload), f"the notification {payload!r} was answered {answer!r}"
    assert_well_formed(answer, payload)


@pytest.fixture(scope="module")
def gateway(django_db_setup) -> Gateway:  # noqa: ANN001
    """A gateway of its own with the test primitives, so generated calls reach real tool, resource and
    prompt handlers."""
    return gateway_for_tests()


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """One event loop for every example (the Redis client is per loop)."""
    loop = asyncio.new_event_loop()
    yield loop
    if django_settings.REDIS_URL:

        async def close_redis() -> None:
            await redis_for_loop(django_settings.REDIS_URL).aclose()

        loop.run_until_complete(close_redis())
    loop.close()


async def dispatch(gateway: Gateway, payload: Any, session: SessionState | None) -> Any:
    principal = Principal(user_id=0, username="fuzz", scopes=frozenset(ALL_SCOPES), subject="fuzz")
    connection = Connection(transport="test", principal=principal, session_id=session.id if session else None,
                            protocol_version=session.protocol_version if session else None)
    return await asyncio.wait_for(gateway.dispatcher.handle(payload, connection=connection, session=session),
                                  timeout=5)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=payloads, version=st.sampled_from(SESSION_VERSIONS), initialized=st.booleans())
def test_the_dispatcher_answers_any_json_with_well_formed_json_rpc(gateway, loop, payload, version, initialized):
    session = None
    if version is not None or initialized:
        session = SessionState(id="fuzz-session", owner="anonymous", protocol_version=version or "",
                               initialized=initialized)

    answer = loop.run_until_complete(dispatch(gateway, payload, session))

    check(payload, answer, session)
