"""Writes for users and credits. Every credit movement is one ledger row written under a row lock
on the account, so the balance never goes negative and never drifts from the ledger sum.

Callers catch ``InsufficientCredits`` and ``InvalidAmount`` (both ``DomainError``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from config import metrics
from config.db_bulk import insert_rows
from users import scopes as scope_names
from users.errors import (
    InsufficientCredits,
    InvalidAmount,
    InvalidSpreadsheetId,
    InvalidUsername,
    UnknownScopes,
    UsernameTaken,
)
from users.events import balance_changed, balances_changed, spreadsheet_changed
from users.models import CreditAccount, CreditLedgerEntry, LedgerKind, User


def user_create(
    *,
    username: str,
    password: str | None,
    email: str = "",
    scopes: Iterable[str] | None = None,
    is_staff: bool = False,
    credits: int = 0,
) -> User:
    """A user with a credit account, holding ``scopes`` (default: all) and granted ``credits``.

    Raises ``InvalidUsername``, ``UsernameTaken``, ``UnknownScopes`` or ``InvalidAmount``; then nothing
    is created.
    """
    chosen = list(scopes) if scopes is not None else scope_names.default_scopes()
    if bad := scope_names.unknown(set(chosen)):
        raise UnknownScopes(scopes=", ".join(bad))
    try:
        User.username_validator(username)
    except ValidationError as exc:
        raise InvalidUsername(reason=" ".join(exc.messages)) from exc
    if credits:
        _check_amount(credits)
    with transaction.atomic():
        if User.objects.filter(username=username).exists():
            raise UsernameTaken(username=username)
        user = User(username=username, email=email, scopes=chosen, is_staff=is_staff)
        user.set_password(password) if password else user.set_unusable_password()
        user.save()
        CreditAccount.objects.create(user=user)
        if credits:
            credits_grant(user=user, amount=credits, memo="initial credits")
    return user


SPREADSHEET_ID = re.compile(r"[A-Za-z0-9_-]{10,128}")  # Google's are 44; the emulator's may be shorter
SPREADSHEET_URL = re.compile(r"https://docs\.google\.com/spreadsheets/d/([A-Za-z0-9_-]+)(?:[/?#].*)?")


def spreadsheet_id_parse(value: object) -> str:
    """The spreadsheet id in ``value``: an id, or a sheet's address (its id is taken out); "" for none.

    Raises ``InvalidSpreadsheetId`` for anything else."""
    if not isinstance(value, str):
        raise InvalidSpreadsheetId(value=value)
    text = value.strip()
    if match := SPREADSHEET_URL.fullmatch(text):
        text = match.group(1)
    if text and not SPREADSHEET_ID.fullmatch(text):
        raise InvalidSpreadsheetId(value=value)
    return text


def user_set_spreadsheet(*, user: User, spreadsheet_id: object) -> User:
    """Send the user's calls to ``spreadsheet_id`` as well as to the operations sheet ("" stops).

    The calls the user already has are queued for the new sheet in the same transaction. Raises
    ``InvalidSpreadsheetId``; then nothing changes."""
    chosen = spreadsheet_id_parse(spreadsheet_id)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        previous = locked.sheets_spreadsheet_id
        if previous != chosen:
            locked.sheets_spreadsheet_id = chosen
            locked.save(update_fields=["sheets_spreadsheet_id"])
            spreadsheet_changed(user_id=locked.pk, spreadsheet_id=chosen, previous_id=previous)
    user.sheets_spreadsheet_id = chosen
    return user


def credit_account_open(*, user: User) -> CreditAccount:
    """The user's credit account, created empty if missing (users added in the admin get one on save)."""
    account, _ = CreditAccount.objects.get_or_create(user=user)
    return account


def token_for_user(*, user: User, scopes: Iterable[str] | None = None, lifetime: timedelta | None = None) -> str:
    """An access token carrying ``scopes`` (default: all the user's scopes).

    Used for the long-lived tokens of MCP clients. Raises ``UnknownScopes`` for scopes the user
    does not hold.
    """
    allowed = set(user.scopes)
    chosen = set(scopes) if scopes is not None else allowed
    if bad := sorted(chosen - allowed):
        raise UnknownScopes(scopes=", ".join(bad))
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=lifetime or settings.MCP_TOKEN_LIFETIME)
    token["scope"] = " ".join(sorted(chosen))
    return str(token)


def _check_amount(amount: object) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidAmount(amount=amount)
    return amount


def _locked_account(user: User) -> CreditAccount:
    CreditAccount.objects.get_or_create(user=user)
    return CreditAccount.objects.select_for_update().get(user=user)


def _append(
    account: CreditAccount,
    *,
    kind: str,
    amount: int = 0,
    reserved_delta: int = 0,
    spent: int = 0,
    reference: str = "",
    memo: str = "",
    actor: User | None = None,
) -> CreditLedgerEntry:
    account.balance += amount
    account.reserved += reserved_delta
    account.save(update_fields=["balance", "reserved", "updated_at"])
    balance_changed(user_id=account.user_id)
    return CreditLedgerEntry.objects.create(
        account=account,
        kind=kind,
        amount=amount,
        reserved_delta=reserved_delta,
        spent=spent,
        balance_after=account.balance,
        reserved_after=account.reserved,
        reference=reference,
        memo=memo[:255],
        created_by=actor,
    )


def _held(account: CreditAccount, reference: str) -> int:
    total = account.entries.filter(reference=reference).aggregate(held=Sum("reserved_delta"))["held"]
    return int(total or 0)


@transaction.atomic
def credits_grant(*, user: User, amount: int, memo: str = "", actor: User | None = None) -> CreditLedgerEntry:
    account = _locked_account(user)
    return _append(account, kind=LedgerKind.GRANT, amount=_check_amount(amount), memo=memo, actor=actor)


@transaction.atomic
def credits_reserve(*, user: User, amount: int, reference: str, memo: str = "") -> CreditLedgerEntry:
    """Hold ``amount`` for ``reference`` (e.g. a call). Raises ``InsufficientCredits``."""
    amount = _check_amount(amount)
    account = _locked_account(user)
    if account.balance < amount:
        raise InsufficientCredits(required=amount, available=account.balance)
    return _append(
        account, kind=LedgerKind.RESERVE, amount=-amount, reserved_delta=amount, reference=reference, memo=memo
    )


@transaction.atomic
def credits_reserve_many(*, user: User, holds: Sequence[tuple[str, int]], memo: str = "") -> int:
    """Hold each ``(reference, amount)`` (e.g. every call of a campaign) under one lock: all of them or, when
    the balance does not cover their sum, none (``InsufficientCredits`` for the total). One ledger row per
    hold, so each settles on its own. Returns the total held."""
    amounts = [_check_amount(amount) for _, amount in holds]
    total = sum(amounts)
    account = _locked_account(user)
    if account.balance < total:
        raise InsufficientCredits(required=total, available=account.balance)
    entries = []
    for (reference, _), amount in zip(holds, amounts, strict=True):
        account.balance -= amount
        account.reserved += amount
        entries.append(CreditLedgerEntry(account=account, kind=LedgerKind.RESERVE, amount=-amount,
                                         reserved_delta=amount, balance_after=account.balance,
                                         reserved_after=account.reserved, reference=reference, memo=memo[:255]))
    insert_rows(entries)
    account.save(update_fields=["balance", "reserved", "updated_at"])
    balance_changed(user_id=account.user_id)
    return total


@transaction.atomic
def credits_settle(*, user: User, reference: str, cost: int, memo: str = "") -> CreditLedgerEntry | None:
    """Charge ``cost`` against what is held for ``reference`` and give back the rest.

    Idempotent: once the hold is gone, a second settle (webhook and poller both reporting the end)
    writes nothing and returns None. A cost above the hold takes the excess from the balance, never
    below zero; the uncovered part is recorded in the memo.
    """
    return credits_settle_many(user=user, charges=[(reference, cost, memo)]).get(reference)


@transaction.atomic
def credits_settle_many(*, user: User, charges: Sequence[tuple[str, int, str]]) -> dict[str, CreditLedgerEntry]:
    """``credits_settle`` of each ``(reference, cost, memo)`` under one lock and one ledger write. The entries
    written, by reference: a reference with nothing held has none."""
    return credits_settle_all(settlements=[Settlement(user.pk, reference, cost, memo)
                                           for reference, cost, memo in charges])


@dataclass(frozen=True)
class Settlement:
    """What to do with the credits held for ``reference`` of ``user_id``: charge ``cost`` (the rest goes
    back), or with no cost give all of it back (a release)."""

    user_id: int
    reference: str
    cost: int | None
    memo: str = ""


@transaction.atomic
def credits_settle_all(*, settlements: Sequence[Settlement]) -> dict[str, CreditLedgerEntry]:
    """Settle or release each reference, of any number of users, at once (a poller batch of ended calls):
    one query locks their accounts, one reads what is held, one writes the ledger, one the balances.
    Idempotent: a reference with nothing held (settled before) writes nothing. A cost above the hold takes
    the excess from the balance, never below zero; the uncovered part is recorded in the memo. The entries
    written, by reference."""
    for settlement in settlements:
        if settlement.cost is not None and (isinstance(settlement.cost, bool) or not isinstance(settlement.cost, int)
                                            or settlement.cost < 0):
            raise InvalidAmount(amount=settlement.cost)
    if not settlements:
        return {}
    accounts = {account.user_id: account for account in CreditAccount.objects.select_for_update()
                .filter(user_id__in={settlement.user_id for settlement in settlements}).order_by("user_id")}
    rows = (CreditLedgerEntry.objects.filter(account__in=list(accounts.values()),
                                             reference__in={settlement.reference for settlement in settlements})
            .values("account_id", "reference").annotate(held=Sum("reserved_delta"))
            .values_list("account_id", "reference", "held"))
    held = {(account_id, reference): int(amount or 0) for account_id, reference, amount in rows}
    entries: dict[str, CreditLedgerEntry] = {}
    for settlement in sorted(settlements, key=lambda settlement: settlement.user_id):
        account = accounts.get(settlement.user_id)
        hold = held.pop((account.pk, settlement.reference), 0) if account else 0
        if account is not None and hold > 0:
            entries[settlement.reference] = _settled(account, settlement, hold)
    if entries:
        insert_rows(list(entries.values()))
        moved = list({entry.account.pk: entry.account for entry in entries.values()}.values())
        now = timezone.now()
        for account in moved:
            account.updated_at = now
        CreditAccount.objects.bulk_update(moved, ["balance", "reserved", "updated_at"])
        balances_changed(user_ids=[account.user_id for account in moved])
        spent = sum(entry.spent for entry in entries.values())
        if spent:
            transaction.on_commit(lambda: metrics.put(metrics.CREDITS_SPENT, spent))
    return entries


def _settled(account: CreditAccount, settlement: Settlement, hold: int) -> CreditLedgerEntry:
    """The ledger row settling (or releasing) ``hold``, the account moved to match."""
    if settlement.cost is None:
        kind, from_hold, extra, note = LedgerKind.RELEASE, 0, 0, settlement.memo
    else:
        cost = settlement.cost
        kind, from_hold = LedgerKind.SETTLE, min(cost, hold)
        extra = min(cost - from_hold, account.balance)
        note = settlement.memo or f"cost {cost}"
        if uncovered := cost - from_hold - extra:
            note += f"; {uncovered} uncovered"
    account.balance += (hold - from_hold) - extra
    account.reserved -= hold
    return CreditLedgerEntry(account=account, kind=kind, amount=(hold - from_hold) - extra, reserved_delta=-hold,
                             spent=from_hold + extra, balance_after=account.balance,
                             reserved_after=account.reserved, reference=settlement.reference, memo=note[:255])


@transaction.atomic
def credits_release(*, user: User, reference: str, memo: str = "") -> CreditLedgerEntry | None:
    """Give back everything held for ``reference`` (failed or cancelled before any cost). Idempotent."""
    account = _locked_account(user)
    held = _held(account, reference)
    if held <= 0:
        return None
    return _append(account, kind=LedgerKind.RELEASE, amount=held, reserved_delta=-held, reference=reference, memo=memo)


@transaction.atomic
def credits_release_many(*, user: User, references: Sequence[str], memo: str = "") -> int:
    """``credits_release`` of many references under one lock (a campaign the provider refused). Idempotent:
    references with nothing held are skipped. Returns the total given back."""
    entries = credits_settle_all(settlements=[Settlement(user.pk, reference, None, memo) for reference in references])
    return sum(entry.amount for entry in entries.values())


@transaction.atomic
def credits_refund(*, user: User, reference: str, amount: int, memo: str = "") -> CreditLedgerEntry | None:
    """Give back up to ``amount`` of what was spent on ``reference``. Never refunds more than was spent."""
    amount = _check_amount(amount)
    account = _locked_account(user)
    spent = int(account.entries.filter(reference=reference).aggregate(s=Sum("spent"))["s"] or 0)
    refundable = min(amount, spent)
    if refundable <= 0:
        return None
    return _append(
        account, kind=LedgerKind.REFUND, amount=refundable, spent=-refundable, reference=reference, memo=memo
    )
