"""Errors of the calls domain. Each has a machine code; interfaces translate them (DRF, MCP)."""

from typing import Any

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
    """The provider refused or failed. The message says what the caller can do; ``detail`` (what the
    provider or the network said, for operators) is logged by the client and never sent to callers."""

    code = "provider_error"
    http_status = 502
    message_template = "The phone provider failed; nothing was charged. Try again later."

    def __init__(self, message: str | None = None, *, detail: str = "", **data: Any) -> None:
        self.detail = detail
        super().__init__(message, **data)


class ProviderUnavailable(ProviderError):
    code = "provider_unavailable"
    http_status = 503
    message_template = ("The phone provider is not reachable right now; nothing was changed or charged. "
                        "Try again in a minute.")


class ProviderRateLimited(ProviderError):
    code = "provider_rate_limited"
    http_status = 429
    message_template = "The phone provider is rate limiting: {reason} Try again in a little while."


class ProviderRejected(ProviderError):
    code = "provider_rejected"
    http_status = 400
    message_template = "The phone provider rejected the request: {reason}"


class ProviderAuthFailed(ProviderError):
    code = "provider_auth_failed"
    http_status = 502
    message_template = ("The phone provider refused this service's credentials; nothing was charged. "
                        "An operator must fix BLAND_API_KEY.")


class ProviderBalanceExhausted(ProviderError):
    code = "provider_balance_exhausted"
    http_status = 503
    message_template = ("The phone provider account is out of balance; nothing was charged. "
                        "An operator must top it up.")


class ProviderNotFound(ProviderError):
    code = "provider_not_found"
    http_status = 404
    message_template = "The phone provider has no record of this call."


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


class InvalidAnalysisRequest(DomainError):
    code = "invalid_analysis_request"
    http_status = 400
    message_template = "{reason}"


class CallNotEnded(DomainError):
    code = "call_not_ended"
    http_status = 409
    message_template = ("Call {call_id} has not ended yet ({status}); analyze it once it has ended "
                        "(getCallDetails shows its status).")


class CallNotAnalyzable(DomainError):
    code = "call_not_analyzable"
    http_status = 409
    message_template = "Call {call_id} ended without a conversation ({status}): there is no transcript to analyze."


class AnalysisAnswersInvalid(DomainError):
    """The provider's answers do not satisfy the caller's answer schema: nothing is stored."""

    code = "analysis_answers_invalid"
    http_status = 502
    message_template = ("The provider's answers do not match answer_schema ({reason}); nothing was stored. "
                        "Try again, or loosen the schema.")


class UnknownVoice(DomainError):
    code = "unknown_voice"
    http_status = 400
    message_template = "voice {voice} is not a voice of the phone provider; use one listVoices names, e.g. {examples}."


class SpendConfirmationRequired(DomainError):
    """The reservation is above the user's threshold and the client cannot ask the user (no elicitation)."""

    code = "confirmation_required"
    http_status = 400
    message_template = ("This will reserve {credits} credits for up to {minutes} minutes to {summary}, more than "
                        "your confirmation threshold of {threshold} credits. Ask the user, and if they agree call "
                        "again with confirm_spend: true. Nothing was placed or reserved.")


class SpendNotConfirmed(DomainError):
    """The user was asked and did not accept (declined, cancelled, or gave no answer)."""

    code = "spend_not_confirmed"
    http_status = 409
    message_template = ("The user did not confirm reserving {credits} credits (their answer: {action}); nothing "
                        "was placed or reserved. Do not retry unless the user asks for it.")
