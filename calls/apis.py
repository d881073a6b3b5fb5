"""REST API for calls, mirroring the MCP tools: one class per operation, each validate -> one service or
selector -> serialize. Every call is reached through ``selectors.call_get_for_user``, so another user's
call is "not found". Errors are ``DomainError``s, answered by ``config.exceptions.exception_handler``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotAuthenticated
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from calls import errors, presenters, selectors, services
from calls.models import Call
from calls.providers import configured_provider
from calls.recordings import recording_link_call
from calls.serializers import (
    CallCreateSerializer,
    CallHistoryQuerySerializer,
    ErrorSerializer,
    TranscriptQuerySerializer,
    validated,
)
from calls.shapes import CallDetails, CallListPage, RecordingLink, Transcript
from calls.throttles import CancelCallsThrottle, PlaceCallsThrottle, RefundOnClientMistake
from calls.validation import normalize_phone_number
from users import scopes
from users.models import User
from users.permissions import scope_required
from users.selectors import spend_needs_confirmation

TAG = "calls"
CALL_ID = OpenApiParameter("call_id", OpenApiTypes.UUID, OpenApiParameter.PATH,
                           description="The call_id returned when the call was placed.")
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="Same key, same call: a retried request returns the call placed the first time.",
)
ERROR = OpenApiResponse(ErrorSerializer, description="JSON error with a machine code.")
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="No such call, or not yours (call_not_found).")
READ: list[type[BasePermission]] = [IsAuthenticated, scope_required(scopes.CALLS_READ)]
WRITE: list[type[BasePermission]] = [IsAuthenticated, scope_required(scopes.CALLS_WRITE)]


def _details(call: Call) -> dict[str, Any]:
    return presenters.call_details(call).as_json()


def signed_in(request: Request) -> User:
    """The authenticated user of a view that requires one (``IsAuthenticated`` ran first)."""
    if not isinstance(request.user, User):
        raise NotAuthenticated()
    return request.user


def _own_call(request: Request, call_id: str) -> Call:
    user = signed_in(request)
    return selectors.call_get_for_user(user_id=user.pk, call_id=call_id, staff=user.is_staff)


class JsonWhateverTheClientAccepts(BaseContentNegotiation):
    """For endpoints hit by browsers, players and providers: never 406, errors are always JSON. Also where
    ``?format=`` is a parameter of the operation (the transcript's format), not DRF's renderer override."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(self, request: Request, renderers: Iterable[BaseRenderer],
                        format_suffix: str | None = None) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


# --- /calls/ ----------------------------------------------------------------------------------------


class CallListApi(APIView):
    permission_classes = READ
    throttle_classes: list[type[BaseThrottle]] = []

    @extend_schema(
        tags=[TAG], operation_id="calls_list", summary="List your calls (getCallHistory)",
        description=("Newest first, filtered like getCallHistory. `total` counts every match; follow `next` "
                     "(or pass `next_cursor` as `cursor`) for the next page."),
        parameters=[CallHistoryQuerySerializer],
        responses={200: CallListPage, 400: ERROR},
    )
    def get(self, request: Request) -> Response:
        query = CallHistoryQuerySerializer(data=request.query_params)
        validated(query)
        page = selectors.call_history(owner_id=signed_in(request).pk, filters=query.filters(),
                                      cursor=query.validated_data.get("cursor") or None,
                                      limit=query.validated_data["limit"])
        next_url = None
        if page.next_cursor:
            params = request.query_params.copy()
            params["cursor"] = page.next_cursor
            next_url = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
        return Response(CallListPage(results=[presenters.call_summary(c) for c in page.calls], total=page.total,
                                     next_cursor=page.next_cursor, next=next_url).as_json())


class CallCreateApi(RefundOnClientMistake, APIView):
    permission_classes = WRITE
    throttle_classes = [PlaceCallsThrottle]

    @extend_schema(
        tags=[TAG], operation_id="calls_create", summary="Place an AI phone call (makePhoneCall)",
        description=("Reserves `max_duration` minutes of credits, then places the call with the provider and "
                     "answers at once (201) with its details; follow it with GET /calls/{call_id}/. Nothing is "
                     "placed or charged when validation fails (400), the reservation is above your confirmation "
                     "threshold without confirm_spend: true (400 confirmation_required), credits are short (402) or "
                     "the provider is down (503). Resending with the same idempotency key returns the first call."),
        parameters=[IDEMPOTENCY_KEY],
        request=CallCreateSerializer,
        responses={201: CallDetails, 400: ERROR, 402: ERROR, 429: ERROR, 502: ERROR, 503: ERROR},
        examples=[OpenApiExample("Reminder call", request_only=True, value={
            "phone_number": "+12125550100", "task": "Remind Sam about the dentist at 3pm tomorrow.",
            "max_duration": 3, "record": True,
        })],
    )
    def post(self, request: Request) -> Response:
        data = validated(
            CallCreateSerializer(data=request.data,
                                 context={"idempotency_key_header": request.headers.get("Idempotency-Key")}),
            errors.InvalidCallRequest,
        )
        user, confirmed = signed_in(request), data.pop("confirm_spend")
        minutes = data.get("max_duration") or settings.CALL_DEFAULT_MAX_DURATION_MINUTES
        credits = services.reservation_for(minutes)
        threshold = spend_needs_confirmation(user=user, credits=credits)
        if threshold is not None and not confirmed:
            raise errors.SpendConfirmationRequired(credits=credits, minutes=minutes, threshold=threshold,
                                                   summary=f"call {normalize_phone_number(data['phone_number'])}")
        call = services.call_place(provider=configured_provider(), user=user,
                                   to_number=data.pop("phone_number"), **data, source="api")
        location = reverse("calls:call_detail", kwargs={"call_id": str(call.id)})
        return Response(_details(call), status=status.HTTP_201_CREATED, headers={"Location": location})


class CallCollectionApi(CallListApi, CallCreateApi):
    """``/calls/`` serves two operations; each keeps its own class and its own scope."""

    def get_permissions(self) -> list[BasePermission]:
        operation = CallCreateApi if self.request.method == "POST" else CallListApi
        return [permission() for permission in operation.permission_classes]

    def get_throttles(self) -> list[BaseThrottle]:
        operation = CallCreateApi if self.request.method == "POST" else CallListApi
        return [throttle() for throttle in operation.throttle_classes]


# --- /calls/{id}/ -----------------------------------------------------------------------------------


class CallDetailApi(APIView):
    permission_classes = READ

    @extend_schema(tags=[TAG], operation_id="calls_retrieve", summary="One call's details (getCallDetails)",
                   parameters=[CALL_ID], responses={200: CallDetails, 404: NOT_FOUND})
    def get(self, request: Request, call_id: str) -> Response:
        call = services.call_refresh_if_stale(provider=configured_provider(), call=_own_call(request, call_id),
                                              source="api")
        return Response(_details(call))


class CallCancelApi(APIView):
    permission_classes = WRITE
    throttle_classes = [CancelCallsThrottle]

    @extend_schema(
        tags=[TAG], operation_id="calls_cancel", summary="Cancel a call (cancelCall)",
        description=("Stops a queued, scheduled or live call and releases its reserved credits. Cancelling a "
                     "cancelled call changes nothing; a call that already ended is 409."),
        parameters=[CALL_ID], request=None,
        responses={200: CallDetails, 404: NOT_FOUND, 409: ERROR, 503: ERROR},
    )
    def post(self, request: Request, call_id: str) -> Response:
        call = _own_call(request, call_id)
        return Response(_details(services.call_cancel(provider=configured_provider(), call=call, source="api")))


class CallTranscriptApi(APIView):
    permission_classes = READ
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JsonWhateverTheClientAccepts

    @extend_schema(tags=[TAG], operation_id="calls_transcript", summary="A call's transcript (getCallTranscript)",
                   parameters=[CALL_ID, TranscriptQuerySerializer],
                   responses={200: Transcript, 400: ERROR, 404: NOT_FOUND})
    def get(self, request: Request, call_id: str) -> Response:
        fmt = validated(TranscriptQuerySerializer(data=request.query_params))["format"]
        call = _own_call(request, call_id)
        if fmt == "corrected":
            call = services.call_store_corrected_transcript(provider=configured_provider(), call=call)
        return Response(presenters.call_transcript(call, fmt).as_json())


class CallRecordingApi(APIView):
    permission_classes = READ

    @extend_schema(
        tags=[TAG], operation_id="calls_recording", summary="A link to a call's recording (getCallRecording)",
        description=("Stores the audio on first use, then answers a signed link that downloads it without a token "
                     "until `expires_at`. 404 recording_not_available for calls placed without record=true or "
                     "not ended yet."),
        parameters=[CALL_ID], responses={200: RecordingLink, 404: NOT_FOUND, 503: ERROR},
    )
    def get(self, request: Request, call_id: str) -> Response:
        call = _own_call(request, call_id)
        call = services.call_attach_recording(provider=configured_provider(), call=call)
        return Response(presenters.call_recording(call).as_json())


class CallRecordingDownloadApi(APIView):
    """Public by design: the signed token is the credential (it names the call and its owner, and expires)."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JsonWhateverTheClientAccepts

    @extend_schema(
        tags=[TAG], operation_id="calls_recording_download", summary="Download a recording with a signed link",
        description="The `url` from GET /calls/{call_id}/recording/. An invalid, expired or foreign link is 404.",
        auth=[], parameters=[CALL_ID, OpenApiParameter("token", OpenApiTypes.STR, OpenApiParameter.QUERY,
                                                       required=True, description="From the signed link.")],
        responses={(200, "audio/wav"): OpenApiTypes.BINARY, (200, "audio/mpeg"): OpenApiTypes.BINARY,
                   404: OpenApiResponse(ErrorSerializer, description="recording_link_invalid")},
    )
    def get(self, request: Request, call_id: str) -> HttpResponse:
        call = recording_link_call(call_id=call_id, token=request.query_params.get("token", ""))
        try:
            with call.recording_file.open("rb") as handle:
                audio = handle.read()  # recordings are small; a sync file stream would be buffered under ASGI
        except OSError:
            raise errors.RecordingLinkInvalid() from None
        name = (call.recording_file.name or "recording").rsplit("/", 1)[-1]
        response = HttpResponse(audio, content_type=call.recording_content_type or "application/octet-stream")
        response["Content-Disposition"] = f'inline; filename="{name}"'
        response["Cache-Control"] = "private, no-store"
        response["Referrer-Policy"] = "no-referrer"
        return response
