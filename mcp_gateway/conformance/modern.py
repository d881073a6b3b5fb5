"""Conformance fixtures of 2026-07-28: multi round-trip requests, capabilities, listen streams, headers."""

from __future__ import annotations

from typing import Any

from mcp_gateway.context import RequestScope
from mcp_gateway.errors import MissingClientCapability
from mcp_gateway.jsonrpc import notification_message
from mcp_gateway.notify import Notifier
from mcp_gateway.registry import mcp_prompt, mcp_tool

NOTIFIER = Notifier()


def _elicit(message: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "method": "elicitation/create",
        "params": {
            "message": message,
            "requestedSchema": {"type": "object", "properties": properties, "required": required},
        },
    }


def _sample(text: str, max_tokens: int) -> dict[str, Any]:
    return {
        "method": "sampling/createMessage",
        "params": {
            "messages": [{"role": "user", "content": {"type": "text", "text": text}}],
            "maxTokens": max_tokens,
        },
    }


ROOTS = {"method": "roots/list", "params": {}}
NAME_QUESTION = _elicit("What is your name?", {"name": {"type": "string"}}, ["name"])


def _text_of(response: Any) -> str:
    content = (response or {}).get("content") if isinstance(response, dict) else None
    if isinstance(content, dict):
        return str(content.get("text", ""))
    if isinstance(content, list) and content:
        return str(content[0].get("text", ""))
    return ""


@mcp_tool(name="test_input_required_result_elicitation", description="Asks for the user's name (input_required).")
async def irr_elicitation(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    answer = ctx.input_responses.get("user_name")
    if not isinstance(answer, dict) or answer.get("action", "accept") != "accept":
        raise ctx.needs_input({"user_name": NAME_QUESTION})
    return f"Hello, {(answer.get('content') or {}).get('name', 'stranger')}!"


@mcp_tool(name="test_input_required_result_sampling", description="Asks the client's LLM a question (input_required).")
async def irr_sampling(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    answer = ctx.input_responses.get("capital_question")
    if not isinstance(answer, dict):
        raise ctx.needs_input({"capital_question": _sample("What is the capital of France?", 100)})
    return f"LLM said: {_text_of(answer)}"


@mcp_tool(name="test_input_required_result_list_roots", description="Asks for the client's roots (input_required).")
async def irr_roots(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    answer = ctx.input_responses.get("client_roots")
    if not isinstance(answer, dict) or not isinstance(answer.get("roots"), list):
        raise ctx.needs_input({"client_roots": ROOTS})
    return "Roots: " + ", ".join(str(root.get("uri")) for root in answer["roots"])


@mcp_tool(name="test_input_required_result_request_state", description="Round-trips a signed requestState.")
async def irr_state(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    if ctx.request_state is None or "confirm" not in ctx.input_responses:
        raise ctx.needs_input(
            {"confirm": _elicit("Please confirm", {"ok": {"type": "boolean"}}, ["ok"])}, state={"round": 1}
        )
    return f"state-ok: round {ctx.request_state.get('round')} confirmed"


@mcp_tool(name="test_input_required_result_multiple_inputs", description="Asks for three inputs at once.")
async def irr_multiple(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    keys = {"user_name", "greeting", "client_roots"}
    if not keys <= set(ctx.input_responses) or ctx.request_state is None:
        raise ctx.needs_input(
            {"user_name": NAME_QUESTION, "greeting": _sample("Generate a greeting", 50), "client_roots": ROOTS},
            state={"keys": sorted(keys)},
        )
    return "Received all inputs: " + ", ".join(sorted(keys))


@mcp_tool(name="test_input_required_result_multi_round", description="Two rounds of questions.")
async def irr_multi_round(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    state = ctx.request_state or {}
    if state.get("round") == 2 and "step2" in ctx.input_responses:
        color = (ctx.input_responses["step2"].get("content") or {}).get("color")
        return f"Done: {state.get('name')} likes {color}"
    if state.get("round") == 1 and "step1" in ctx.input_responses:
        name = (ctx.input_responses["step1"].get("content") or {}).get("name")
        raise ctx.needs_input(
            {"step2": _elicit("Step 2: What is your favorite color?", {"color": {"type": "string"}}, ["color"])},
            state={"round": 2, "name": name},
        )
    raise ctx.needs_input(
        {"step1": _elicit("Step 1: What is your name?", {"name": {"type": "string"}}, ["name"])}, state={"round": 1}
    )


@mcp_tool(name="test_input_required_result_tampered_state", description="Rejects a tampered requestState.")
async def irr_tampered(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    if ctx.request_state is None:
        raise ctx.needs_input({"confirm": _elicit("Confirm", {"ok": {"type": "boolean"}}, ["ok"])}, state={"n": 1})
    return "state verified"


@mcp_tool(name="test_input_required_result_capabilities", description="Only asks for what the client supports.")
async def irr_capabilities(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    if ctx.input_responses:
        return "Thanks for the input."
    requests: dict[str, Any] = {}
    if "elicitation" in ctx.client_capabilities:
        requests["user_name"] = NAME_QUESTION
    if "sampling" in ctx.client_capabilities:
        requests["greeting"] = _sample("Generate a greeting", 50)
    if "roots" in ctx.client_capabilities:
        requests["client_roots"] = ROOTS
    if not requests:
        return "The client declared no input capabilities."
    raise ctx.needs_input(requests)


@mcp_prompt(name="test_input_required_result_prompt", description="A prompt that first asks for context.")
async def irr_prompt(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    answer = ctx.input_responses.get("user_context")
    if not isinstance(answer, dict):
        raise ctx.needs_input(
            {
                "user_context": _elicit(
                    "What context should the prompt use?", {"context": {"type": "string"}}, ["context"]
                )
            }
        )
    context = (answer.get("content") or {}).get("context", "")
    return [{"role": "user", "content": {"type": "text", "text": f"Use this context: {context}"}}]


@mcp_tool(name="test_missing_capability", description="Needs the client's sampling capability.")
async def missing_capability(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    if "sampling" not in ctx.client_capabilities:
        raise MissingClientCapability(
            "This tool needs the client's sampling capability.", data={"requiredCapabilities": {"sampling": {}}}
        )
    return "The client supports sampling."


@mcp_tool(name="test_streaming_elicitation", description="Streams progress, then asks for input (input_required).")
async def streaming_elicitation(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    await ctx.log("info", "working")
    if "user_name" not in ctx.input_responses:
        raise ctx.needs_input({"user_name": NAME_QUESTION})
    return "Thanks."


@mcp_tool(name="test_logging_tool", description="Logs three messages (only if the request asked for logs).")
async def logging_tool(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    for text in ("one", "two", "three"):
        await ctx.log("info", f"log {text}")
    return "Logged."


@mcp_tool(name="test_trigger_tool_change", description="Announces that the tool list changed.")
async def trigger_tool_change(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    await NOTIFIER.publish(owner=ctx.principal.rate_key,
                           message=notification_message("notifications/tools/list_changed"))
    return "Tool list change announced."


@mcp_tool(name="test_trigger_prompt_change", description="Announces that the prompt list changed.")
async def trigger_prompt_change(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    await NOTIFIER.publish(owner=ctx.principal.rate_key,
                           message=notification_message("notifications/prompts/list_changed"))
    return "Prompt list change announced."


@mcp_tool(
    name="test_custom_headers",
    description="Echoes a region that also travels in the Mcp-Param-Region header.",
    input_schema={
        "type": "object",
        "properties": {"region": {"type": "string", "x-mcp-header": "Region"}},
        "required": ["region"],
    },
)
async def custom_headers(ctx: RequestScope, arguments: dict[str, Any]) -> Any:
    return f"Region: {arguments['region']}"
