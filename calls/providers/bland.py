"""The only module that talks to Bland AI (or to the bundled simulator, which speaks the same API), with its
mixin ``calls.providers.bland_insights`` (analysis, voices, account).

httpx client for Bland's v1 API: the raw key in the ``authorization`` header, timeouts, bounded
retries with backoff on 429/5xx for requests that are safe to repeat, and both of Bland's error
envelopes (flat ``{status, message, errors[str]}`` and ``{data, errors[{error, message}]}``) mapped to
``calls.errors``. Callers catch ``calls.errors.ProviderError`` subclasses.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from calls import errors
from calls.providers import bland_batches
from calls.providers.base import (
    BatchRequest,
    CallPage,
    ListCallsQuery,
    ListedCall,
    LiveEvent,
    PlaceCallRequest,
    ProviderBatch,
    ProviderCall,
    Recording,
    TranscriptSegment,
)
from calls.providers.bland_batches import bland_time
from calls.providers.bland_insights import InsightEndpoints
from calls.providers.bland_insights import decimal_or_none as _decimal

logger = logging.getLogger(__name__)

SPEAKERS = {"user": "callee", "assistant": "agent", "robot": "agent", "agent-action": "action"}
SAID_MAX_CHARS = 200
LIVE_SPEECH = {"Agent speech:": "agent", "Handling user speech:": "callee"}  # live event message prefixes


def _parse_time(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _error_message(response: httpx.Response) -> str:
    """The human message of either Bland envelope, or the raw text."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(body, dict):
        errs = body.get("errors")
        if isinstance(errs, list) and errs:
            first = errs[0]
            if isinstance(first, dict):
                return str(first.get("message") or first.get("error") or "error")
            if body.get("message") is None:
                return str(first)
        if body.get("message"):
            return str(body["message"])
        if body.get("error"):
            return str(body["error"])
    return str(body)[:300]


def retry_after_seconds(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (Bland sends none today; a proxy in front of it may)."""
    value = response.headers.get("retry-after", "").strip()
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _list_time(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def list_params(query: ListCallsQuery) -> dict[str, str | int]:
    """The query string of ``GET /v1/calls`` for ``query``; unset filters are left out."""
    params: dict[str, str | int] = {"sort_by": query.sort_by, "ascending": "true" if query.ascending else "false",
                                    "limit": query.limit}
    if query.update_start_date is not None:
        params["update_start_date"] = _list_time(query.update_start_date)
    if query.update_end_date is not None:
        params["update_end_date"] = _list_time(query.update_end_date)
    if query.completed is not None:
        params["completed"] = "true" if query.completed else "false"
    if query.start is not None:
        params["from"] = query.start
    if query.stop is not None:
        params["to"] = query.stop
    if query.batch_id:
        params["batch_id"] = query.batch_id
    return params


def parse_listed_call(item: dict[str, Any]) -> ListedCall:
    length = item.get("call_length")
    return ListedCall(
        provider_call_id=str(item["call_id"]),
        created_at=_parse_time(item.get("created_at")),
        completed=bool(item.get("completed")),
        queue_status="complete" if item.get("queue_status") == "completed" else str(item.get("queue_status") or ""),
        call_length_minutes=float(length) if isinstance(length, int | float) and not isinstance(length, bool) else None,
        answered_by=str(item.get("answered_by") or ""),
        error_message=str(item.get("error_message") or ""),
        to_number=str(item.get("to") or ""),
        from_number=str(item.get("from") or ""),
        batch_id=str(item["batch_id"]) if item.get("batch_id") else None,
    )


def _said(message: str) -> str:
    """What the provider said, as a sentence a caller can read (its own words, bounded)."""
    text = " ".join(message.split())[:SAID_MAX_CHARS] or "no reason given"
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _unavailable(method: str, path: str, detail: str) -> errors.ProviderUnavailable:
    """The provider could not be reached or answered nonsense: the detail is for the log only."""
    logger.warning("Bland %s %s failed: %s", method, path, detail)
    return errors.ProviderUnavailable(detail=detail)


class BlandClient(InsightEndpoints):
    name = "bland"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"authorization": api_key, "accept": "application/json"},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
        )
        self._retries = retries
        self._backoff = backoff
        self._sleep = sleep

    def close(self) -> None:
        self._http.close()

    # --- transport with retries and error mapping --------------------------------------------------

    def _request(self, method: str, path: str, *, repeatable: bool, **kwargs: Any) -> httpx.Response:
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.ConnectError as exc:
                # The request never reached the provider: always safe to repeat.
                if attempt <= self._retries:
                    self._pause(attempt, None)
                    continue
                raise _unavailable(method, path, f"cannot connect: {exc}") from exc
            except httpx.TimeoutException as exc:
                if repeatable and attempt <= self._retries:
                    self._pause(attempt, None)
                    continue
                raise _unavailable(method, path, "timed out") from exc
            except httpx.HTTPError as exc:
                raise _unavailable(method, path, str(exc) or type(exc).__name__) from exc
            status = response.status_code
            retryable = status == 429 or (status >= 500 and repeatable)
            if retryable and attempt <= self._retries:
                self._pause(attempt, response.headers.get("retry-after"))
                continue
            if status >= 400:
                self._raise_for(response)
            return response

    def _pause(self, attempt: int, retry_after: str | None) -> None:
        delay = self._backoff * (2 ** (attempt - 1))
        if retry_after and retry_after.isdigit():
            delay = max(delay, float(retry_after))
        self._sleep(min(delay, 10.0) * (0.5 + random.random() / 2))  # noqa: S311 - jitter, not crypto

    @staticmethod
    def _raise_for(response: httpx.Response) -> None:
        status, message = response.status_code, _error_message(response)
        request = response.request
        logger.warning("Bland %s %s answered HTTP %s: %s", request.method, request.url.path, status, message)
        if status == 401:
            raise errors.ProviderAuthFailed(detail=message)
        if status == 402:
            raise errors.ProviderBalanceExhausted(detail=message)
        if status == 404:
            raise errors.ProviderNotFound(detail=message)
        if status == 429:
            raise errors.ProviderRateLimited(reason=_said(message), detail=message,
                                             retry_after=retry_after_seconds(response))
        if status >= 500:
            raise errors.ProviderUnavailable(detail=f"HTTP {status}: {message}")
        raise errors.ProviderRejected(reason=_said(message), detail=message)

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        request = response.request
        try:
            body = response.json()
        except ValueError as exc:
            raise _unavailable(request.method, request.url.path, "the answer is not JSON") from exc
        if not isinstance(body, dict):
            raise _unavailable(request.method, request.url.path, "unexpected answer shape")
        if body.get("status") == "error" or (body.get("data") is None and body.get("errors")):
            message = _error_message(response)
            logger.warning("Bland %s %s refused: %s", request.method, request.url.path, message)
            raise errors.ProviderRejected(reason=_said(message), detail=message)
        return body

    # --- API -------------------------------------------------------------------------------------

    def place_call(self, request: PlaceCallRequest) -> str:
        """POST /v1/calls. Not repeated on 5xx or timeouts (the call may exist); 429 is safe to repeat."""
        body: dict[str, Any] = {"phone_number": request.to_number, "max_duration": request.max_duration}
        for key, value in (
            ("task", request.task), ("pathway_id", request.pathway_id), ("from", request.from_number),
            ("voice", request.voice), ("first_sentence", request.first_sentence), ("language", request.language),
            ("webhook", request.webhook),
        ):
            if value:
                body[key] = value
        if request.webhook and request.webhook_events:
            body["webhook_events"] = list(request.webhook_events)
        if request.record:
            body["record"] = True
        if request.wait_for_greeting:
            body["wait_for_greeting"] = True
        if request.start_time is not None:
            body["start_time"] = bland_time(request.start_time)
        if request.metadata:
            body["metadata"] = request.metadata
        if request.request_data:
            body["request_data"] = request.request_data
        answer = self._json(self._request("POST", "/v1/calls", repeatable=False, json=body))
        call_id = answer.get("call_id")
        if not call_id:
            raise _unavailable("POST", "/v1/calls", "no call_id in the answer")
        return str(call_id)

    def get_call(self, provider_call_id: str) -> ProviderCall:
        response = self._request("GET", f"/v1/calls/{provider_call_id}", repeatable=True)
        return self.parse_call(self._json(response))

    def list_calls(self, query: ListCallsQuery) -> CallPage:
        """GET /v1/calls: one page of the list, newest first unless ``ascending``. Its items carry no
        status, price or transcript (bland_api.md section 4): ``get_call`` has those."""
        body = self._json(self._request("GET", "/v1/calls", repeatable=True, params=list_params(query)))
        items = body.get("calls")
        if not isinstance(items, list):
            raise _unavailable("GET", "/v1/calls", "the call list has no calls array")
        calls = tuple(parse_listed_call(item) for item in items if isinstance(item, dict) and item.get("call_id"))
        total = body.get("total_count")
        return CallPage(total_count=int(total) if isinstance(total, int) else len(calls), calls=calls)

    def stop_call(self, provider_call_id: str) -> None:
        self._json(self._request("POST", f"/v1/calls/{provider_call_id}/stop", repeatable=True))

    def get_recording(self, provider_call_id: str) -> Recording:
        """The audio, from the current endpoint, falling back to the legacy one."""
        try:
            response = self._request("GET", f"/v1/recordings/{provider_call_id}", repeatable=True,
                                     headers={"content-type": "audio/wav", "accept": "audio/*"})
        except errors.ProviderNotFound:
            response = self._request("GET", f"/v1/calls/{provider_call_id}/recording", repeatable=True,
                                     headers={"accept": "audio/*"})
        content_type = response.headers.get("content-type", "application/octet-stream").split(";")[0]
        if content_type.startswith("application/json"):
            logger.warning("Bland recording of %s is not audio: %s", provider_call_id, _error_message(response))
            raise errors.ProviderNotFound(detail=_error_message(response))
        return Recording(content=response.content, content_type=content_type)

    def get_corrected_transcript(self, provider_call_id: str) -> tuple[TranscriptSegment, ...]:
        body = self._json(self._request("GET", f"/v1/calls/{provider_call_id}/correct", repeatable=True))
        return tuple(
            TranscriptSegment(
                speaker=SPEAKERS.get(str(item.get("speaker_label")), str(item.get("speaker_label") or "unknown")),
                text=str(item.get("text", "")).strip(),
                start=item.get("start"),
                end=item.get("end"),
                confidence=item.get("confidence"),
            )
            for item in body.get("corrected") or []
        )

    # --- v2 batches (calls.providers.bland_batches) --------------------------------------------------

    def create_batch(self, request: BatchRequest) -> str:
        return bland_batches.create_batch(self, request)

    def get_batch(self, batch_id: str) -> ProviderBatch:
        return bland_batches.get_batch(self, batch_id)

    def list_batches(self, *, take: int = 100, skip: int = 0) -> tuple[ProviderBatch, ...]:
        return bland_batches.list_batches(self, take=take, skip=skip)

    def stop_batch(self, batch_id: str) -> None:
        bland_batches.stop_batch(self, batch_id)

    def batch_logs(self, batch_id: str) -> tuple[dict[str, Any], ...]:
        return bland_batches.batch_logs(self, batch_id)

    # --- payloads ---------------------------------------------------------------------------------

    @staticmethod
    def is_live_event(payload: dict[str, Any]) -> bool:
        """A live event (``{"message", "call_id", "category", ...}``) rather than the post-call details object."""
        return isinstance(payload.get("message"), str) and isinstance(payload.get("category"), str) and not (
            "queue_status" in payload or "transcripts" in payload or "completed" in payload)

    @staticmethod
    def parse_live_event(payload: dict[str, Any]) -> LiveEvent:
        """Bland's live event: "Call connected", "Agent speech: ..." and "Handling user speech: ..." are what a
        call's state and transcript are made of; the rest (queue, latency, tools) is "other"."""
        message, call_id = str(payload.get("message") or "").strip(), str(payload.get("call_id") or "")
        timestamp = payload.get("timestamp") or payload.get("created_at")
        at = str(timestamp) if timestamp else None
        if message.lower() == "call connected":
            return LiveEvent(call_id, "connected", "", "", at)
        for prefix, speaker in LIVE_SPEECH.items():
            if message.startswith(prefix) and message[len(prefix):].strip():
                return LiveEvent(call_id, "speech", speaker, message[len(prefix):].strip(), at)
        return LiveEvent(call_id, "other", "", message, at)

    @staticmethod
    def parse_call(payload: dict[str, Any]) -> ProviderCall:
        """A details object (GET /v1/calls/{id} or the post-call webhook body) as a ``ProviderCall``."""
        call_id = payload.get("call_id") or payload.get("c_id")
        if not call_id:
            raise errors.ProviderRejected(reason="the call details have no call_id.")
        duration: int | None = None
        if payload.get("corrected_duration") not in (None, ""):
            try:
                duration = round(float(payload["corrected_duration"]))
            except (TypeError, ValueError):
                duration = None
        if duration is None and isinstance(payload.get("call_length"), int | float):
            duration = round(float(payload["call_length"]) * 60)
        transcript = tuple(
            TranscriptSegment(
                speaker=SPEAKERS.get(str(item.get("user")), str(item.get("user") or "unknown")),
                text=str(item.get("text", "")).strip(),
                at=item.get("created_at"),
            )
            for item in payload.get("transcripts") or []
            if isinstance(item, dict)
        )
        queue_status = str(payload.get("queue_status") or "")
        return ProviderCall(
            provider_call_id=str(call_id),
            queue_status="complete" if queue_status == "completed" else queue_status,
            status=str(payload.get("status") or ""),
            completed=bool(payload.get("completed")),
            answered_by=str(payload.get("answered_by") or ""),
            started_at=_parse_time(payload.get("started_at")),
            ended_at=_parse_time(payload.get("end_at")) if payload.get("completed") else None,
            duration_seconds=duration,
            price=_decimal(payload.get("price")),
            summary=str(payload.get("summary") or ""),
            transcript=transcript,
            recording_url=str(payload.get("recording_url") or ""),
            from_number=str(payload.get("from") or ""),
            error_message=str(payload.get("error_message") or "") if payload.get("error_message") != "unknown" else "",
            ended_by=str(payload.get("call_ended_by") or ""),
            disposition=str(payload.get("disposition_tag") or ""),
            raw=payload,
        )
