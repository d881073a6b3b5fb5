from django.db import models


class McpSession(models.Model):
    """Session store used when Redis is not configured."""

    id = models.CharField(primary_key=True, max_length=64)
    data = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "MCP session"

    def __str__(self) -> str:
        return self.id


class McpTask(models.Model):
    """A durable MCP task: a tool call answered later (2025-11-25 tasks, the 2026-07-28 tasks extension).

    Owned by the principal that created it (``Principal.rate_key``): it is only ever read through
    ``mcp_gateway.tasks.store`` with that owner, so one caller never sees another's task. ``state`` is
    what the tool's task work keeps between polls (a phone call task: the call's id), so any server
    process can answer for it, and it survives a restart.
    """

    id = models.CharField(primary_key=True, max_length=64)
    owner = models.CharField(max_length=150)
    tool = models.CharField(max_length=128)
    modern = models.BooleanField(default=False)  # created on 2026-07-28 (its notifications are that era's)
    session_id = models.CharField(max_length=64, blank=True, default="")  # the legacy session that created it
    status = models.CharField(max_length=16, default="working")
    status_message = models.TextField(blank=True, default="")
    ref = models.CharField(max_length=200, blank=True, default="", db_index=True)
    state = models.JSONField(default=dict, blank=True)
    input_requests = models.JSONField(default=dict, blank=True)
    input_responses = models.JSONField(default=dict, blank=True)
    answered_keys = models.JSONField(default=list, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    ttl_ms = models.PositiveBigIntegerField(null=True, blank=True)
    poll_interval_ms = models.PositiveIntegerField(default=1000)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = "MCP task"
        indexes = [models.Index(fields=["owner", "-created_at"], name="mcp_task_owner_created")]

    def __str__(self) -> str:
        return f"{self.tool} {self.id} ({self.status})"
