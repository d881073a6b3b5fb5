"""One process of the SQLite concurrency test (``test_sqlite_default.py``), on the embedded settings.

``python -m tests.config.sqlite_writer ROLE HOLDS`` with ``DATABASE_URL=sqlite:///<file>``:
``setup`` migrates, creates the user and reserves HOLDS holds; ``settle``, ``release`` and ``grant``
print ``ready``, wait for a line on stdin (the start signal, so that all writers run at once), then
write through ``users.services`` as the webhook task, cancelCall and staff do; ``report`` prints the
account, the ledger sums and the journal mode as JSON. Any database error ends the process non-zero
with its traceback on stderr.
"""

from __future__ import annotations

import json
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
django.setup()

from django.core.management import call_command  # noqa: E402 - after django.setup()
from django.db import connection  # noqa: E402
from django.db.models import Count, Q, Sum  # noqa: E402

from users.models import CreditAccount, CreditLedgerEntry, User  # noqa: E402
from users.services import (  # noqa: E402
    credits_grant,
    credits_release,
    credits_reserve,
    credits_settle,
    user_create,
)

USERNAME = "racer"


def reference(index: int) -> str:
    return f"call:race-{index}"


def setup(holds: int) -> None:
    call_command("migrate", verbosity=0, interactive=False)
    user = user_create(username=USERNAME, password=None)
    credits_grant(user=user, amount=holds * 100, memo="race")
    for index in range(holds):
        credits_reserve(user=user, amount=50, reference=reference(index))


def settle(user: User, holds: int) -> None:
    """The webhook reporting each call's end: charge 20 of the 50 held."""
    for index in range(holds):
        credits_settle(user=user, reference=reference(index), cost=20)


def release(user: User, holds: int) -> None:
    """cancelCall racing the webhook, in the opposite order: give the hold back."""
    for index in reversed(range(holds)):
        credits_release(user=user, reference=reference(index), memo="cancelled")


def grant(user: User, holds: int) -> None:
    """Staff granting credits meanwhile."""
    for _ in range(holds):
        credits_grant(user=user, amount=1, memo="top-up")


def report(holds: int) -> None:
    account = CreditAccount.objects.get(user__username=USERNAME)
    sums = account.entries.aggregate(amount=Sum("amount"), reserved=Sum("reserved_delta"))
    closings = (CreditLedgerEntry.objects.filter(account=account, reference__startswith="call:race-")
                .values("reference").annotate(closed=Count("id", filter=~Q(kind="reserve"))))
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        journal_mode = cursor.fetchone()[0]
    print(json.dumps({
        "balance": account.balance, "reserved": account.reserved, "ledger_amount": sums["amount"],
        "ledger_reserved": sums["reserved"], "closings": sorted({row["closed"] for row in closings}),
        "references": len(closings), "journal_mode": journal_mode,
    }))


WRITERS = {"settle": settle, "release": release, "grant": grant}


def main() -> None:
    role, holds = sys.argv[1], int(sys.argv[2])
    if role == "setup":
        setup(holds)
    elif role == "report":
        report(holds)
    else:
        user = User.objects.get(username=USERNAME)
        connection.ensure_connection()
        print("ready", flush=True)
        sys.stdin.readline()
        WRITERS[role](user, holds)
        print("done", flush=True)


if __name__ == "__main__":
    main()
