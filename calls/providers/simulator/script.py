"""What is said on a simulated call: the conversation script, spread over the connected time."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from calls.providers.simulator.plans import VOICEMAIL, Scenario
from calls.providers.simulator.validation import CallRequest


@dataclass(frozen=True)
class Line:
    role: str  # user | assistant | agent-action
    text: str
    start: float  # seconds after the callee picked up
    end: float


def filled(text: str, variables: dict[str, object]) -> str:
    """``{{name}}`` replaced by ``variables["name"]`` (request_data), as Bland fills a prompt; unknown names stay."""
    return re.sub(r"\{\{\s*([\w.]+)\s*\}\}",
                  lambda match: str(variables.get(match.group(1), match.group(0))), text)


def gist(request: CallRequest) -> str:
    if not request.task:
        return f"I'm following conversation pathway {request.pathway_id}."
    task = filled(request.task, request.request_data)
    first = re.split(r"(?<=[.!?])\s+|\n", task.strip(), maxsplit=1)[0].strip()
    if len(first) > 160:
        first = first[:157].rstrip() + "..."
    return first if first.endswith((".", "!", "?")) else first + "."


def _opener(request: CallRequest) -> str:
    return request.first_sentence or "Hello! This is an AI assistant calling on someone's behalf."


def _conversation(request: CallRequest, talk: float) -> list[tuple[str, str]]:
    topic = gist(request)
    turns = [("assistant", _opener(request)), ("user", "Hi. Sure, what is this about?")]
    if request.wait_for_greeting:
        turns = [("user", "Hello?"), ("assistant", _opener(request)), ("user", "Sure, what is this about?")]
    turns += [
        ("assistant", f"I'm calling about this: {topic}"),
        ("user", "Okay, I understand. Yes, that works for me."),
    ]
    for _ in range(min(6, int(talk // 90))):
        turns += [("user", "Could you go over the details once more?"), ("assistant", f"Of course. {topic}")]
    turns += [
        ("assistant", "Perfect. Is there anything else I can help you with?"),
        ("user", "No, that's all. Thank you!"),
        ("assistant", "Thank you for your time. Goodbye!"),
    ]
    return turns


def _voicemail_turns(request: CallRequest) -> list[tuple[str, str]]:
    turns = [("user", "Hi, you've reached my voicemail. Please leave a message after the tone.")]
    voicemail = request.voicemail or {}
    if voicemail.get("action") in ("hangup", "ignore"):
        return turns
    message = voicemail.get("message") or f"{_opener(request)} I'm calling about this: {gist(request)}"
    return [*turns, ("assistant", str(message))]


def build_script(request: CallRequest, scenario: Scenario, talk: float) -> tuple[Line, ...]:
    """The whole conversation, spread evenly over ``talk`` seconds and closed by the agent hanging up."""
    if not scenario.connects:
        return ()
    turns = _voicemail_turns(request) if scenario is VOICEMAIL else _conversation(request, talk)
    slot = talk / len(turns)
    lines = [Line(role, text, round(i * slot, 3), round((i + 0.85) * slot, 3)) for i, (role, text) in enumerate(turns)]
    return (*lines, Line("agent-action", "Ended call", talk, talk))


def cut_script(script: Sequence[Line], at: float) -> tuple[Line, ...]:
    """What was said before ``at`` seconds, then the hang-up (a call stopped mid-way)."""
    said = (line for line in script if line.role != "agent-action" and line.end <= at)
    return (*said, Line("agent-action", "Ended call", at, at))

