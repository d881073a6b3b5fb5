"""Errors of the calls domain. Each has a machine code; interfaces translate them (DRF, MCP)."""

from typing import ClassVar

from config.errors import DomainError, NotFound


class CallNotFound(NotFound):
    code = "call_not_found"
    message_template = "Call {call_id} not found."


class InvalidCallRequest(DomainError):
    code = "invalid_call_request"
    http_status = 400
    message_template = "{reason}"


class CallNotCancellable(DomainError):
    code = "call_not_cancellable"
    http_status = 409
    message_template = "Call {call_id} already ended ({status}); only queued, scheduled or live calls can be cancelled."


class RecordingNotAvailable(DomainError):
    code = "recording_not_available"
    http_status = 404
    message_template = "{reason}"


class ProviderError(DomainError):
    """The provider refused or failed. Nothing was placed and nothing was charged."""

    code = "provider_error"
    http_status = 502
    message_template = "The phone provider failed: {reason}"
    # The provider's own error text goes to the logs; clients get what they can act on.
    internal = frozenset({"reason"})
    public_template: ClassVar[str | None] = "The phone provider failed. Nothing was placed or charged; try again later."


class ProviderUnavailable(ProviderError):
    code = "provider_unavailable"
    http_status = 503
    message_template = "The phone provider is unavailable ({reason}). Nothing was placed or charged; try again later."
    public_template = "The phone provider is unavailable right now. Nothing was placed or charged; try again later."


class ProviderRateLimited(ProviderError):
    code = "provider_rate_limited"
    http_status = 429
    message_template = "The phone provider is rate limiting: {reason}"
    internal = frozenset()  # the provider's reason says what to wait for
    public_template = None


class ProviderRejected(ProviderError):
    code = "provider_rejected"
    http_status = 400
    message_template = "The phone provider rejected the call: {reason}"
    internal = frozenset()  # the provider's reason is what the client must fix
    public_template = None


class ProviderAuthFailed(ProviderError):
    code = "provider_auth_failed"
    http_status = 502
    message_template = "The phone provider refused our credentials; an operator must fix BLAND_API_KEY."
    public_template = "The phone provider is not available (an operator must fix its configuration)."


class ProviderBalanceExhausted(ProviderError):
    code = "provider_balance_exhausted"
    http_status = 503
    message_template = "The phone provider account is out of balance; an operator must top it up."
    public_template = "The phone provider is not available (its account needs attention from an operator)."


class ProviderNotFound(ProviderError):
    code = "provider_not_found"
    http_status = 404
    message_template = "The phone provider does not know this call: {reason}"
    public_template = "The phone provider does not know this call."


class RecordingLinkInvalid(NotFound):
    """A download link that is forged, expired, or names another call or owner: always a plain 404."""

    code = "recording_link_invalid"
    message_template = "This recording link is invalid or has expired; ask for a new one."


class WebhookSignatureInvalid(DomainError):
    code = "webhook_signature_invalid"
    http_status = 401
    message_template = "Missing or invalid X-Webhook-Signature."


class WebhookPayloadInvalid(DomainError):
    code = "webhook_payload_invalid"
    http_status = 400
    message_template = "{reason}"
