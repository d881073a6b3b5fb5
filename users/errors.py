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


class InvalidSpreadsheetId(DomainError):
    code = "invalid_spreadsheet_id"
    http_status = 400
    message_template = (
        "{value!r} is not a Google spreadsheet id: give the id from the sheet's address "
        "(docs.google.com/spreadsheets/d/<id>/edit), letters, digits, - and _, 10 to 128 characters, "
        "or the whole address, or an empty string to stop."
    )
