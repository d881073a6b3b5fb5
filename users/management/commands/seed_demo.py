"""``manage.py seed_demo``: the demo user ``make run`` prints a token for, created once and reused after.

Every run says what happened: created (with its password) or already there (password unchanged, and
how to reset it), and whether the account was topped up to ``--credits``.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from users.models import User
from users.selectors import credits_balance
from users.services import credits_grant, token_for_user, user_create

RESET_HINT = ".venv/bin/python manage.py seed_demo --reset-password"


class Command(BaseCommand):
    help = "Create (or reuse) a staff demo user, top its credits up to --credits, and print an MCP token for it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="demo")
        parser.add_argument("--credits", type=int, default=10_000,
                            help="Top the available credits up to this amount (default 10000; 0: never top up).")
        parser.add_argument("--reset-password", action="store_true",
                            help="Give an existing demo user a new password (DEMO_PASSWORD or random) and print it.")
        parser.add_argument("--token-only", action="store_true", help="Print only the token.")

    @transaction.atomic
    def handle(self, *args: Any, username: str, credits: int, reset_password: bool, token_only: bool,
               **options: Any) -> None:
        user, created, account_line = self._user(username, reset_password)
        credits_line = self._top_up(user, credits, created=created)
        token = token_for_user(user=user)
        if token_only:
            self.stdout.write(token)
            return
        self.stdout.write(account_line)
        self.stdout.write(credits_line)
        self.stdout.write(f"MCP token (Authorization: Bearer ...):\n{token}")

    def _user(self, username: str, reset_password: bool) -> tuple[User, bool, str]:
        user = User.objects.filter(username=username).first()
        password = os.environ.get("DEMO_PASSWORD") or secrets.token_urlsafe(12)
        if user is None:
            user = user_create(username=username, password=password, email=f"{username}@example.com", is_staff=True)
            user.is_superuser = True
            user.save(update_fields=["is_superuser"])
            return user, True, f'Demo user "{username}" created (staff, for /admin/) with password: {password}'
        if reset_password:
            user.set_password(password)
            user.save(update_fields=["password"])
            return user, False, f'Demo user "{username}" already exists; its password was reset to password: {password}'
        return user, False, (f'Demo user "{username}" already exists; its password is unchanged. Forgot it? '
                      f"`{RESET_HINT}` prints a new one.")

    def _top_up(self, user: User, credits: int, *, created: bool) -> str:
        before = credits_balance(user=user)
        missing = credits - before.available
        if credits <= 0:
            return f"Credits: {before.available} available (--credits 0: no top-up)."
        if missing <= 0:
            return f"Credits: {before.available} available (the demo's {credits}; no top-up)."
        credits_grant(user=user, amount=missing, memo="demo top-up")
        if created:
            return f"Credits: granted {missing}; {credits} available."
        held = f" ({before.reserved} reserved)" if before.reserved else ""
        return (f"Credits: topped up by {missing} to {credits} available{held}; every `make run` tops the demo "
                "account up like this (`seed_demo --credits N` to choose, 0 to never top up).")
