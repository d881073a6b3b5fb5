from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from users import scopes
from users.models import CreditLedgerEntry
from users.permissions import authenticated_user, scope_required
from users.selectors import credits_balance, credits_ledger
from users.serializers import (
    CreditsPageSerializer,
    LedgerEntrySerializer,
    MeSerializer,
    MeUpdateSerializer,
    balance_dict,
)
from users.services import user_set_spreadsheet


class MeApi(generics.GenericAPIView):
    serializer_class = MeSerializer

    @extend_schema(summary="The authenticated user and the scopes of this token")
    def get(self, request: Request) -> Response:
        return Response(self.get_serializer(request.user).data)

    @extend_schema(summary="Change your settings: the spreadsheet that receives your calls",
                   request=MeUpdateSerializer, responses=MeSerializer)
    def patch(self, request: Request) -> Response:
        update = MeUpdateSerializer(data=request.data)
        update.is_valid(raise_exception=True)
        user = authenticated_user(request)
        if "sheets_spreadsheet_id" in update.validated_data:
            user = user_set_spreadsheet(user=user, spreadsheet_id=update.validated_data["sheets_spreadsheet_id"])
        return Response(self.get_serializer(user).data)


class CreditsApi(generics.ListAPIView):
    permission_classes = [IsAuthenticated, scope_required(scopes.CREDITS_READ)]
    serializer_class = LedgerEntrySerializer

    def get_queryset(self) -> QuerySet[CreditLedgerEntry]:
        return credits_ledger(user=authenticated_user(self.request))

    @extend_schema(summary="Credit balance and the ledger, newest first", responses=CreditsPageSerializer)
    def get(self, request: Request) -> Response:
        response = self.list(request)
        response.data = {"balance": balance_dict(credits_balance(user=authenticated_user(request))), **response.data}
        return response
