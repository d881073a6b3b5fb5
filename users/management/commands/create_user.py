"""``manage.py create_user NAME``: a user with scopes and credits, and a long-lived token for an MCP client.

Staff can do the same in the admin (Users -> Add user, then the credit account's *Grant credits*
action); this is the one-line way, for scripts and a first try.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.errors import DomainError
from users import scopes as scope_names
from users.services import token_for_user, user_create


class Command(BaseCommand):
    help = ("Create a user with scopes and credits and print a password and an MCP token: "
            "create_user bob --scopes calls:read calls:write credits:read --credits 5000")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--scopes", nargs="+",
                            help=f"Scopes the user holds (default: all: {' '.join(scope_names.ALL_SCOPES)}).")
        parser.add_argument("--credits", type=int, default=0, help="Credits to grant (1 credit = $0.01; default 0).")
        parser.add_argument("--email", default="")
        parser.add_argument("--staff", action="store_true", help="May log in to /admin/.")
        parser.add_argument("--days", type=int, help="Token lifetime in days (default: MCP_TOKEN_LIFETIME_DAYS).")
        parser.add_argument("--token-only", action="store_true", help="Print only the token.")

    def handle(self, *args: Any, username: str, scopes: list[str] | None, credits: int, email: str, staff: bool,
               days: int | None, token_only: bool, **options: Any) -> None:
        if credits < 0:
            raise CommandError("--credits must be zero or more.")
        if days is not None and days <= 0:
            raise CommandError("--days must be positive.")
        password = secrets.token_urlsafe(12)
        lifetime = timedelta(days=days) if days else settings.MCP_TOKEN_LIFETIME
        try:
            user = user_create(username=username, password=password, email=email, scopes=scopes, is_staff=staff,
                               credits=credits)
        except DomainError as exc:
            hint = f" Mint a token with `manage.py issue_token {username}`." if exc.code == "username_taken" else ""
            raise CommandError(exc.message + hint) from exc
        token = token_for_user(user=user, lifetime=lifetime)
        if token_only:
            self.stdout.write(token)
            return
        self.stdout.write(f'User "{username}" created with scopes {" ".join(user.scopes)} and {credits} credits.')
        where = "/admin/ and " if staff else ""
        self.stdout.write(f"Log in to {where}POST /api/v1/auth/token/ with password: {password}")
        self.stdout.write(f"MCP token (Authorization: Bearer ..., valid {lifetime.days} days):\n{token}")
