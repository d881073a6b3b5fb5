"""Staff see MCP tasks in the admin, read-only: tool, owner, status, the durable state and the result."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from mcp_gateway.models import McpTask

pytestmark = pytest.mark.django_db


@pytest.fixture
def task() -> McpTask:
    now = timezone.now()
    return McpTask.objects.create(id="task-admin-1", owner="7", tool="makePhoneCall", status="completed",
                                  state={"call_id": "c-1"}, ref="call:c-1", result={"content": []},
                                  created_at=now, updated_at=now)


def test_staff_browse_and_inspect_tasks_but_cannot_change_them(admin_client, task):
    listed = admin_client.get(reverse("admin:mcp_gateway_mcptask_changelist"), {"q": "call:c-1"})
    assert listed.status_code == 200
    assert "task-admin-1" in listed.content.decode()

    page = admin_client.get(reverse("admin:mcp_gateway_mcptask_change", args=[task.pk]))
    assert page.status_code == 200
    assert "c-1" in page.content.decode()
    assert admin_client.get(reverse("admin:mcp_gateway_mcptask_add")).status_code == 403
    admin_client.post(reverse("admin:mcp_gateway_mcptask_change", args=[task.pk]), {"status": "working"})
    task.refresh_from_db()
    assert task.status == "completed"
