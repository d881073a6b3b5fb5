"""Staff view of MCP tasks (read-only): who started which tool call as a task, where it stands, its result."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from mcp_gateway.models import McpTask


@admin.register(McpTask)
class McpTaskAdmin(admin.ModelAdmin):
    list_display = ("id", "tool", "owner", "status", "modern", "created_at", "updated_at", "expires_at")
    list_filter = ("status", "tool", "modern")
    search_fields = ("id", "owner", "ref")
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in McpTask._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request)
