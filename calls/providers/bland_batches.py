"""Bland's v2 batches, for ``BlandClient`` (bland_api.md section 11).

``POST /v2/batches/create`` places every call of a campaign in one request: ``global`` holds what the calls
share (task or pathway, voice, duration, webhook), each of ``call_objects`` its number, ``request_data``,
``metadata`` and ``start_time``. Answers use the ``{data, errors}`` envelope. Creating is never repeated on a
5xx or a timeout (the batch may exist); reads and stop are.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from calls import errors
from calls.providers.base import BatchRequest, ProviderBatch

if TYPE_CHECKING:
    from calls.providers.bland import BlandClient


def bland_time(moment: datetime) -> str:
    """``start_time`` as Bland writes it: ``YYYY-MM-DD HH:MM:SS +HH:MM``."""
    text = moment.strftime("%Y-%m-%d %H:%M:%S %z")
    return f"{text[:-2]}:{text[-2:]}"


def batch_body(request: BatchRequest) -> dict[str, Any]:
    shared: dict[str, Any] = {"max_duration": request.max_duration}
    for key, value in (("task", request.task), ("pathway_id", request.pathway_id), ("voice", request.voice),
                       ("first_sentence", request.first_sentence), ("language", request.language),
                       ("webhook", request.webhook)):
        if value:
            shared[key] = value
    if request.record:
        shared["record"] = True
    if request.wait_for_greeting:
        shared["wait_for_greeting"] = True
    objects = []
    for call in request.calls:
        item: dict[str, Any] = {"phone_number": call.to_number}
        if call.request_data:
            item["request_data"] = call.request_data
        if call.metadata:
            item["metadata"] = call.metadata
        if call.start_time is not None:
            item["start_time"] = bland_time(call.start_time)
        objects.append(item)
    body: dict[str, Any] = {"global": shared, "call_objects": objects}
    if request.description:
        body["description"] = request.description[:60]
    if request.status_webhook:
        body["status_webhook"] = request.status_webhook
    return body


def _data(client: BlandClient, method: str, path: str, **kwargs: Any) -> Any:
    response = client._request(method, path, repeatable=method == "GET" or path.endswith("/stop"), **kwargs)
    return client._json(response).get("data")


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) and value else None
    except ValueError:
        return None


def parse_batch(item: dict[str, Any]) -> ProviderBatch:
    count = item.get("call_count")
    return ProviderBatch(
        batch_id=str(item.get("batch_id") or item.get("id")),
        status=str(item.get("status") or ""),
        description=str(item.get("description") or ""),
        call_count=count if isinstance(count, int) and not isinstance(count, bool) else None,
        created_at=_time(item.get("created_at")),
        raw=item,
    )


def create_batch(client: BlandClient, request: BatchRequest) -> str:
    data = _data(client, "POST", "/v2/batches/create", json=batch_body(request))
    batch_id = data.get("batch_id") if isinstance(data, dict) else None
    if not batch_id:
        raise errors.ProviderUnavailable(detail="POST /v2/batches/create: no batch_id in the answer")
    return str(batch_id)


def get_batch(client: BlandClient, batch_id: str) -> ProviderBatch:
    data = _data(client, "GET", f"/v2/batches/{batch_id}")
    if not isinstance(data, dict):
        raise errors.ProviderUnavailable(detail=f"GET /v2/batches/{batch_id}: no batch in the answer")
    return parse_batch(data)


def list_batches(client: BlandClient, *, take: int = 100, skip: int = 0) -> tuple[ProviderBatch, ...]:
    data = _data(client, "GET", "/v2/batches/list", params={"take": take, "skip": skip})
    return tuple(parse_batch(item) for item in data or [] if isinstance(item, dict))


def stop_batch(client: BlandClient, batch_id: str) -> None:
    _data(client, "POST", f"/v2/batches/{batch_id}/stop")


def batch_logs(client: BlandClient, batch_id: str) -> tuple[dict[str, Any], ...]:
    data = _data(client, "GET", f"/v2/batches/{batch_id}/logs")
    return tuple(item for item in data or [] if isinstance(item, dict))

