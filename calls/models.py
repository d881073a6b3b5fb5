"""Calls placed through a provider (Bland AI) and every change that happened to them."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class CallStatus(models.TextChoices):
    PENDING = "pending", "Pending (being placed)"
    SCHEDULED = "scheduled", "Scheduled"
    QUEUED = "queued", "Queued"
    RINGING = "ringing", "Ringing"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    BUSY = "busy", "Busy"
    NO_ANSWER = "no_answer", "No answer"
    CANCELED = "canceled", "Canceled"


TERMINAL_STATUSES = frozenset(
    {CallStatus.COMPLETED, CallStatus.FAILED, CallStatus.BUSY, CallStatus.NO_ANSWER, CallStatus.CANCELED}
)
CANCELLABLE_STATUSES = frozenset(
    {CallStatus.PENDING, CallStatus.SCHEDULED, CallStatus.QUEUED, CallStatus.RINGING, CallStatus.IN_PROGRESS}
)


class AnsweredBy(models.TextChoices):
    HUMAN = "human", "Human"
    VOICEMAIL = "voicemail", "Voicemail"
    NO_ANSWER = "no-answer", "No answer"
    UNKNOWN = "unknown", "Unknown"


class CampaignStatus(models.TextChoices):
    PLACING = "placing", "Placing (the batch request is on its way)"
    ACTIVE = "active", "Active (calls running)"
    COMPLETED = "completed", "Completed (every call ended)"
    CANCELLED = "cancelled", "Cancelled (stopped; calls already running may still end)"


class Campaign(models.Model):
    """One task (or pathway) to many numbers, placed with one provider batch. Each of its calls is an ordinary
    ``Call`` (``campaign``, ``campaign_index``) holding its own credits; the campaign reserves all of them in
    one transaction, and each call settles its own when it ends."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="campaigns")
    name = models.CharField(max_length=60, blank=True)
    provider = models.CharField(max_length=32, default="bland")
    provider_batch_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    task = models.TextField(blank=True)
    pathway_id = models.CharField(max_length=64, blank=True)
    voice = models.CharField(max_length=64, blank=True)
    first_sentence = models.CharField(max_length=500, blank=True)
    language = models.CharField(max_length=16, blank=True)
    max_duration = models.PositiveIntegerField(help_text="Minutes, for each call.")
    record = models.BooleanField(default=False)
    start_time = models.DateTimeField(null=True, blank=True, help_text="Scheduled start, if any.")
    status = models.CharField(max_length=16, choices=CampaignStatus.choices, default=CampaignStatus.PLACING)
    total_calls = models.PositiveIntegerField()
    reserved_credits = models.PositiveIntegerField(help_text="Credits reserved for all its calls when placed.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    placed_at = models.DateTimeField(null=True, blank=True, help_text="When the provider accepted the batch.")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "-created_at"], name="campaign_owner_created")]

    def __str__(self) -> str:
        return f"{self.name or 'campaign'} ({self.total_calls} calls, {self.status})"


class Call(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="calls")
    provider = models.CharField(max_length=32, default="bland")
    provider_call_id = models.CharField(max_length=64, null=True, blank=True, unique=True)

    to_number = models.CharField(max_length=20)
    from_number = models.CharField(max_length=20, blank=True)
    task = models.TextField(blank=True)
    pathway_id = models.CharField(max_length=64, blank=True)
    voice = models.CharField(max_length=64, blank=True)
    first_sentence = models.CharField(max_length=500, blank=True)
    language = models.CharField(max_length=16, blank=True)
    max_duration = models.PositiveIntegerField(help_text="Minutes.")
    record = models.BooleanField(default=False)
    wait_for_greeting = models.BooleanField(default=False)
    start_time = models.DateTimeField(null=True, blank=True, help_text="Scheduled start, if any.")
    metadata = models.JSONField(default=dict, blank=True)
    request_data = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.PROTECT, related_name="calls")
    campaign_index = models.PositiveIntegerField(null=True, blank=True, help_text="Its row in the campaign.")

    status = models.CharField(max_length=16, choices=CallStatus.choices, default=CallStatus.PENDING)
    queue_status = models.CharField(max_length=32, blank=True, help_text="The provider's queue status, verbatim.")
    answered_by = models.CharField(max_length=16, choices=AnsweredBy.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    provider_price = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True, help_text="USD")
    reserved_credits = models.PositiveIntegerField(default=0)
    cost_credits = models.PositiveIntegerField(null=True, blank=True)
    summary = models.TextField(blank=True)
    transcript = models.JSONField(default=list, blank=True, help_text="Segments: [{speaker, text, at}]")
    corrected_transcript = models.JSONField(default=list, blank=True)
    error_message = models.TextField(blank=True)
    ended_by = models.CharField(max_length=16, blank=True)
    disposition = models.CharField(max_length=64, blank=True)

    recording_url = models.URLField(max_length=500, blank=True, help_text="The provider's recording location.")
    recording_file = models.FileField(upload_to="recordings/%Y/%m/", blank=True)
    recording_content_type = models.CharField(max_length=64, blank=True)
    recording_bytes = models.PositiveIntegerField(null=True, blank=True)

    provider_payload = models.JSONField(default=dict, blank=True, help_text="The provider's last raw answer.")

    # The poller's bookkeeping (calls.poller): written with queryset updates, so updated_at stays the call's own.
    last_polled_at = models.DateTimeField(null=True, blank=True, help_text="Last time the poller confirmed it.")
    poll_attempts = models.PositiveIntegerField(default=0, help_text="Details the poller fetched for it.")
    poll_failures = models.PositiveIntegerField(default=0, help_text="Failed polls in a row.")
    next_poll_at = models.DateTimeField(null=True, blank=True, help_text="Backing off: not polled before this.")
    poll_pass = models.UUIDField(null=True, blank=True, help_text="The last poller pass that processed it.")
    last_poll_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="call_idempotency_key_unique_per_owner",
            )
        ]
        indexes = [
            models.Index(fields=["owner", "-created_at", "-id"], name="call_owner_history"),
            models.Index(fields=["owner", "status", "-created_at"], name="call_owner_status"),
            models.Index(fields=["owner", "to_number", "-created_at"], name="call_owner_number"),
            models.Index(fields=["owner", "from_number", "-created_at"], name="call_owner_from_number"),
            models.Index(fields=["owner", "answered_by", "-created_at"], name="call_owner_answered_by"),
            models.Index(fields=["status", "updated_at"], name="call_status_updated"),
            models.Index(fields=["campaign", "status"], name="call_campaign_status"),
        ]

    def __str__(self) -> str:
        return f"{self.to_number} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def credit_reference(self) -> str:
        return f"call:{self.id}"


class EventSource(models.TextChoices):
    TOOL = "tool", "MCP tool"
    API = "api", "REST API"
    WEBHOOK = "webhook", "Provider webhook"
    POLLER = "poller", "Poller"
    ADMIN = "admin", "Admin"
    SYSTEM = "system", "System"


class CallEvent(models.Model):
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="events")
    source = models.CharField(max_length=16, choices=EventSource.choices)
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    detail = models.CharField(max_length=255, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["call", "id"])]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} -> {self.to_status} ({self.source})"


class PollRunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Stopped at its time budget (the next run resumes)"
    INTERRUPTED = "interrupted", "Interrupted (killed; the next run resumed it)"
    FAILED = "failed", "Failed"


class PollRun(models.Model):
    """One run of the poller, its checkpoint and its outcome. A pass over the calls can take several runs:
    a run stopped by its budget or killed is resumed by the next one, which keeps its ``pass_id``."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    pass_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    resumed_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    trigger = models.CharField(max_length=16, default="command")
    host = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=PollRunStatus.choices, default=PollRunStatus.RUNNING)
    started_at = models.DateTimeField()
    checkpoint_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    pass_started_at = models.DateTimeField(help_text="When the pass began: the next pass lists changes from here.")
    list_since = models.DateTimeField(null=True, blank=True, help_text="update_start_date of this pass's list.")
    watermark = models.DateTimeField(null=True, blank=True, help_text="Set when the pass is complete.")
    cursor = models.JSONField(default=dict, blank=True, help_text="Where the pass stands: phase and list position.")
    processed = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    dead_lettered = models.PositiveIntegerField(default=0)
    listed = models.PositiveIntegerField(default=0)
    confirmed = models.PositiveIntegerField(default=0, help_text="Listed calls that had not changed.")
    list_requests = models.PositiveIntegerField(default=0)
    detail_requests = models.PositiveIntegerField(default=0)
    rate_limited = models.PositiveIntegerField(default=0)
    lag_seconds = models.FloatField(null=True, blank=True, help_text="How overdue the oldest non-final call is.")
    errors = models.JSONField(default=list, blank=True)
    outcome = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["status", "-started_at"], name="pollrun_status_started")]

    def __str__(self) -> str:
        return f"poll run {self.started_at:%Y-%m-%d %H:%M:%S} ({self.status})"


class DeadLetterStatus(models.TextChoices):
    OPEN = "open", "Open"
    RETRIED = "retried", "Retried"
    RESOLVED = "resolved", "Resolved"


class PollDeadLetter(models.Model):
    """A call the poller gave up on after ``POLLER_MAX_FAILURES`` failed polls in a row."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="dead_letters")
    run = models.ForeignKey(PollRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=16, choices=DeadLetterStatus.choices, default=DeadLetterStatus.OPEN)
    failures = models.PositiveIntegerField()
    last_error = models.TextField(blank=True)
    sqs_message_id = models.CharField(max_length=128, blank=True)
    sqs_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    retried_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["call"], condition=models.Q(status="open"),
                                    name="poll_dead_letter_one_open_per_call")
        ]

    def __str__(self) -> str:
        return f"dead letter for call {self.call_id} ({self.status})"


class CallAnalysis(models.Model):
    """Answers to questions about a finished call, from the provider's analysis (analyzeCall)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="analyses")
    goal = models.CharField(max_length=500, blank=True)
    questions = models.JSONField(help_text="The questions, in order.")
    answer_schema = models.JSONField(null=True, blank=True, help_text="The JSON Schema the answers satisfy, if any.")
    answers = models.JSONField(help_text="One answer per question: an array, or an object keyed like the schema.")
    answer_keys = models.JSONField(null=True, blank=True,
                                   help_text="The answers object's keys in the order of the questions (a JSON "
                                             "object column keeps no order); null when the answers are an array.")
    provider_credits = models.DecimalField(max_digits=10, decimal_places=6, null=True, blank=True,
                                           help_text="What the provider charged for the analysis (its credits, USD).")
    source = models.CharField(max_length=16, choices=EventSource.choices, default=EventSource.TOOL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["call", "-created_at"], name="callanalysis_call_created")]
        verbose_name_plural = "call analyses"

    def __str__(self) -> str:
        return f"analysis of {self.call_id} ({len(self.questions)} questions)"
