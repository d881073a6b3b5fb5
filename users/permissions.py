"""DRF permissions on token scopes: ``permission_classes = [IsAuthenticated, scope_required(...)]``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from users.models import User


class InsufficientScope(exceptions.PermissionDenied):
    default_code = "insufficient_scope"


class _ScopeRequired(BasePermission):
    required: frozenset[str] = frozenset()

    def has_permission(self, request: Request, view: Any) -> bool:
        granted: Iterable[str] = getattr(request, "scopes", frozenset())
        missing = sorted(self.required - set(granted))
        if missing:
            raise InsufficientScope(
                detail=f"This token lacks the scope(s) {', '.join(missing)}.", code="insufficient_scope"
            )
        return True


def authenticated_user(request: Request) -> User:
    """The request's user, for views behind ``IsAuthenticated``; ``NotAuthenticated`` for anyone else."""
    user = request.user
    if not isinstance(user, User):
        raise exceptions.NotAuthenticated()
    return user


def scope_required(*required: str) -> type[BasePermission]:
    return type(
        f"ScopeRequired_{'_'.join(s.replace(':', '_') for s in required)}",
        (_ScopeRequired,),
        {"required": frozenset(required)},
    )
