"""JWT authentication that carries scopes.

The effective scopes of a request are the token's ``scope`` claim intersected with the scopes the
user holds now, so taking a scope away from a user takes it away from every token already issued.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.models import TokenUser
from rest_framework_simplejwt.tokens import Token

from users import scopes as scope_names


def effective_scopes(user: AbstractBaseUser | TokenUser, token: Token | dict[str, Any]) -> frozenset[str]:
    return scope_names.parse(token.get("scope")) & frozenset(getattr(user, "scopes", None) or ())


class ScopedJWTAuthentication(JWTAuthentication):
    www_authenticate_realm = "callmcp"

    def authenticate(self, request: Request) -> tuple[Any, Token] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        user, token = result
        request.scopes = effective_scopes(user, token)  # type: ignore[attr-defined]  # read by the scope permissions
        return user, token
