"""Post-call analysis: questions about a finished call (or each call of a campaign), answered by the provider
(``POST /v1/calls/{id}/analyze``), optionally in the shape of a JSON answer schema, and stored with the call.

The answers are one per question, in order. Without a schema they are an array of whatever the provider
said. With one, the schema describes them all: an object schema has one property per question (in the
order of the questions) and the answers come back as that object; an array schema has one item per question
(``prefixItems``, or one ``items`` schema for all). Each question goes to the provider with its own part of
the schema as the answer format, and the answers are checked against the whole schema before anything is
stored. Each analysis costs its call's owner ``ANALYSIS_CREDITS_PER_CALL`` credits (the provider charges us
for it), held before the provider is asked and charged only when the answers are stored.
Callers catch ``config.errors.DomainError``.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from jsonschema import Draft202012Validator, SchemaError, validators
from jsonschema.exceptions import best_match

from calls import errors
from calls.events import call_changed
from calls.models import Call, CallAnalysis, Campaign
from calls.providers.base import Provider
from calls.validation import shown
from users.models import User
from users.services import credits_release, credits_reserve_many, credits_settle

logger = logging.getLogger(__name__)

MAX_QUESTIONS = 20
MAX_QUESTION_CHARS = 500
MAX_SCHEMA_CHARS = 20_000
PLAIN_HINT = "string"
LAYOUT_HELP = ("an object schema with one property per question (in the order of the questions), or an array "
               "schema with one item per question (prefixItems, or one items schema for all)")


@dataclass(frozen=True)
class AnswerLayout:
    """How the answers are laid out: the object's keys (None for an array) and each question's schema."""

    keys: tuple[str, ...] | None
    item_schemas: tuple[dict[str, Any], ...]

    def assemble(self, answers: list[Any]) -> Any:
        return dict(zip(self.keys, answers, strict=True)) if self.keys is not None else answers


def _invalid(reason: str) -> errors.InvalidAnalysisRequest:
    return errors.InvalidAnalysisRequest(reason=reason)


def check_questions(questions: list[str]) -> list[str]:
    cleaned = [question.strip() for question in questions if isinstance(question, str)]
    if len(cleaned) != len(questions) or not cleaned or any(not q for q in cleaned):
        raise _invalid("questions must be a list of 1 to 20 non-empty questions in plain language.")
    if len(cleaned) > MAX_QUESTIONS:
        raise _invalid(f"At most {MAX_QUESTIONS} questions per analysis (got {len(cleaned)}); split them.")
    for index, question in enumerate(cleaned):
        if len(question) > MAX_QUESTION_CHARS:
            raise _invalid(f"questions[{index}] is longer than {MAX_QUESTION_CHARS} characters.")
    return cleaned


def check_answer_schema(schema: Any) -> dict[str, Any]:
    """``schema`` if it is a JSON Schema (by the draft its ``$schema`` names, 2020-12 when it names none),
    else ``InvalidAnalysisRequest`` saying where it is wrong."""
    if not isinstance(schema, dict):
        raise _invalid(f"answer_schema must be a JSON Schema object, e.g. {{\"type\": \"object\", ...}} "
                       f"(got {shown(json.dumps(schema))}).")
    if len(json.dumps(schema)) > MAX_SCHEMA_CHARS:
        raise _invalid(f"answer_schema is larger than {MAX_SCHEMA_CHARS:,} characters.")
    validator = validators.validator_for(schema, default=Draft202012Validator)
    try:
        validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(part) for part in exc.path) or "the top level"
        raise _invalid(f"answer_schema is not a valid JSON Schema: at {where}, {exc.message[:200]}") from None
    return schema


def _kind(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if kind == "object" or (kind is None and "properties" in schema):
        return "object"
    if kind == "array" or (kind is None and ("items" in schema or "prefixItems" in schema)):
        return "array"
    return str(kind or "")


def _object_layout(schema: dict[str, Any], count: int) -> AnswerLayout:
    properties = schema.get("properties")
    if not isinstance(properties, dict) or len(properties) != count:
        have = len(properties) if isinstance(properties, dict) else 0
        raise _invalid(f"answer_schema has {have} properties for {count} questions; give one property per "
                       "question, in the order of the questions.")
    return AnswerLayout(tuple(properties), tuple(sub if isinstance(sub, dict) else {} for sub in properties.values()))


def _array_layout(schema: dict[str, Any], count: int) -> AnswerLayout:
    found, rest_found = schema.get("prefixItems"), schema.get("items")
    prefix: list[Any] = found if isinstance(found, list) else []
    rest: dict[str, Any] = rest_found if isinstance(rest_found, dict) else {}
    if len(prefix) > count:
        raise _invalid(f"answer_schema has {len(prefix)} prefixItems for {count} questions; give one per question.")
    items = [sub if isinstance(sub, dict) else {} for sub in prefix] + [rest] * (count - len(prefix))
    return AnswerLayout(None, tuple(items))


def answer_layout(*, questions: list[str], answer_schema: dict[str, Any] | None) -> AnswerLayout:
    """The layout of the answers to ``questions``; ``answer_schema`` must already be a valid JSON Schema."""
    if answer_schema is None:
        return AnswerLayout(None, tuple({} for _ in questions))
    kind = _kind(answer_schema)
    if kind == "object":
        return _object_layout(answer_schema, len(questions))
    if kind == "array":
        return _array_layout(answer_schema, len(questions))
    raise _invalid(f"answer_schema must describe all the answers: {LAYOUT_HELP} (its type is {kind or 'not set'}).")


def format_hint(item_schema: dict[str, Any]) -> str:
    """What the provider is told about an answer's format: its schema as JSON, or Bland's plain ``string``."""
    return json.dumps(item_schema, separators=(",", ":"), sort_keys=True) if item_schema else PLAIN_HINT


def _coerced(value: Any, item_schema: dict[str, Any]) -> Any:
    """An answer the provider gave as text (``"true"``, ``"3"``) when the schema wants JSON."""
    wants = item_schema.get("type")
    if isinstance(value, str) and wants not in (None, "string") and "string" not in (wants or []):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _checked(answers: Any, schema: dict[str, Any]) -> None:
    validator = validators.validator_for(schema, default=Draft202012Validator)(schema)
    problem = best_match(validator.iter_errors(answers))
    if problem is not None:
        where = "/".join(str(part) for part in problem.absolute_path) or "the answers"
        logger.warning("analysis answers do not match the schema at %s: %s", where, problem.message)
        raise errors.AnalysisAnswersInvalid(reason=f"at {where}: {problem.message[:200]}")


def _analyzable(call: Call) -> str:
    if not call.is_terminal:
        raise errors.CallNotEnded(call_id=str(call.id), status=call.status)
    if not call.transcript or not call.provider_call_id:
        raise errors.CallNotAnalyzable(call_id=str(call.id), status=call.status)
    return str(call.provider_call_id)


def call_analyze(*, provider: Provider, call: Call, questions: list[str], answer_schema: dict[str, Any] | None = None,
                 goal: str = "", source: str = "tool") -> CallAnalysis:
    """Ask the provider ``questions`` about an ended call and store its answers with the call. The call's owner
    pays ``ANALYSIS_CREDITS_PER_CALL``: held before the provider is asked, charged once with the stored
    answers, given back when no answers are stored.

    Raises ``InvalidAnalysisRequest`` (bad questions or schema), ``CallNotEnded``, ``CallNotAnalyzable`` (no
    conversation), ``InsufficientCredits`` (before the provider is asked), ``AnalysisAnswersInvalid`` (answers
    outside the schema) or a ``ProviderError``; in every case nothing is stored or charged."""
    questions = check_questions(questions)
    schema = check_answer_schema(answer_schema) if answer_schema is not None else None
    layout = answer_layout(questions=questions, answer_schema=schema)
    _analyzable(call)
    (reference,) = _hold(call.owner, [call])
    return _analyze_held(provider=provider, call=call, questions=questions, schema=schema, layout=layout, goal=goal,
                         source=source, reference=reference)


def _hold(owner: User, calls: list[Call]) -> list[str | None]:
    """Hold the price of analyzing each call, all or none (``InsufficientCredits``); one reference each, or
    None when analysis is free (``ANALYSIS_CREDITS_PER_CALL`` = 0)."""
    price = settings.ANALYSIS_CREDITS_PER_CALL
    if price <= 0 or not calls:
        return [None] * len(calls)
    references = [f"analysis:{uuid.uuid4()}" for _ in calls]
    credits_reserve_many(user=owner, holds=[(reference, price) for reference in references],
                         memo="analysis of an ended call")
    return list(references)


def _analyze_held(*, provider: Provider, call: Call, questions: list[str], schema: dict[str, Any] | None,
                  layout: AnswerLayout, goal: str, source: str, reference: str | None) -> CallAnalysis:
    """The provider's answers, checked and stored with the hold charged; any failure gives the hold back."""
    try:
        result = provider.analyze_call(_analyzable(call), goal=goal.strip(),
                                       questions=[(q, format_hint(s)) for q, s in zip(questions, layout.item_schemas,
                                                                                      strict=True)])
        answers = layout.assemble([_coerced(value, sub) for value, sub in zip(result.answers, layout.item_schemas,
                                                                              strict=True)])
        if schema is not None:
            _checked(answers, schema)
    except Exception:
        if reference is not None:
            credits_release(user=call.owner, reference=reference, memo=f"no analysis of call {call.id}")
        raise
    with transaction.atomic():
        analysis = CallAnalysis.objects.create(
            call=call, goal=goal.strip(), questions=questions, answer_schema=schema, answers=answers,
            answer_keys=list(layout.keys) if layout.keys is not None else None, provider_credits=result.credits_used,
            source=source)
        if reference is not None:
            credits_settle(user=call.owner, reference=reference, cost=settings.ANALYSIS_CREDITS_PER_CALL,
                           memo=f"analysis {analysis.pk} of call {call.id}")
        call_changed(call_id=call.id, owner_id=call.owner_id)
    return analysis


@dataclass(frozen=True)
class CampaignCallOutcome:
    """One call of a campaign analysis: its analysis, or why it has none (a ``DomainError`` code and message)."""

    call: Call
    analysis: CallAnalysis | None = None
    skipped: errors.DomainError | None = None


@dataclass(frozen=True)
class CampaignAnalysisOutcome:
    calls: list[CampaignCallOutcome]
    total_calls: int
    next_offset: int | None


def campaign_analyze(*, provider: Provider, campaign: Campaign, questions: list[str],
                     answer_schema: dict[str, Any] | None = None, goal: str = "", offset: int = 0, limit: int = 50,
                     source: str = "tool") -> CampaignAnalysisOutcome:
    """``call_analyze`` on a page of the campaign's calls, in the order of its rows. The questions and the schema
    are checked once, first (a bad one stores nothing), and the price of every call on the page that can be
    analyzed is held at once (``InsufficientCredits`` for the page before the provider is asked); then a call
    that cannot be analyzed (not ended, no conversation, the provider failing on it) is reported with its error,
    and its hold given back, and the others go on."""
    questions = check_questions(questions)
    schema = check_answer_schema(answer_schema) if answer_schema is not None else None
    layout = answer_layout(questions=questions, answer_schema=schema)
    calls = Call.objects.filter(campaign=campaign).select_related("owner").order_by("campaign_index", "created_at")
    total = calls.count()
    page = list(calls[offset : offset + limit])
    refused: dict[Any, errors.DomainError] = {}
    for call in page:
        try:
            _analyzable(call)
        except errors.DomainError as exc:
            refused[call.pk] = exc
    ready = [call for call in page if call.pk not in refused]
    holds = dict(zip([call.pk for call in ready], _hold(campaign.owner, ready), strict=True))
    outcomes = []
    for call in page:
        if call.pk in refused:
            outcomes.append(CampaignCallOutcome(call=call, skipped=refused[call.pk]))
            continue
        try:
            analysis = _analyze_held(provider=provider, call=call, questions=questions, schema=schema, layout=layout,
                                     goal=goal, source=source, reference=holds[call.pk])
        except errors.DomainError as exc:
            outcomes.append(CampaignCallOutcome(call=call, skipped=exc))
        else:
            outcomes.append(CampaignCallOutcome(call=call, analysis=analysis))
    return CampaignAnalysisOutcome(calls=outcomes, total_calls=total,
                                   next_offset=offset + limit if offset + limit < total else None)
