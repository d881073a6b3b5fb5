"""REST twins of analyzeCall, analyzeCampaign, listVoices and getAccountStatus: validate -> one service -> the
same shapes the tools return. Errors are ``DomainError``s, answered as JSON by
``config.exceptions.exception_handler``."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from calls import errors, presenters, selectors
from calls.account import account_status, voices_page
from calls.analysis import MAX_QUESTION_CHARS, MAX_QUESTIONS, call_analyze, campaign_analyze
from calls.apis import CALL_ID, ERROR, NOT_FOUND, READ, TAG, signed_in
from calls.campaigns.selectors import campaign_get_for_user
from calls.providers import configured_provider
from calls.serializers import ErrorSerializer, validated
from calls.shapes import AccountStatus, CallAnalysisResult, CampaignAnalysis, VoiceList
from users import scopes
from users.permissions import scope_required


class CallAnalyzeSerializer(serializers.Serializer):
    questions = serializers.ListField(
        child=serializers.CharField(max_length=MAX_QUESTION_CHARS), min_length=1, max_length=MAX_QUESTIONS,
        help_text="Questions about the call in plain language.")
    answer_schema = serializers.JSONField(
        required=False, allow_null=True,
        help_text=("JSON Schema of the answers: an object with one property per question (in order), or an array "
                   "with one item per question. Without it, answers are an array."))
    goal = serializers.CharField(required=False, allow_blank=True, max_length=500, default="",
                                 help_text="What the call was for (optional).")


class CampaignAnalyzeSerializer(CallAnalyzeSerializer):
    calls_offset = serializers.IntegerField(required=False, min_value=0, max_value=1000, default=0)
    calls_limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=50,
                                           help_text="How many of its calls, in row order.")


class VoiceQuerySerializer(serializers.Serializer):
    query = serializers.CharField(required=False, allow_blank=True, max_length=100, default="",
                                  help_text="Words the name, description or tags must contain.")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=500, default=100)


class CallAnalyzeApi(APIView):
    permission_classes = READ

    @extend_schema(
        tags=[TAG], operation_id="calls_analyze", summary="Analyze an ended call (analyzeCall)",
        description=("Asks the provider the questions about what was said on the call and stores the answers with "
                     "it (GET /calls/{call_id}/ lists them under `analyses`). 400 invalid_analysis_request for bad "
                     "questions or an answer_schema that is not a JSON Schema; 409 call_not_ended or "
                     "call_not_analyzable; nothing is stored on any error."),
        parameters=[CALL_ID], request=CallAnalyzeSerializer,
        responses={201: CallAnalysisResult, 400: ERROR, 404: NOT_FOUND, 409: ERROR, 502: ERROR, 503: ERROR},
        examples=[OpenApiExample("Typed answers", request_only=True, value={
            "questions": ["Who answered the call?", "Did the callee agree?"],
            "answer_schema": {"type": "object", "properties": {
                "answered_by": {"type": "string", "enum": ["human", "voicemail"]}, "agreed": {"type": "boolean"}},
                "required": ["answered_by", "agreed"]},
        })],
    )
    def post(self, request: Request, call_id: str) -> Response:
        data = validated(CallAnalyzeSerializer(data=request.data), errors.InvalidAnalysisRequest)
        user = signed_in(request)
        call = selectors.call_get_for_user(user_id=user.pk, call_id=call_id, staff=user.is_staff)
        analysis = call_analyze(provider=configured_provider(), call=call,
                                questions=data["questions"], answer_schema=data.get("answer_schema"),
                                goal=data["goal"], source="api")
        return Response(presenters.call_analysis(analysis).as_json(), status=status.HTTP_201_CREATED)


class CampaignAnalyzeApi(APIView):
    permission_classes = READ

    @extend_schema(
        tags=["campaigns"], operation_id="campaigns_analyze", summary="Analyze a campaign's calls (analyzeCampaign)",
        description=("The questions of analyzeCall for a page of the campaign's calls in row order; calls that "
                     "cannot be analyzed yet are listed with their error. `next_offset` continues."),
        parameters=[OpenApiParameter("campaign_id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
        request=CampaignAnalyzeSerializer,
        responses={200: CampaignAnalysis, 400: ERROR, 404: ERROR},
    )
    def post(self, request: Request, campaign_id: str) -> Response:
        data = validated(CampaignAnalyzeSerializer(data=request.data), errors.InvalidAnalysisRequest)
        user = signed_in(request)
        campaign = campaign_get_for_user(user_id=user.pk, campaign_id=campaign_id, staff=user.is_staff)
        outcome = campaign_analyze(provider=configured_provider(), campaign=campaign, questions=data["questions"],
                                   answer_schema=data.get("answer_schema"), goal=data["goal"],
                                   offset=data["calls_offset"], limit=data["calls_limit"], source="api")
        return Response(presenters.campaign_analysis(campaign, outcome, questions=data["questions"],
                                                     answer_schema=data.get("answer_schema")).as_json())


class VoiceListApi(APIView):
    permission_classes = READ

    @extend_schema(tags=[TAG], operation_id="voices_list", summary="The provider's voices (listVoices)",
                   parameters=[VoiceQuerySerializer], responses={200: VoiceList, 400: ERROR, 503: ERROR})
    def get(self, request: Request) -> Response:
        query = validated(VoiceQuerySerializer(data=request.query_params))
        return Response(voices_page(provider=configured_provider(), query=query["query"],
                                    limit=query["limit"]).as_json())


class AccountStatusApi(APIView):
    permission_classes = [IsAuthenticated, scope_required(scopes.CREDITS_READ)]

    @extend_schema(tags=["account"], operation_id="account_status", summary="Your credits (getAccountStatus)",
                   description="Staff also get the provider account's balance and plan limits under `provider`.",
                   responses={200: AccountStatus, 403: OpenApiResponse(ErrorSerializer)})
    def get(self, request: Request) -> Response:
        return Response(account_status(provider=configured_provider(), user=signed_in(request)).as_json())
