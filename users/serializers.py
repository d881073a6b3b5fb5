from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer
from rest_framework_simplejwt.tokens import Token

from users.models import CreditLedgerEntry, User


class ScopedTokenObtainPairSerializer(TokenObtainPairSerializer):
    """Tokens from a password carry every scope the user holds; refreshed tokens keep them."""

    @classmethod
    def get_token(cls, user: User) -> Token:
        token = super().get_token(user)
        token["scope"] = " ".join(sorted(user.scopes or ()))
        return token


class MeSerializer(serializers.ModelSerializer):
    token_scopes = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "email", "first_name", "last_name", "plan", "scopes", "token_scopes", "date_joined"]
        read_only_fields = fields

    def get_token_scopes(self, obj: User) -> list[str]:
        return sorted(self.context["request"].scopes)


class LedgerEntrySerializer(serializers.ModelSerializer):
    amount = serializers.IntegerField(read_only=True, help_text="Change of the available credits.")
    reserved_delta = serializers.IntegerField(read_only=True, help_text="Change of the reserved credits.")
    available_after = serializers.IntegerField(source="balance_after", read_only=True,
                                               help_text="Available credits after this entry.")
    reserved_after = serializers.IntegerField(read_only=True, help_text="Reserved credits after this entry.")

    class Meta:
        model = CreditLedgerEntry
        fields = [
            "id",
            "kind",
            "amount",
            "reserved_delta",
            "spent",
            "available_after",
            "reserved_after",
            "reference",
            "memo",
            "created_at",
        ]
        read_only_fields = fields


class BalanceSerializer(serializers.Serializer):
    available = serializers.IntegerField(help_text="Credits you can spend now.")
    reserved = serializers.IntegerField(help_text="Credits held for calls in flight.")
    total = serializers.IntegerField(help_text="available + reserved.")


class CreditsPageSerializer(serializers.Serializer):
    balance = BalanceSerializer()
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = LedgerEntrySerializer(many=True)


def balance_dict(balance: Any) -> dict[str, int]:
    return {"available": balance.available, "reserved": balance.reserved, "total": balance.total}
