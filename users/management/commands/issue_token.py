from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.errors import DomainError
from users.models import User
from users.services import token_for_user


class Command(BaseCommand):
    help = "Mint a long-lived access token for an MCP client: issue_token USER --scopes calls:read calls:write"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--scopes", nargs="+", help="Scopes to carry (default: all the user holds).")
        parser.add_argument("--days", type=int, help="Lifetime in days (default: MCP_TOKEN_LIFETIME_DAYS).")

    def handle(self, *args: Any, username: str, scopes: list[str] | None, days: int | None, **options: Any) -> None:
        try:
            user = User.objects.get(username=username, is_active=True)
        except User.DoesNotExist as exc:
            raise CommandError(f"No active user named {username!r}. Create one with "
                               f"`manage.py create_user {username}`, or in the admin.") from exc
        if days is not None and days <= 0:
            raise CommandError("--days must be positive.")
        try:
            token = token_for_user(user=user, scopes=scopes, lifetime=timedelta(days=days) if days else None)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(token)
