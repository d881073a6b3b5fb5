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
from users.serializers import CreditsPageSerializer, LedgerEntrySerializer, MeSerializer, balance_dict


class MeApi(generics.GenericAPIView):
    serializer_class = MeSerializer

    @extend_schema(summary="The authenticated user and the scopes of this token")
    def get(self, request: Request) -> Response:
        return Response(self.get_serializer(request.user).data)


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
