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
