"""Users and their credits.

Credits are integers of the smallest unit (one credit = one hundredth of a currency unit by
default). ``CreditAccount.balance`` is what the user can spend now; ``reserved`` is held for calls
in flight. Both are caches of the append-only ledger: ``balance == sum(entry.amount)`` and
``reserved == sum(entry.reserved_delta)``, kept true by ``users.services`` under a row lock.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser
from django.db import models

from users.scopes import default_scopes


class User(AbstractUser):
    scopes = models.JSONField(
        default=default_scopes,
        help_text="Scopes this user's tokens may carry (calls:read, calls:write, credits:read).",
    )
    plan = models.CharField(max_length=32, default="standard")
    rate_limits = models.JSONField(
        default=dict,
        blank=True,
        help_text='Per-user MCP rate-limit overrides, e.g. {"place": "5/minute", "read": "300/minute"}.',
    )
    sheets_spreadsheet_id = models.CharField(
        max_length=128,
        blank=True,
        default="",
        help_text="A Google spreadsheet that receives this user's calls (besides the operations sheet). "
        "Share it with the service account as an editor.",
    )

    spend_confirm_threshold = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Placing a call that reserves more credits than this asks the user to confirm first. "
                  "Empty: the SPEND_CONFIRM_THRESHOLD_CREDITS setting; 0: confirm every call.",
    )

    class Meta:
        db_table = "users_user"


class CreditAccount(models.Model):
    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="credit_account")
    balance = models.BigIntegerField(default=0)
    reserved = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(balance__gte=0), name="credit_balance_not_negative"),
            models.CheckConstraint(condition=models.Q(reserved__gte=0), name="credit_reserved_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.balance} available, {self.reserved} reserved"


class LedgerKind(models.TextChoices):
    GRANT = "grant", "Grant"
    RESERVE = "reserve", "Reserve"
    SETTLE = "settle", "Settle"
    RELEASE = "release", "Release"
    REFUND = "refund", "Refund"


class AppendOnlyError(Exception):
    pass


class CreditLedgerEntry(models.Model):
    account = models.ForeignKey(CreditAccount, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=16, choices=LedgerKind.choices)
    amount = models.BigIntegerField(help_text="Change of the spendable balance.")
    reserved_delta = models.BigIntegerField(default=0, help_text="Change of the amount held for calls.")
    spent = models.BigIntegerField(default=0, help_text="Credits consumed (positive) or given back (negative).")
    balance_after = models.BigIntegerField()
    reserved_after = models.BigIntegerField()
    reference = models.CharField(max_length=100, blank=True, db_index=True, help_text="e.g. call:<id>")
    memo = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "credit ledger entries"
        indexes = [models.Index(fields=["account", "-id"]), models.Index(fields=["account", "reference"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount:+d} ({self.reference or 'no reference'})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnlyError("Ledger entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError("Ledger entries are append-only.")
