"""``POST /v1/calls/{id}/analyze`` on a simulated call: deterministic answers read from its transcript.

Bland takes ``questions`` as ``[question, answer format]`` pairs (bland_api.md section 9), the format a free
hint such as ``"boolean"`` or ``"human or voicemail"``. The simulator understands those hints, and a hint that
is a JSON Schema (what callmcp sends for an answer schema): it builds a value of that schema. The same call and
questions always get the same answers:

- a choice (enum, ``"a or b"``): the option that appears in the transcript or is who answered, else the first;
- a boolean: whether a word of the question (four letters or more) was said on the call;
- a number: the connected seconds when the question asks how long, else how many lines mention the question;
- a string: the line that shares most words with the question, else the summary.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from calls.providers.simulator.errors import SimError
from calls.providers.simulator.state import SimCall

BASE_CREDITS = 0.003
PER_QUESTION_CREDITS = 0.0015
MAX_QUESTIONS = 50
STOPWORDS = frozenset({"what", "which", "when", "where", "whom", "whose", "does", "did", "the", "call", "callee",
                       "caller", "agent", "this", "that", "with", "from", "have", "they", "there", "were", "about"})
DURATION_WORDS = ("how long", "duration", "seconds", "minutes")
MSG_QUESTIONS = "questions must be a non-empty array of [question, answer format] pairs."


@dataclass(frozen=True)
class Facts:
    """What the answers are read from."""

    lines: tuple[str, ...]
    answered_by: str
    summary: str
    seconds: int

    @property
    def said(self) -> str:
        return " ".join(self.lines).lower()


def _words(text: str) -> set[str]:
    return {word for word in re.findall(r"[a-z']+", text.lower()) if len(word) >= 4 and word not in STOPWORDS}


def _choice(options: list[Any], facts: Facts) -> Any:
    said = facts.said
    for option in options:
        if str(option).lower() == facts.answered_by:
            return option
    for option in options:
        if str(option).lower() and str(option).lower() in said:
            return option
    return options[0]


def _boolean(question: str, facts: Facts) -> bool:
    words = _words(question)
    return bool(words) and any(word in facts.said for word in words)


def _number(question: str, facts: Facts) -> int:
    if any(word in question.lower() for word in DURATION_WORDS):
        return facts.seconds // 60 if "minute" in question.lower() else facts.seconds
    words = _words(question)
    return sum(1 for line in facts.lines if words & _words(line))


def _string(question: str, facts: Facts) -> str:
    words = _words(question)
    scored = [(len(words & _words(line)), -index, line) for index, line in enumerate(facts.lines)]
    best = max(scored, default=(0, 0, ""))
    return best[2] if best[0] > 0 else (facts.summary or (facts.lines[-1] if facts.lines else ""))


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _first_type(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        return next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        return kind
    if "properties" in schema:
        return "object"
    return "array" if "items" in schema or "prefixItems" in schema else "string"


def _bounded_number(value: float, schema: dict[str, Any]) -> float:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if isinstance(low, int | float):
        value = max(value, low + (1 if "exclusiveMinimum" in schema and "minimum" not in schema else 0))
    if isinstance(high, int | float):
        value = min(value, high - (1 if "exclusiveMaximum" in schema and "maximum" not in schema else 0))
    return value


def _sized_string(text: str, schema: dict[str, Any]) -> str:
    longest, shortest = schema.get("maxLength"), schema.get("minLength")
    if isinstance(longest, int):
        text = text[:longest]
    if isinstance(shortest, int) and len(text) < shortest:
        text = text + "." * (shortest - len(text))
    return text


def _array(question: str, schema: dict[str, Any], facts: Facts) -> list[Any]:
    prefix = [s for s in schema.get("prefixItems", []) if isinstance(s, dict)]
    items = _object(schema.get("items"))
    count = max(len(prefix), schema.get("minItems", 1) if isinstance(schema.get("minItems"), int) else 1)
    if isinstance(schema.get("maxItems"), int):
        count = min(count, schema["maxItems"])
    return [from_schema(question, prefix[i] if i < len(prefix) else items, facts) for i in range(count)]


def from_schema(question: str, schema: dict[str, Any], facts: Facts) -> Any:
    """A value of ``schema`` (the JSON Schema subset answers use) answering ``question``."""
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return _choice(schema["enum"], facts)
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(key), list) and schema[key] and isinstance(schema[key][0], dict):
            return from_schema(question, schema[key][0], facts)
    kind = _first_type(schema)
    if kind == "boolean":
        return _boolean(question, facts)
    if kind in ("integer", "number"):
        value = _bounded_number(_number(question, facts), schema)
        return int(value) if kind == "integer" else float(value)
    if kind == "array":
        return _array(question, schema, facts)
    if kind == "object":
        return {key: from_schema(f"{question} {key}", _object(sub), facts)
                for key, sub in _object(schema.get("properties")).items()}
    if kind == "null":
        return None
    return _sized_string(_string(question, facts), schema)


def answer(question: str, hint: str, facts: Facts) -> Any:
    """One answer, in the format ``hint`` asks for."""
    text = hint.strip()
    if text.startswith("{"):
        try:
            schema = json.loads(text)
        except ValueError:
            schema = None
        if isinstance(schema, dict):
            return from_schema(question, schema, facts)
    lowered = text.lower()
    if lowered in ("boolean", "bool", "true or false", "yes or no"):
        return _boolean(question, facts)
    if lowered in ("number", "integer", "int", "float"):
        return _number(question, facts)
    if " or " in lowered:
        return _choice([option.strip() for option in re.split(r"\s+or\s+|,", text) if option.strip()], facts)
    return _string(question, facts)


def _questions(body: Any) -> list[tuple[str, str]]:
    questions = body.get("questions") if isinstance(body, dict) else None
    if not isinstance(questions, list) or not questions or len(questions) > MAX_QUESTIONS:
        raise SimError.flat(400, MSG_QUESTIONS)
    pairs = []
    for item in questions:
        if isinstance(item, str):
            item = [item, "string"]
        if not (isinstance(item, list) and len(item) == 2 and all(isinstance(part, str) for part in item)):
            raise SimError.flat(400, MSG_QUESTIONS)
        pairs.append((item[0], item[1]))
    return pairs


def analyze(call: SimCall, body: Any) -> dict[str, Any]:
    """The answer of ``POST /v1/calls/{id}/analyze``, and what it costs the account."""
    if body is not None and isinstance(body, dict) and not isinstance(body.get("goal", ""), str):
        raise SimError.flat(400, "goal must be a string.")
    pairs = _questions(body)
    if call.outcome is None:
        raise SimError.flat(400, "The call has not completed yet; analyze it once it ends.")
    outcome = call.outcome
    facts = Facts(tuple(line.text for line in outcome.script if line.role != "agent-action"),
                  (outcome.answered_by or "unknown").lower(), outcome.summary, outcome.connected_seconds)
    return {
        "status": "success",
        "message": "Success",
        "answers": [answer(question, hint, facts) for question, hint in pairs],
        "credits_used": round(BASE_CREDITS + PER_QUESTION_CREDITS * len(pairs), 6),
    }
