"""Reads for users and credits."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet, Sum

from users.models import CreditAccount, CreditLedgerEntry, User


@dataclass(frozen=True)
class Balance:
    available: int
    reserved: int

    @property
    def total(self) -> int:
        return self.available + self.reserved


def user_get(*, user_id: int) -> User:
    """An active or inactive user by id (callers hold an authenticated principal for it)."""
    return User.objects.get(pk=user_id)


def spend_confirm_threshold(*, user: User) -> int:
    """Credits a placement may reserve without asking the user to confirm: theirs, or the setting."""
    own = user.spend_confirm_threshold
    return settings.SPEND_CONFIRM_THRESHOLD_CREDITS if own is None else own


def spend_needs_confirmation(*, user: User, credits: int) -> int | None:
    """The user's threshold when reserving ``credits`` needs their confirmation first, else None.

    A reservation the balance cannot cover needs none: it fails on its own (insufficient credits), so the
    user is not asked to approve it first."""
    threshold = spend_confirm_threshold(user=user)
    if credits <= threshold or credits > credits_balance(user=user).available:
        return None
    return threshold


def credits_balance(*, user: User) -> Balance:
    account = CreditAccount.objects.filter(user=user).only("balance", "reserved").first()
    if account is None:
        return Balance(available=0, reserved=0)
    return Balance(available=account.balance, reserved=account.reserved)


def credits_ledger(*, user: User) -> QuerySet[CreditLedgerEntry]:
    return CreditLedgerEntry.objects.filter(account__user=user).order_by("-id")


def credits_ledger_sums(*, user: User) -> Balance:
    sums = credits_ledger(user=user).aggregate(a=Sum("amount"), r=Sum("reserved_delta"))
    return Balance(available=int(sums["a"] or 0), reserved=int(sums["r"] or 0))
