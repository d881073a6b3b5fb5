from __future__ import annotations

import os
import secrets
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from users.models import User
from users.selectors import credits_balance
from users.services import credits_grant, token_for_user, user_create


class Command(BaseCommand):
    help = "Create (or reuse) a demo user with credits and print an MCP token for it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="demo")
        parser.add_argument("--credits", type=int, default=10_000, help="Top the balance up to this amount.")
        parser.add_argument("--token-only", action="store_true", help="Print only the token.")

    @transaction.atomic
    def handle(self, *args: Any, username: str, credits: int, token_only: bool, **options: Any) -> None:
        user = User.objects.filter(username=username).first()
        password = None
        if user is None:
            password = os.environ.get("DEMO_PASSWORD") or secrets.token_urlsafe(12)
            user = user_create(username=username, password=password, email=f"{username}@example.com", is_staff=True)
            user.is_superuser = True
            user.save(update_fields=["is_superuser"])
        missing = credits - credits_balance(user=user).available
        if missing > 0:
            credits_grant(user=user, amount=missing, memo="demo top-up")
        token = token_for_user(user=user)
        if token_only:
            self.stdout.write(token)
            return
        self.stdout.write(f"Demo user: {username}" + (f" (password: {password})" if password else ""))
        self.stdout.write(f"Credits available: {credits_balance(user=user).available}")
        self.stdout.write(f"MCP token (Authorization: Bearer ...):\n{token}")
