"""What a data move records on the target, so a killed run resumes and a sync knows where it stopped.

Each batch of rows and its checkpoint are committed in one transaction: after a crash the table is
exactly as its checkpoint says, never a half batch.
"""

from __future__ import annotations

from django.db import models


class MoveState(models.Model):
    """The copy into this database: which source it came from and how far sync has read its changes."""

    source_id = models.UUIDField(help_text="Identity of the source (recorded in its callmcp_move schema).")
    source_label = models.CharField(max_length=255, help_text="host/database of the source, for messages.")
    mapping_path = models.CharField(max_length=500)
    started_at = models.DateTimeField()
    copied_at = models.DateTimeField(null=True, blank=True, help_text="When the full copy finished.")
    change_xmin = models.CharField(
        max_length=32, help_text="Source transactions from this id on may hold changes not applied yet."
    )
    synced_at = models.DateTimeField(null=True, blank=True)
    sync_snapshot_at = models.DateTimeField(
        null=True, blank=True, help_text="Source time of the snapshot the last sync applied."
    )

    class Meta:
        db_table = "dbmove_state"

    def __str__(self) -> str:
        return f"copy from {self.source_label}"


class MoveCheckpoint(models.Model):
    """How far the copy of one mapping entry got, in source key order."""

    state = models.ForeignKey(MoveState, on_delete=models.CASCADE, related_name="checkpoints")
    entry = models.CharField(max_length=100)
    last_key = models.TextField(null=True, blank=True, help_text="Source key of the last row copied.")
    rows = models.BigIntegerField(default=0)
    batches = models.IntegerField(default=0)
    done = models.BooleanField(default=False)
    deferred_indexes = models.JSONField(
        default=list, blank=True,
        help_text="[name, definition] of the secondary indexes dropped while the table loads, rebuilt at its end.",
    )
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "dbmove_checkpoint"
        constraints = [models.UniqueConstraint(fields=["state", "entry"], name="dbmove_checkpoint_entry_unique")]

    def __str__(self) -> str:
        return f"{self.entry}: {self.rows} rows" + (" (done)" if self.done else "")
