"""The rules of a campaign, checked before anything is placed or charged: every row (number in E.164, no
duplicates, ``request_data`` and ``metadata`` objects), the count (1 to 1,000), and the settings the calls
share (task or pathway, duration, language, a voice the provider has, a start at least 5 minutes ahead).

``check_campaign`` raises ``InvalidCampaign`` listing every bad row with its index, or ``CampaignTooLarge``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from calls import errors as call_errors
from calls.campaigns.errors import CampaignTooLarge, InvalidCampaign
from calls.providers.base import Provider
from calls.validation import check_language, normalize_phone_number, shown
from calls.voices import voice_check

MAX_CALLS = 1000
ROW_FIELDS = frozenset({"phone_number", "request_data", "metadata"})
ROW_DATA_MAX_BYTES = 10_000
LISTED_IN_MESSAGE = 5


@dataclass(frozen=True)
class CampaignRow:
    index: int
    to_number: str
    request_data: dict[str, Any]
    metadata: dict[str, Any]


@dataclass(frozen=True)
class CampaignSettings:
    name: str
    task: str
    pathway_id: str
    voice: str
    first_sentence: str
    language: str
    max_duration: int
    record: bool
    wait_for_greeting: bool
    start_time: datetime | None


def _object_problem(row: dict[str, Any], key: str) -> str | None:
    value = row.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        return f"{key} must be an object of variables (got {type(value).__name__})"
    try:
        size = len(json.dumps(value))
    except (TypeError, ValueError):
        return f"{key} must hold JSON values only"
    return f"{key} is {size:,} bytes; at most {ROW_DATA_MAX_BYTES:,}" if size > ROW_DATA_MAX_BYTES else None


def _row_problems(index: int, row: Any, seen: dict[str, int]) -> tuple[list[str], str]:
    """What is wrong with one row (empty when nothing), and its number in E.164 ("" if unreadable)."""
    if not isinstance(row, dict):
        return [f"must be an object with phone_number (got {type(row).__name__})"], ""
    problems = [f"unknown field {shown(key)}; a row has phone_number, request_data and metadata"
                for key in sorted(set(row) - ROW_FIELDS, key=str)]
    number = ""
    try:
        number = normalize_phone_number(row.get("phone_number"), field="phone_number")
    except call_errors.InvalidCallRequest as exc:
        problems.append(exc.message.rstrip("."))
    if number and number in seen:
        problems.append(f"duplicate of row {seen[number]} ({number}): each number is called once")
    elif number:
        seen[number] = index
    problems += [p for p in (_object_problem(row, "request_data"), _object_problem(row, "metadata")) if p]
    return problems, number


def check_rows(rows: list[Any]) -> list[CampaignRow]:
    """Every row checked; ``InvalidCampaign`` listing every bad one (index, number, problems) if any."""
    if len(rows) > MAX_CALLS:
        raise CampaignTooLarge(limit=MAX_CALLS, count=len(rows))
    if not rows:
        raise InvalidCampaign(reason="A campaign needs at least one call: give calls=[{\"phone_number\": ...}].",
                              rows=[])
    seen: dict[str, int] = {}
    good: list[CampaignRow] = []
    bad: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        problems, number = _row_problems(index, row, seen)
        if problems:
            raw = row.get("phone_number") if isinstance(row, dict) else None
            bad.append({"index": index, "phone_number": number or (str(raw)[:40] if raw is not None else None),
                        "problems": problems})
        else:
            good.append(CampaignRow(index, number, dict(row.get("request_data") or {}),
                                    dict(row.get("metadata") or {})))
    if bad:
        listed = "; ".join(f"row {b['index']}: {', '.join(b['problems'])}" for b in bad[:LISTED_IN_MESSAGE])
        more = f"; and {len(bad) - LISTED_IN_MESSAGE} more (see rows)" if len(bad) > LISTED_IN_MESSAGE else ""
        raise InvalidCampaign(
            reason=(f"{len(bad)} of {len(rows)} rows are invalid, so nothing was placed or charged. Fix them and "
                    f"send the whole campaign again: {listed}{more}."),
            rows=bad, invalid_rows=len(bad), total_rows=len(rows))
    return good


def check_settings(*, provider: Provider, name: str, task: str, pathway_id: str, voice: str, first_sentence: str,
                   language: str, max_duration: int | None, record: bool, wait_for_greeting: bool,
                   start_time: datetime | None) -> CampaignSettings:
    """What every call shares, checked; ``InvalidCampaign`` with the first problem."""
    task, pathway_id, voice = (task or "").strip(), (pathway_id or "").strip(), (voice or "").strip()
    if bool(task) == bool(pathway_id):
        raise InvalidCampaign(reason="Give either task (what the AI agent should do on every call) or pathway_id, "
                                     "not both.", rows=[])
    try:
        language = check_language((language or "").strip())
    except call_errors.InvalidCallRequest as exc:
        raise InvalidCampaign(reason=exc.message, rows=[]) from None
    max_duration = max_duration or settings.CALL_DEFAULT_MAX_DURATION_MINUTES
    if not 1 <= max_duration <= 720:
        raise InvalidCampaign(reason="max_duration must be between 1 and 720 minutes.", rows=[])
    if start_time is not None and (timezone.is_naive(start_time)
                                   or start_time < timezone.now() + timedelta(minutes=5)):
        raise InvalidCampaign(reason="start_time must have a UTC offset and be at least 5 minutes ahead, e.g. "
                                     "2026-12-01T15:00:00+00:00.", rows=[])
    voice = voice_check(provider=provider, voice=voice)  # UnknownVoice, as makePhoneCall answers it
    return CampaignSettings(name=(name or "").strip()[:60], task=task, pathway_id=pathway_id, voice=voice,
                            first_sentence=first_sentence or "", language=language, max_duration=max_duration,
                            record=record, wait_for_greeting=wait_for_greeting, start_time=start_time)
