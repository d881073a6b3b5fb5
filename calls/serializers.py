"""Input validation and output shapes of the calls REST API.

Input serializers check types and shapes only; the rules of a call (E.164 numbers, task or pathway,
durations, scheduling) live in ``calls.services`` so MCP and REST answer the same ``invalid_call_request``.
Outputs are the shapes of ``calls.shapes`` (pydantic), which MCP returns too; only the webhook
acknowledgement and the error body are serializers here.
"""

from __future__ import annotations

from typing import Any

from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from calls import errors
from calls.models import AnsweredBy, CallStatus
from calls.selectors import MAX_PAGE_SIZE, HistoryFilters
from calls.shapes import TRANSCRIPT_FORMATS
from calls.validation import normalize_phone_number
from config.errors import DomainError, InvalidInput

# --- helpers ---------------------------------------------------------------------------------------


MESSAGE_MAX_CHARS = 300  # DRF echoes some values ('"<value>" is not a valid choice.'); never a huge one


def _bounded(message: Any) -> str:
    text = str(message)
    return text if len(text) <= MESSAGE_MAX_CHARS else f"{text[:MESSAGE_MAX_CHARS]}..."


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict) and detail:
        key, value = next(iter(detail.items()))
        inner = _first_message(value)
        return inner if key == "non_field_errors" or str(key).isdigit() else f"{_bounded(key)}: {inner}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return _bounded(detail)


def _plain(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {_bounded(key): _plain(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_plain(item) for item in detail]
    return _bounded(detail)


def validated(serializer: serializers.Serializer, error: type[DomainError] = InvalidInput) -> dict[str, Any]:
    """The serializer's validated data, or ``error`` (a 400 with a machine code) naming the first problem."""
    if not serializer.is_valid():
        raise error(reason=_first_message(serializer.errors), fields=_plain(serializer.errors))
    return dict(serializer.validated_data)


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with a UTC offset. A ``+`` that a query string turned into a space is put back."""

    def to_internal_value(self, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if len(text) > 19 and text[-6] == " " and text[-5:-3].isdigit():
                text = f"{text[:-6]}+{text[-5:]}"
            try:
                parsed = parse_datetime(text)
            except ValueError:
                parsed = None  # well formed but impossible (month 13): the parent field says so
            if parsed is not None and parsed.tzinfo is None:
                raise serializers.ValidationError("Give a UTC offset, e.g. 2026-12-01T15:00:00+00:00 or ...Z.")
            value = text
        return super().to_internal_value(value)


class CommaListField(serializers.ListField):
    """Repeated query parameters (``?status=a&status=b``) or one comma-separated list (``?status=a,b``)."""

    def to_internal_value(self, data: Any) -> list[Any]:
        if isinstance(data, str):
            data = [data]
        if isinstance(data, list | tuple):
            data = [part.strip() for item in data for part in str(item).split(",") if part.strip()]
        return super().to_internal_value(data)


# --- input -----------------------------------------------------------------------------------------


class CallCreateSerializer(serializers.Serializer):
    phone_number = serializers.CharField(max_length=32, help_text="Who to call, in E.164 format: +14155550123.")
    task = serializers.CharField(required=False, allow_blank=True, max_length=2000,
                                 help_text="What the AI agent should do and say. Give task or pathway_id.")
    pathway_id = serializers.CharField(required=False, allow_blank=True, max_length=64,
                                       help_text="A Bland conversational pathway instead of a task.")
    from_number = serializers.CharField(required=False, allow_blank=True, max_length=32,
                                        help_text="One of your provider numbers to call from (E.164).")
    voice = serializers.CharField(required=False, allow_blank=True, max_length=64, help_text="e.g. 'maya', 'josh'.")
    first_sentence = serializers.CharField(required=False, allow_blank=True, max_length=500,
                                           help_text="The agent's opening line.")
    language = serializers.CharField(required=False, allow_blank=True, max_length=16, help_text="e.g. 'en-US'.")
    max_duration = serializers.IntegerField(required=False, min_value=1, max_value=720,
                                            help_text="Longest the call may last, in minutes (default 10). "
                                                      "This many minutes of credits are reserved up front.")
    record = serializers.BooleanField(required=False, default=False, help_text="Record the audio.")
    wait_for_greeting = serializers.BooleanField(required=False, default=False,
                                                 help_text="Let the callee speak first.")
    start_time = AwareDateTimeField(required=False, allow_null=True,
                                    help_text="Schedule the call (at least 5 minutes ahead), with a UTC offset.")
    metadata = serializers.DictField(required=False, help_text="Your own data, returned with the call.")
    request_data = serializers.DictField(required=False, help_text="Variables the agent can use in the task.")
    idempotency_key = serializers.CharField(required=False, allow_blank=True, max_length=100,
                                            help_text="Same key, same call (or send an Idempotency-Key header).")
    confirm_spend = serializers.BooleanField(
        required=False, default=False,
        help_text="Needed (true) when the call reserves more credits than your confirmation threshold.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(f"Unknown field(s): {', '.join(unknown)}.")
        header = (self.context.get("idempotency_key_header") or "").strip()
        body = (attrs.get("idempotency_key") or "").strip()
        if len(header) > 100:
            raise serializers.ValidationError({"Idempotency-Key": "At most 100 characters."})
        if header and body and header != body:
            raise serializers.ValidationError(
                {"idempotency_key": "Differs from the Idempotency-Key header; send one or the same in both."}
            )
        attrs["idempotency_key"] = body or header or None
        return attrs


class CallHistoryQuerySerializer(serializers.Serializer):
    status = CommaListField(child=serializers.ChoiceField(choices=CallStatus.values), required=False,
                            help_text="Repeat the parameter or separate values with commas.")
    answered_by = CommaListField(child=serializers.ChoiceField(choices=AnsweredBy.values), required=False,
                                 help_text="Repeat the parameter or separate values with commas.")
    number = serializers.CharField(required=False, allow_blank=True, help_text="Calls to or from this E.164 number.")
    since = AwareDateTimeField(required=False, help_text="Created at or after (ISO 8601 with offset).")
    until = AwareDateTimeField(required=False, help_text="Created before (ISO 8601 with offset).")
    min_duration = serializers.IntegerField(required=False, min_value=0, help_text="Seconds.")
    max_duration = serializers.IntegerField(required=False, min_value=0, help_text="Seconds.")
    cursor = serializers.CharField(required=False, allow_blank=True, help_text="next_cursor of the previous page.")
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=MAX_PAGE_SIZE,
                                     help_text="Page size.")

    def validate_number(self, value: str) -> str:
        if not value:
            return ""
        try:
            return normalize_phone_number(value, field="number")
        except errors.InvalidCallRequest as exc:
            raise serializers.ValidationError(exc.message) from exc

    def filters(self) -> HistoryFilters:
        data = self.validated_data
        return HistoryFilters(
            status=tuple(data.get("status") or ()),
            answered_by=tuple(data.get("answered_by") or ()),
            number=data.get("number") or "",
            since=data.get("since"),
            until=data.get("until"),
            min_duration=data.get("min_duration"),
            max_duration=data.get("max_duration"),
        )


class TranscriptQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=TRANSCRIPT_FORMATS, required=False, default="text",
                                     help_text="text: 'Agent: ...' lines; segments: speaker turns; corrected: the "
                                               "provider's audio-aligned transcript (recorded calls).")


# --- output ----------------------------------------------------------------------------------------


class WebhookAckSerializer(serializers.Serializer):
    received = serializers.BooleanField()
    call_id = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    """Every error answer: ``{"error": {"code", "message", "details"?}, "detail"}``."""

    error = serializers.DictField()
    detail = serializers.CharField()
