from __future__ import annotations

import pytest
from django.urls import reverse

from users.errors import InsufficientCredits, InvalidAmount
from users.models import AppendOnlyError, CreditLedgerEntry
from users.selectors import credits_balance, credits_ledger_sums
from users.services import (
    Settlement,
    credits_grant,
    credits_refund,
    credits_release,
    credits_reserve,
    credits_settle,
    credits_settle_all,
)


def assert_ledger_matches(user):
    assert credits_ledger_sums(user=user) == credits_balance(user=user)


def test_reserve_holds_credits_and_settle_charges_the_real_cost_once(user):
    credits_reserve(user=user, amount=300, reference="call:1")
    assert credits_balance(user=user).available == 700
    assert credits_balance(user=user).reserved == 300
    entry = credits_settle(user=user, reference="call:1", cost=120)
    assert entry.spent == 120
    assert credits_settle(user=user, reference="call:1", cost=120) is None  # second report of the same end
    balance = credits_balance(user=user)
    assert (balance.available, balance.reserved) == (880, 0)
    assert_ledger_matches(user)


def test_release_gives_back_the_whole_hold_and_is_idempotent(user):
    credits_reserve(user=user, amount=250, reference="call:2")
    credits_release(user=user, reference="call:2")
    assert credits_release(user=user, reference="call:2") is None
    assert credits_balance(user=user).available == 1000
    assert_ledger_matches(user)


def test_one_settlement_of_many_accounts_charges_releases_and_skips_what_was_settled_before(make_user):
    alice, bob, carol = make_user(credits=1000), make_user(credits=500), make_user(credits=50)
    for user, reference, amount in ((alice, "call:a1", 300), (alice, "call:a2", 200), (bob, "call:b1", 400),
                                    (carol, "call:c1", 40)):
        credits_reserve(user=user, amount=amount, reference=reference)
    credits_settle(user=alice, reference="call:a2", cost=50)  # its webhook came first
    entries = credits_settle_all(settlements=[
        Settlement(bob.pk, "call:b1", None, "call failed"),
        Settlement(alice.pk, "call:a1", 120),
        Settlement(alice.pk, "call:a2", 50),  # settled before: nothing
        Settlement(carol.pk, "call:c1", 100),  # over the hold: the rest of the balance, never below zero
        Settlement(bob.pk, "call:unknown", 10),  # nothing held
    ])
    assert sorted(entries) == ["call:a1", "call:b1", "call:c1"]
    assert (entries["call:a1"].kind, entries["call:a1"].spent) == ("settle", 120)
    assert (entries["call:b1"].kind, entries["call:b1"].amount, entries["call:b1"].memo) == ("release", 400,
                                                                                              "call failed")
    assert (entries["call:c1"].spent, entries["call:c1"].memo) == (50, "cost 100; 50 uncovered")
    assert [(credits_balance(user=u).available, credits_balance(user=u).reserved) for u in (alice, bob, carol)] == [
        (1000 - 120 - 50, 0), (500, 0), (0, 0)]
    assert credits_settle_all(settlements=[Settlement(alice.pk, "call:a1", 120)]) == {}  # again: a no-op
    for user in (alice, bob, carol):
        assert_ledger_matches(user)
    with pytest.raises(InvalidAmount):
        credits_settle_all(settlements=[Settlement(alice.pk, "call:a1", -1)])


def test_refund_returns_at_most_what_was_spent(user):
    credits_reserve(user=user, amount=300, reference="call:3")
    credits_settle(user=user, reference="call:3", cost=200)
    credits_refund(user=user, reference="call:3", amount=500)
    assert credits_refund(user=user, reference="call:3", amount=1) is None
    assert credits_balance(user=user).available == 1000
    assert_ledger_matches(user)


def test_cost_above_the_hold_never_takes_the_balance_below_zero(make_user):
    user = make_user(credits=100)
    credits_reserve(user=user, amount=80, reference="call:4")
    entry = credits_settle(user=user, reference="call:4", cost=500)
    assert credits_balance(user=user).available == 0
    assert entry.spent == 100
    assert "400 uncovered" in entry.memo
    assert_ledger_matches(user)


def test_reserving_more_than_available_is_refused_with_a_clear_error(user):
    with pytest.raises(InsufficientCredits) as caught:
        credits_reserve(user=user, amount=1001, reference="call:5")
    assert caught.value.code == "insufficient_credits"
    assert caught.value.data == {"required": 1001, "available": 1000}
    assert credits_balance(user=user).available == 1000
    assert_ledger_matches(user)


@pytest.mark.parametrize("amount", [0, -5, 1.5, "10", True])
def test_amounts_must_be_positive_integers(user, amount):
    with pytest.raises(InvalidAmount):
        credits_grant(user=user, amount=amount)


def test_ledger_rows_cannot_be_changed_or_deleted(user):
    entry = CreditLedgerEntry.objects.filter(account__user=user).first()
    entry.amount = 1_000_000
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()


def test_credits_endpoint_shows_balance_and_paginated_ledger(api, user):
    for index in range(60):
        credits_reserve(user=user, amount=1, reference=f"call:{index}")
    body = api.get("/api/v1/credits/").json()
    assert body["balance"] == {"available": 940, "reserved": 60, "total": 1000}
    assert body["count"] == 61
    assert len(body["results"]) == 50
    assert body["results"][0]["reference"] == "call:59"
    second = api.get(body["next"]).json()
    assert [row["kind"] for row in second["results"]][-1] == "grant"


def test_credits_speak_available_reserved_and_total_in_rest_and_admin(api, user, admin_client):
    credits_reserve(user=user, amount=60, reference="call:1")
    body = api.get("/api/v1/credits/").json()
    assert body["balance"] == {"available": 940, "reserved": 60, "total": 1000}
    newest = body["results"][0]
    assert (newest["amount"], newest["reserved_delta"], newest["available_after"], newest["reserved_after"]) == (
        -60, 60, 940, 60)
    assert "balance_after" not in newest

    account = user.credit_account
    listing = admin_client.get(reverse("admin:users_creditaccount_changelist")).content.decode()
    assert ">Available<" in listing
    assert ">Total<" in listing
    page = admin_client.get(reverse("admin:users_creditaccount_change", args=[account.pk])).content.decode()
    assert "1000" in page
    assert "940" in page
    assert 'name="balance"' not in page  # moved only through the ledger


def test_users_only_see_their_own_ledger(api, make_user):
    other = make_user("bob", credits=5)
    credits_reserve(user=other, amount=5, reference="call:secret")
    body = api.get("/api/v1/credits/").json()
    assert all(row["reference"] != "call:secret" for row in body["results"])
    assert body["balance"]["available"] == 1000
