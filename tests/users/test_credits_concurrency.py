from __future__ import annotations

import threading

import pytest
from django.db import connection

from users.errors import InsufficientCredits
from users.selectors import credits_balance, credits_ledger_sums
from users.services import credits_reserve


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_reservations_against_a_balance_for_ten(make_user):
    user = make_user("racer", credits=100)
    barrier = threading.Barrier(50)
    outcomes: list[str] = []
    lock = threading.Lock()

    def reserve(index: int) -> None:
        barrier.wait()
        try:
            credits_reserve(user=user, amount=10, reference=f"call:{index}")
            result = "ok"
        except InsufficientCredits as exc:
            result = exc.code
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=reserve, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert outcomes.count("ok") == 10
    assert outcomes.count("insufficient_credits") == 40
    balance = credits_balance(user=user)
    assert (balance.available, balance.reserved) == (0, 100)
    assert credits_ledger_sums(user=user) == balance
