"""Bland's endpoints about calls and the account rather than placing them: post-call analysis
(``POST /v1/calls/{id}/analyze``, bland_api.md section 9), the voice list (``GET /v1/voices``) and the
account (``GET /v1/me``, section 10).

A mixin of ``calls.providers.bland.BlandClient``: it uses the client's transport (retries, both error
envelopes mapped to ``calls.errors``), so callers catch ``calls.errors.ProviderError`` as for any request.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import httpx

from calls import errors
from calls.providers.base import Analysis, ProviderAccount, Voice


class _Transport(Protocol):
    _http: httpx.Client

    def _request(self, method: str, path: str, *, repeatable: bool, **kwargs: Any) -> httpx.Response: ...
    def _json(self, response: httpx.Response) -> dict[str, Any]: ...


def decimal_or_none(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_voice(item: dict[str, Any]) -> Voice | None:
    """One entry of the voice list; entries with neither an id nor a name are skipped."""
    name = str(item.get("name") or item.get("voice_name") or "").strip()
    voice_id = str(item.get("voice_id") if item.get("voice_id") is not None else item.get("id") or "").strip()
    if not name and not voice_id:
        return None
    tags = item.get("tags")
    return Voice(
        voice_id=voice_id or name,
        name=name or voice_id,
        description=str(item.get("description") or ""),
        tags=tuple(str(tag) for tag in tags) if isinstance(tags, list) else (),
    )


def parse_account(body: dict[str, Any]) -> ProviderAccount:
    """``GET /v1/me``: status, billing and total calls. ``plan`` (name and caps) is read when the answer has it;
    Bland documents no plan object there, so its fields stay None otherwise."""
    billing, plan = _object(body.get("billing")), _object(body.get("plan"))
    return ProviderAccount(
        status=str(body.get("status") or ""),
        balance=decimal_or_none(billing.get("current_balance")),
        refill_to=decimal_or_none(billing.get("refill_to")),
        total_calls=_count(body.get("total_calls")),
        plan=str(plan.get("name") or ""),
        calls_per_day=_count(plan.get("daily_cap")),
        calls_per_hour=_count(plan.get("hourly_cap")),
        concurrency=_count(plan.get("concurrency")),
        rate_per_minute=decimal_or_none(plan.get("rate_per_minute")),
    )


class InsightEndpoints:
    """Analysis, voices and account, over the client's own transport."""

    @property
    def endpoint(self: _Transport) -> str:
        """The API's base URL: what a cache of its answers is keyed by."""
        return str(self._http.base_url)

    def analyze_call(self: _Transport, provider_call_id: str, *, goal: str,
                     questions: list[tuple[str, str]]) -> Analysis:
        """Answers to ``questions`` (pairs of question and answer-format hint) about a finished call. Not
        repeated on 5xx or timeouts: Bland charges each analysis."""
        body = {"goal": goal, "questions": [[question, hint] for question, hint in questions]}
        path = f"/v1/calls/{provider_call_id}/analyze"
        answer = self._json(self._request("POST", path, repeatable=False, json=body))
        answers = answer.get("answers")
        if not isinstance(answers, list) or len(answers) != len(questions):
            raise errors.ProviderUnavailable(detail=f"{path}: expected {len(questions)} answers, got {answers!r:.200}")
        return Analysis(answers=tuple(answers), credits_used=decimal_or_none(answer.get("credits_used")))

    def list_voices(self: _Transport) -> tuple[Voice, ...]:
        body = self._json(self._request("GET", "/v1/voices", repeatable=True))
        items = body.get("voices")
        if not isinstance(items, list):
            raise errors.ProviderUnavailable(detail="GET /v1/voices: the answer has no voices array")
        voices = (parse_voice(item) for item in items if isinstance(item, dict))
        return tuple(voice for voice in voices if voice is not None)

    def get_account(self: _Transport) -> ProviderAccount:
        return parse_account(self._json(self._request("GET", "/v1/me", repeatable=True)))
