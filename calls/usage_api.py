from __future__ import annotations

from datetime import UTC

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from calls.apis import signed_in
from calls.usage import GROUPINGS, usage_report
from users import scopes
from users.permissions import scope_required


class UsageQuerySerializer(serializers.Serializer):
    since = serializers.DateTimeField(required=False, help_text="Start (inclusive), ISO 8601; default 30 days ago.")
    until = serializers.DateTimeField(required=False, help_text="End (exclusive), ISO 8601; default now.")
    group_by = serializers.ChoiceField(choices=list(GROUPINGS), default="day")


class UsagePeriodSerializer(serializers.Serializer):
    period = serializers.CharField()
    spent_credits = serializers.IntegerField()
    minutes = serializers.FloatField()
    calls = serializers.IntegerField()
    by_status = serializers.DictField(child=serializers.IntegerField())


class UsageTotalsSerializer(serializers.Serializer):
    spent_credits = serializers.IntegerField()
    minutes = serializers.FloatField()
    calls = serializers.IntegerField()
    by_status = serializers.DictField(child=serializers.IntegerField())


class UsageSerializer(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    group_by = serializers.CharField()
    totals = UsageTotalsSerializer()
    periods = UsagePeriodSerializer(many=True)


class UsageApi(APIView):
    """Spending and usage, the same data as the MCP resource credits://usage."""

    permission_classes = [IsAuthenticated, scope_required(scopes.CREDITS_READ)]

    @extend_schema(
        summary="Credits spent, minutes and calls by status, per day or month",
        parameters=[UsageQuerySerializer],
        responses=UsageSerializer,
    )
    def get(self, request: Request) -> Response:
        query = UsageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        since, until = query.validated_data.get("since"), query.validated_data.get("until")
        return Response(usage_report(
            user=signed_in(request),
            since=since.astimezone(UTC) if since else None,
            until=until.astimezone(UTC) if until else None,
            group_by=query.validated_data["group_by"],
        ))


__all__ = ["UsageApi"]
