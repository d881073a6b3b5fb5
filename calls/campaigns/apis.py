"""REST twins of the campaign tools under ``/api/v1/campaigns/``: validate -> one service or selector ->
the same ``CampaignDetails`` shape. The body of a new campaign is read by the tool's own input model, so REST
and MCP accept and refuse the same things; errors are ``DomainError``s answered as JSON by the handler."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from pydantic import BaseModel, ValidationError
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from calls.apis import READ, WRITE, signed_in
from calls.campaigns import selectors, services
from calls.campaigns.mcp_models import GetCampaignInput, ListCampaignsInput, MakeCallCampaignInput
from calls.campaigns.shapes import CampaignDetails, CampaignList, campaign_details
from calls.errors import SpendConfirmationRequired
from calls.models import Campaign
from calls.providers import configured_provider
from calls.serializers import ErrorSerializer
from calls.throttles import CancelCallsThrottle, PlaceCallsThrottle, RefundOnClientMistake
from config.errors import InvalidInput
from users.selectors import spend_needs_confirmation

TAG = "campaigns"
CAMPAIGN_ID = OpenApiParameter("campaign_id", OpenApiTypes.UUID, OpenApiParameter.PATH,
                               description="The campaign_id returned when the campaign was placed.")
ERROR = OpenApiResponse(ErrorSerializer, description="JSON error with a machine code.")
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="No such campaign, or not yours (campaign_not_found).")


def _arguments(model: type[BaseModel], data: Any) -> Any:
    """``data`` read by ``model``, or ``InvalidInput`` naming the first problem (and listing them all)."""
    try:
        return model.model_validate(data if isinstance(data, dict) else dict(data))
    except (ValidationError, TypeError, ValueError) as exc:
        problems = exc.errors(include_url=False, include_input=False) if isinstance(exc, ValidationError) else []
        listed = [{"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]} for e in problems]
        first = f"{listed[0]['field']}: {listed[0]['message']}" if listed else "The body must be a JSON object."
        raise InvalidInput(reason=first, fields=listed) from None


def _own(request: Request, campaign_id: str) -> Campaign:
    user = signed_in(request)
    return selectors.campaign_get_for_user(user_id=user.pk, campaign_id=campaign_id, staff=user.is_staff)


class CampaignListApi(APIView):
    permission_classes = READ
    throttle_classes: list[type[BaseThrottle]] = []

    @extend_schema(tags=[TAG], operation_id="campaigns_list", summary="List your campaigns (listCampaigns)",
                   parameters=[OpenApiParameter("limit", OpenApiTypes.INT),
                               OpenApiParameter("offset", OpenApiTypes.INT)],
                   responses={200: CampaignList, 400: ERROR})
    def get(self, request: Request) -> Response:
        query = _arguments(ListCampaignsInput, request.query_params.dict())
        found, total = selectors.campaign_list(owner_id=signed_in(request).pk, limit=query.limit, offset=query.offset)
        return Response(CampaignList(campaigns=[campaign_details(c, calls_limit=0) for c in found],
                                     total=total).as_json())


class CampaignCreateApi(RefundOnClientMistake, APIView):
    permission_classes = WRITE
    throttle_classes = [PlaceCallsThrottle]

    @extend_schema(
        tags=[TAG], operation_id="campaigns_create", summary="Call many numbers with one task (makeCallCampaign)",
        description=("Checks every row, reserves max_duration minutes of credits for every call at once (all or "
                     "nothing) and places the campaign with one provider batch; answers 201 with the campaign. "
                     "One bad row rejects the whole campaign (400 invalid_campaign, every bad row in "
                     "error.details.rows); more than 1,000 rows is 400 campaign_too_large; a reservation above "
                     "your confirmation threshold without confirm_spend: true is 400 confirmation_required; "
                     "short credits 402."),
        request=MakeCallCampaignInput,
        responses={201: CampaignDetails, 400: ERROR, 402: ERROR, 429: ERROR, 502: ERROR, 503: ERROR},
        examples=[OpenApiExample("Reminders", request_only=True, value={
            "task": "Remind {{name}} of the dentist appointment tomorrow at {{time}}.", "max_duration": 3,
            "calls": [{"phone_number": "+12125550100", "request_data": {"name": "Sam", "time": "3 pm"}},
                      {"phone_number": "+12125550101", "request_data": {"name": "Ana", "time": "4 pm"}}],
        })],
    )
    def post(self, request: Request) -> Response:
        arguments = _arguments(MakeCallCampaignInput, request.data)
        provider = configured_provider()
        shared, rows = services.campaign_prepare(
            provider=provider, rows=arguments.calls, name=arguments.name, task=arguments.task,
            pathway_id=arguments.pathway_id, voice=arguments.voice, first_sentence=arguments.first_sentence,
            language=arguments.language or "", max_duration=arguments.max_duration, record=arguments.record,
            wait_for_greeting=arguments.wait_for_greeting, start_time=arguments.start_time)
        user, credits = signed_in(request), services.campaign_reservation(shared=shared, rows=rows)
        threshold = spend_needs_confirmation(user=user, credits=credits)
        if threshold is not None and not arguments.confirm_spend:
            raise SpendConfirmationRequired(credits=credits, minutes=shared.max_duration, threshold=threshold,
                                            summary=f"call {len(rows):,} numbers")
        campaign = services.campaign_place(provider=provider, user=user, shared=shared, rows=rows, source="api")
        return Response(campaign_details(campaign, calls_limit=0).as_json(), status=status.HTTP_201_CREATED,
                        headers={"Location": f"/api/v1/campaigns/{campaign.id}/"})


class CampaignCollectionApi(CampaignListApi, CampaignCreateApi):
    """``/campaigns/`` serves two operations; each keeps its own scope and throttle."""

    def get_permissions(self) -> list[Any]:
        operation = CampaignCreateApi if self.request.method == "POST" else CampaignListApi
        return [permission() for permission in operation.permission_classes]

    def get_throttles(self) -> list[BaseThrottle]:
        operation = CampaignCreateApi if self.request.method == "POST" else CampaignListApi
        return [throttle() for throttle in operation.throttle_classes]


class CampaignDetailApi(APIView):
    permission_classes = READ

    @extend_schema(tags=[TAG], operation_id="campaigns_retrieve", summary="A campaign's progress (getCampaign)",
                   parameters=[CAMPAIGN_ID, OpenApiParameter("calls_offset", OpenApiTypes.INT),
                               OpenApiParameter("calls_limit", OpenApiTypes.INT)],
                   responses={200: CampaignDetails, 400: ERROR, 404: NOT_FOUND})
    def get(self, request: Request, campaign_id: str) -> Response:
        query = _arguments(GetCampaignInput, {**request.query_params.dict(), "campaign_id": campaign_id})
        campaign = _own(request, campaign_id)
        services.campaign_link_if_due(provider=configured_provider(), campaign=campaign)
        return Response(campaign_details(campaign, calls_offset=query.calls_offset,
                                         calls_limit=query.calls_limit).as_json())


class CampaignCancelApi(APIView):
    permission_classes = WRITE
    throttle_classes = [CancelCallsThrottle]

    @extend_schema(
        tags=[TAG], operation_id="campaigns_cancel", summary="Stop a campaign (cancelCampaign)",
        description=("Calls not dialled yet are cancelled and give back their credits; calls already ringing or "
                     "talking finish. Stopping a stopped campaign changes nothing; one that ended is 409."),
        parameters=[CAMPAIGN_ID], request=None,
        responses={200: CampaignDetails, 404: NOT_FOUND, 409: ERROR, 503: ERROR},
    )
    def post(self, request: Request, campaign_id: str) -> Response:
        campaign = services.campaign_cancel(provider=configured_provider(), campaign=_own(request, campaign_id),
                                            source="api")
        return Response(campaign_details(campaign, calls_limit=0).as_json())
