from config.errors import DomainError


class InsufficientCredits(DomainError):
    code = "insufficient_credits"
    http_status = 402
    message_template = "Insufficient credits: {required} needed, {available} available."


class InvalidAmount(DomainError):
    code = "invalid_amount"
    http_status = 400
    message_template = "Credit amounts must be positive integers, got {amount!r}."


class UnknownScopes(DomainError):
    code = "unknown_scopes"
    http_status = 400
    message_template = "Unknown or not permitted scopes: {scopes}."
