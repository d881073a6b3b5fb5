from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework_simplejwt.serializers import AuthUser, TokenObtainPairSerializer
from rest_framework_simplejwt.tokens import Token

from users.models import CreditLedgerEntry, User


class ScopedTokenObtainPairSerializer(TokenObtainPairSerializer):
    """Tokens from a password carry every scope the user holds; refreshed tokens keep them."""

    @classmethod
    def get_token(cls, user: AuthUser) -> Token:
        token = super().get_token(user)
        token["scope"] = " ".join(sorted(getattr(user, "scopes", None) or ()))
        return token


class MeSerializer(serializers.ModelSerializer):
    token_scopes = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "email", "first_name", "last_name", "plan", "scopes", "token_scopes", "date_joined",
                  "sheets_spreadsheet_id"]
        read_only_fields = fields

    def get_token_scopes(self, obj: User) -> list[str]:
        return sorted(self.context["request"].scopes)


class MeUpdateSerializer(serializers.Serializer):
    """What a user may change about themselves."""

    sheets_spreadsheet_id = serializers.CharField(
        allow_blank=True, trim_whitespace=True, max_length=300,
        help_text="A Google spreadsheet id (or its address) that receives your calls; share the sheet with the "
        "service account as an editor. An empty string stops.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(self.initial_data) - set(self.fields)) if isinstance(self.initial_data, dict) else []
        if unknown:
            raise serializers.ValidationError(
                f"Only {', '.join(self.fields)} can be changed here, not {', '.join(unknown)}.")
        return attrs


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
