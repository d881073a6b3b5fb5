"""Applying the provider's reports to calls already locked, and moving the credits of the calls that ended.

``calls.services.call_apply_provider_update`` applies one report; the poller applies a batch of them with
``calls_apply_provider_updates`` (one transaction, one lock and one ledger write per credit account). Both
go through ``apply_locked``, so a call moves, records its ``CallEvent``, settles exactly once and announces
``calls.events`` by the same rules whichever way its report came.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from calls.events import CallChanged, calls_changed, calls_written, recording_available
from calls.models import TERMINAL_STATUSES, Call, CallEvent, CallStatus
from calls.provider_updates import merge_details, next_status
from calls.providers.base import ProviderCall
from config.db_bulk import insert_rows, update_rows
from users.models import User
from users.services import Settlement, credits_settle_all


def credits_for_price(price: Decimal | None) -> int:
    if price is None or price <= 0:
        return 0
    return math.ceil(price * settings.CALL_CREDITS_PER_USD)


def talked(update: ProviderCall) -> bool:
    return bool(update.duration_seconds) or update.answered_by in ("human", "voicemail") or (
        update.queue_status == "started")


def final(update: ProviderCall) -> bool:
    """Whether the report says what the call cost: it ended, and its price or connected time is known (or
    it never talked)."""
    known = update.price is not None or update.duration_seconds is not None
    return update.completed and (known or not talked(update))


def connected_cost(call: Call) -> int:
    """Credits for what the provider charged for the call, or its connected time at our rate if it has not
    said (yet)."""
    cost = credits_for_price(call.provider_price)
    if cost == 0 and call.duration_seconds:
        cost = math.ceil(call.duration_seconds / 60 * settings.CALL_CREDITS_PER_MINUTE)
    return cost


def _pays(call: Call) -> bool:
    return call.status == CallStatus.COMPLETED or (call.status == CallStatus.CANCELED and bool(call.duration_seconds))


def settle(calls: Sequence[Call]) -> None:
    """Move the credits of calls that just ended (their ``cost_credits`` is set), of any number of owners at
    once (``users.services.credits_settle_all``). The ledger makes a second settle of a call a no-op.

    A completed call, and a cancelled call that was talking when it was stopped, pay for their connected
    time and get the rest of the hold back; every other ended call gets all of it back."""
    paying = {call.pk for call in calls if _pays(call)}
    settlements = [
        Settlement(call.owner_id, call.credit_reference, connected_cost(call),
                   f"call {call.id} {call.status}: {call.duration_seconds or 0}s") if call.pk in paying
        else Settlement(call.owner_id, call.credit_reference, None, f"call {call.status}")
        for call in calls]
    entries = credits_settle_all(settlements=settlements)
    for call in calls:
        if call.pk not in paying:
            call.cost_credits = 0
        elif call.credit_reference in entries:
            call.cost_credits = entries[call.credit_reference].spent


def _event(call: Call, before: str, update: ProviderCall, source: str) -> CallEvent:
    return CallEvent(call=call, source=source, from_status=before, to_status=call.status,
                     detail=(update.error_message or f"{update.queue_status} {update.status}".strip())[:255],
                     payload={"queue_status": update.queue_status, "status": update.status})


def apply_locked(*, reports: Sequence[tuple[Call, ProviderCall]], source: str) -> None:
    """Apply each report to its call, locked by the caller in the open transaction: status never moves
    backwards, a call that ended settles, every changed call is saved (one statement), written
    (``calls_written``, together) and announced after commit (``calls_changed``, together, before its
    credits' own announcement)."""
    events: list[CallEvent] = []
    changes: list[tuple[Call, set[str]]] = []
    announced: list[CallChanged] = []
    ending: list[Call] = []
    for call, update in reports:
        before = call.status
        new_status = next_status(call, update)
        changed = merge_details(call, update)
        if new_status != before:
            call.status = new_status
            changed.add("status")
            events.append(_event(call, before, update, source))
        if changed:
            announced.append(CallChanged(call_id=str(call.id), owner_id=call.owner_id,
                                         transcript="transcript" in changed,
                                         campaign_id=str(call.campaign_id) if call.campaign_id else None))
        awaited_price = call.status == CallStatus.CANCELED and call.cost_credits is None and final(update)
        if (new_status in TERMINAL_STATUSES and before not in TERMINAL_STATUSES) or awaited_price:
            ending.append(call)
            changed.add("cost_credits")
        if changed:
            changes.append((call, changed))
    calls_changed(announced)
    if events:
        insert_rows(events)
    if ending:
        settle(ending)
    _save(changes)
    calls_written(calls=[call for call, _ in changes])  # every changed call's Sheets row, in one statement


def _save(changes: Sequence[tuple[Call, set[str]]]) -> None:
    """Save the changed fields of each call: one statement for all of them (each writes the union of the
    fields that changed in any; the others hold the values just read under the lock)."""
    if not changes:
        return
    now = timezone.now()
    fields = sorted(set().union(*(changed for _, changed in changes)))
    for call, _ in changes:
        call.updated_at = now
    update_rows([call for call, _ in changes], [*fields, "updated_at"])


def recording_due(call: Call) -> None:
    """Once the change committed: have the recording of a finished call fetched, if it is wanted and not
    stored yet."""
    if call.status == CallStatus.COMPLETED and call.record and call.recording_url and not call.recording_file:
        recording_available(call_id=call.id)


def calls_apply_provider_updates(*, updates: Sequence[tuple[uuid.UUID, ProviderCall]],
                                 source: str) -> dict[uuid.UUID, Call]:
    """Apply a report to each call named by its primary key, all in one transaction (the caller's, if one is
    open); the calls as they now stand, by key (calls we do not know are absent). Idempotent, as each
    report is; the same rules as ``calls.services.call_apply_provider_update``."""
    reported = dict(updates)
    with transaction.atomic():
        locked = list(Call.objects.select_for_update().filter(pk__in=list(reported)).order_by("pk"))
        owners = User.objects.in_bulk({call.owner_id for call in locked})
        for call in locked:
            call.owner = owners[call.owner_id]
        apply_locked(reports=[(call, reported[call.pk]) for call in locked], source=source)
    for call in locked:
        recording_due(call)
    return {call.pk: call for call in locked}
