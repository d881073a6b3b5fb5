"""Reads about the account rather than one call: the provider's voices and the account status (our credits,
with the provider's balance and plan limits for staff). Every interface (MCP tools, REST) answers these.
Callers catch ``config.errors.DomainError``.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from calls import errors
from calls.providers.base import Provider, ProviderAccount, Voice
from calls.shapes import AccountStatus, CreditsStatus, ProviderStatus, VoiceInfo, VoiceList
from calls.voices import voices_list
from users.models import User
from users.selectors import credits_balance

STAFF_ONLY = "The provider account's balance and plan limits are shown to staff only."
PROVIDER_DOWN = "The phone provider did not answer; its balance and plan limits are missing. Try again later."

logger = logging.getLogger(__name__)


def _matches(voice: Voice, query: str) -> bool:
    text = " ".join((voice.name, voice.voice_id, voice.description, *voice.tags)).lower()
    return all(word in text for word in query.lower().split())


def voices_page(*, provider: Provider, query: str = "", limit: int = 100) -> VoiceList:
    """The provider's voices (cached) whose name, id, description or tags contain every word of ``query``."""
    matching = [voice for voice in voices_list(provider=provider) if _matches(voice, query)]
    return VoiceList(
        voices=[VoiceInfo(voice_id=v.voice_id, name=v.name, description=v.description, tags=list(v.tags))
                for v in matching[:limit]],
        total=len(matching),
    )


def _usd(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


def _provider_status(name: str, account: ProviderAccount) -> ProviderStatus:
    return ProviderStatus(
        name=name, status=account.status, balance_usd=_usd(account.balance), refill_to_usd=_usd(account.refill_to),
        total_calls=account.total_calls, plan=account.plan or None, calls_per_day=account.calls_per_day,
        calls_per_hour=account.calls_per_hour, concurrency=account.concurrency,
        rate_per_minute_usd=_usd(account.rate_per_minute),
    )


def account_status(*, provider: Provider, user: User) -> AccountStatus:
    """The user's credits; for staff also the provider account (asked live). A provider that does not answer
    leaves its part out, with a note, rather than failing the whole status."""
    balance = credits_balance(user=user)
    credits = CreditsStatus(available=balance.available, reserved=balance.reserved, total=balance.total)
    if not user.is_staff:
        return AccountStatus(credits=credits, provider=None, note=STAFF_ONLY)
    try:
        account = provider.get_account()
    except errors.ProviderError:
        logger.warning("account status without the provider part: the provider did not answer")
        return AccountStatus(credits=credits, provider=None, note=PROVIDER_DOWN)
    return AccountStatus(credits=credits, provider=_provider_status(provider.name, account))
