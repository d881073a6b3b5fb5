"""DRF permissions on token scopes: ``permission_classes = [IsAuthenticated, scope_required(...)]``."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request


class InsufficientScope(exceptions.PermissionDenied):
    default_code = "insufficient_scope"


class _ScopeRequired(BasePermission):
    required: frozenset[str] = frozenset()

    def has_permission(self, request: Request, view: Any) -> bool:
        granted = getattr(request, "scopes", frozenset())
        missing = sorted(self.required - set(granted))
        if missing:
            raise InsufficientScope(
                detail=f"This token lacks the scope(s) {', '.join(missing)}.", code="insufficient_scope"
            )
        return True


def scope_required(*required: str) -> type[BasePermission]:
    return type(
        f"ScopeRequired_{'_'.join(s.replace(':', '_') for s in required)}",
        (_ScopeRequired,),
        {"required": frozenset(required)},
    )
