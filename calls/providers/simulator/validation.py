"""Validating ``POST /v1/calls`` with Bland's error strings."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import phonenumbers

from calls.providers.simulator.errors import SimError

DEFAULT_FROM = "+14155550100"
MIN_SCHEDULE_SECONDS = 300.0
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
SENSITIVE_NUMBERS = frozenset({"911", "988", "112", "999", "933"})
VOICEMAIL_ACTIONS = frozenset({"hangup", "leave_message", "ignore", "leave_message_and_sms"})


@dataclass(frozen=True)
class CallRequest:
    to: str  # E.164
    national: str
    region: str | None
    task: str
    pathway_id: str | None
    pathway_version: Any
    first_sentence: str
    voice: str | None
    from_number: str
    max_duration: float  # minutes
    record: bool
    wait_for_greeting: bool
    metadata: dict[str, Any]
    request_data: dict[str, Any]
    webhook: str | None
    webhook_events: tuple[str, ...]
    language: str
    timezone: str
    dispositions: tuple[str, ...]
    voicemail: dict[str, Any] | None
    start_time: datetime | None


def parse_number(raw: object) -> phonenumbers.PhoneNumber | None:
    """A dialable number or None. Without '+' the number is a 10-digit US one, as Bland reads it."""
    text = str(raw).strip()
    if not text.startswith("+") and len(re.sub(r"\D", "", text)) != 10:
        return None
    try:
        number = phonenumbers.parse(text, "US")
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_start_time(value: object) -> datetime | None:
    """``YYYY-MM-DD HH:MM:SS [-HH:MM]`` or ISO 8601; without an offset it is UTC. None when unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    # Bland's form puts a space before the offset; ISO does not.
    text = re.sub(r"\s+([+-]\d{2}:?\d{2})$", r"\1", value.strip())
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _webhook_ok(value: object) -> bool:
    if not isinstance(value, str):
        return False
    if value.startswith("https://"):
        return bool(urlsplit(value).hostname)
    return value.startswith("http://") and urlsplit(value).hostname in LOOPBACK_HOSTS


def _present(body: Mapping[str, Any], key: str) -> bool:
    return body.get(key) is not None


class _Validator:
    """Collects Bland's error strings for one request body; ``problems`` empty means valid."""

    def __init__(self, body: Mapping[str, Any], *, wall_now: datetime) -> None:
        self.body = body
        self.wall_now = wall_now
        self.problems: list[str] = []
        self.number: phonenumbers.PhoneNumber | None = None
        self.start_time: datetime | None = None
        self.from_number: str | None = None

    def run(self) -> None:
        for check in (
            self._phone, self._task, self._booleans, self._max_duration, self._objects, self._strings,
            self._from, self._keywords, self._voicemail, self._start_time,
        ):
            check()

    def _phone(self) -> None:
        raw = self.body.get("phone_number")
        if raw is None or raw == "":
            self.problems.append("Missing required parameter: phone_number.")
        elif isinstance(raw, bool) or not isinstance(raw, str | int):
            self.problems.append("Phone number must be a string or number.")
        elif re.sub(r"\D", "", str(raw)) in SENSITIVE_NUMBERS:
            self.problems.append("Cannot dial sensitive numbers. More attempts will result in being blocked.")
        else:
            self.number = parse_number(raw)
            if self.number is None:
                self.problems.append("Invalid phone number.")

    def _task(self) -> None:
        task = self.body.get("task")
        if task is not None and not isinstance(task, str):
            self.problems.append("Task must be a string.")
        elif not task and not self.body.get("pathway_id"):
            self.problems.append("Missing required parameter: task.")

    def _booleans(self) -> None:
        if _present(self.body, "record") and not isinstance(self.body["record"], bool):
            self.problems.append("Record must be a boolean")
        if _present(self.body, "wait_for_greeting") and not isinstance(self.body["wait_for_greeting"], bool):
            self.problems.append("wait_for_greeting must be a boolean.")

    def _max_duration(self) -> None:
        if not _present(self.body, "max_duration"):
            return
        value = self.body["max_duration"]
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0 or not math.isfinite(value):
            self.problems.append("max_duration must be a positive number.")
        elif value < 1:
            self.problems.append("Max duration must be at least 1")
        elif value > 720:
            self.problems.append("max_duration must be at most 12 hours.")

    def _objects(self) -> None:
        for key in ("request_data", "metadata"):
            if _present(self.body, key) and not isinstance(self.body[key], dict):
                self.problems.append(f"{key} must be an object.")
        if _present(self.body, "transfer_list") and not isinstance(self.body["transfer_list"], dict):
            self.problems.append("Transfer list must be an object.")

    def _strings(self) -> None:
        if _present(self.body, "voice") and not isinstance(self.body["voice"], str):
            self.problems.append("Voice must be a string.")
        if _present(self.body, "webhook") and not _webhook_ok(self.body["webhook"]):
            self.problems.append("webhook must be a string that starts with https://.")
        events = self.body.get("webhook_events")
        if _present(self.body, "webhook_events") and not (
                isinstance(events, list) and all(isinstance(e, str) for e in events)):
            self.problems.append("webhook_events must be an array of strings.")
        prompt = self.body.get("summary_prompt")
        if prompt is not None and (not isinstance(prompt, str) or len(prompt) >= 2000):
            self.problems.append("Summary prompt must be less than 2000 characters.")

    def _from(self) -> None:
        if not _present(self.body, "from"):
            return
        number = parse_number(self.body["from"]) if isinstance(self.body["from"], str) else None
        if number is None:
            self.problems.append("Invalid from phone number.")
        else:
            self.from_number = e164(number)

    def _keywords(self) -> None:
        keywords = self.body.get("keywords")
        if keywords is None:
            return
        if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
            self.problems.append("Keywords must be an array of strings.")
        elif len(keywords) > 20:
            self.problems.append("At most 20 keywords can be added.")

    def _voicemail(self) -> None:
        voicemail = self.body.get("voicemail")
        action = voicemail.get("action") if isinstance(voicemail, dict) else self.body.get("voicemail_action")
        if action is not None and action not in VOICEMAIL_ACTIONS:
            self.problems.append("Invalid voicemail action. Must be one of: hangup, leave_message, ignore")

    def _start_time(self) -> None:
        if not _present(self.body, "start_time"):
            return
        parsed = parse_start_time(self.body["start_time"])
        if parsed is None:
            self.problems.append("Invalid start_time.")
            return
        ahead = (parsed - self.wall_now).total_seconds()
        if 0 < ahead < MIN_SCHEDULE_SECONDS:
            self.problems.append("Calls must be scheduled at least 5 minutes in advance, or more")
        elif ahead > 0:
            self.start_time = parsed


def validate_call_request(body: object, *, wall_now: datetime) -> CallRequest:
    """The request, or SimError 400 with every problem in Bland's ``Invalid parameters`` envelope."""
    if not isinstance(body, dict):
        raise SimError.invalid(["Request body must be a JSON object."])
    validator = _Validator(body, wall_now=wall_now)
    validator.run()
    if validator.problems or validator.number is None:
        raise SimError.invalid(validator.problems)
    number = validator.number
    dispositions = body.get("dispositions")
    return CallRequest(
        to=e164(number),
        national=str(number.national_number),
        region=phonenumbers.region_code_for_number(number),
        task=body.get("task") or "",
        pathway_id=str(body["pathway_id"]) if body.get("pathway_id") else None,
        pathway_version=body.get("pathway_version"),
        first_sentence=str(body.get("first_sentence") or ""),
        voice=body.get("voice"),
        from_number=validator.from_number or DEFAULT_FROM,
        max_duration=float(body.get("max_duration") or 30),
        record=bool(body.get("record")),
        wait_for_greeting=bool(body.get("wait_for_greeting")),
        metadata=dict(body.get("metadata") or {}),
        request_data=dict(body.get("request_data") or {}),
        webhook=body.get("webhook"),
        webhook_events=tuple(str(e) for e in events) if isinstance(events := body.get("webhook_events"), list) else (),
        language=str(body.get("language") or "babel-en"),
        timezone=str(body.get("timezone") or "America/Los_Angeles"),
        dispositions=tuple(str(d) for d in dispositions) if isinstance(dispositions, list) else (),
        voicemail=body.get("voicemail") if isinstance(body.get("voicemail"), dict) else None,
        start_time=validator.start_time,
    )

