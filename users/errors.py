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


class UsernameTaken(DomainError):
    code = "username_taken"
    http_status = 409
    message_template = 'A user named "{username}" already exists.'


class InvalidUsername(DomainError):
    code = "invalid_username"
    http_status = 400
    message_template = "{reason}"
