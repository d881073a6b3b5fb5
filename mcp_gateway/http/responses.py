"""JSON answers of the HTTP transports."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse

from mcp_gateway import codec, jsonrpc


class Refusal(Exception):  # noqa: N818 - it carries the answer
    """Stops handling a request with this HTTP response."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__(response.status_code)
        self.response = response


def empty_response(status: int, headers: dict[str, str] | None = None) -> HttpResponse:
    """A body-less answer (202, 204) that claims no content type."""
    response = HttpResponse(status=status, headers=headers)
    del response["Content-Type"]
    return response


def json_response(body: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    return HttpResponse(codec.dumps(body), content_type="application/json", status=status, headers=headers)


def rpc_error(exc: jsonrpc.JsonRpcError, *, status: int, request_id: Any = None,
              headers: dict[str, str] | None = None) -> HttpResponse:
    """A JSON-RPC error answered with an HTTP status the transport chose."""
    return json_response(jsonrpc.error_response(request_id, exc), status=status, headers=headers)


def refuse(exc: jsonrpc.JsonRpcError, *, status: int, request_id: Any = None,
           headers: dict[str, str] | None = None) -> Refusal:
    return Refusal(rpc_error(exc, status=status, request_id=request_id, headers=headers))
