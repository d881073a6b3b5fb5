"""The errors of talking to Google Sheets, raised by ``sheets_sync.client`` (and the gate and breaker under it).

Every error carries ``spreadsheet_id`` (``""`` when no spreadsheet is involved) and a machine ``code``.
What a caller should catch::

    SheetsError                 anything below
    +-- RateLimited             429 / 403 rate-limit reason after the bounded retries (retry_after, limit_value, level)
    +-- Transient               5xx, timeout or connection failure after the bounded retries: try later
    |   +-- Ambiguous           the same on a write: it may have been applied (read back before appending again)
    +-- Permanent               400, 401, 403 permission, 404, a rejected key: fix the input; never trips the breaker
    +-- BreakerOpen             the circuit breaker holds requests back (or Redis, which holds its state, is down)
    +-- NoToken                 no quota token within the allowed wait (``wait`` seconds until the next one)

None of them means the rows are lost: the caller leaves them in the outbox and tries again later.
"""

from __future__ import annotations


class SheetsError(Exception):
    code = "sheets_error"

    def __init__(self, message: str, *, spreadsheet_id: str = "") -> None:
        super().__init__(message)
        self.spreadsheet_id = spreadsheet_id


class RateLimited(SheetsError):
    code = "rate_limited"

    def __init__(self, message: str, *, spreadsheet_id: str = "", retry_after: float | None = None,
                 limit_value: int | None = None, level: str | None = None) -> None:
        super().__init__(message, spreadsheet_id=spreadsheet_id)
        self.retry_after = retry_after
        self.limit_value = limit_value  # the real limit per minute, from the 429's ErrorInfo quota_limit_value
        self.level = level  # "user" or "project", from its quota_limit; None when the answer did not say


class Transient(SheetsError):
    code = "transient"


class Ambiguous(Transient):
    code = "ambiguous"


class Permanent(SheetsError):
    """The request itself is wrong for this spreadsheet; ``code`` says how."""

    def __init__(self, message: str, *, spreadsheet_id: str = "", code: str = "invalid_argument",
                 status: int | None = None) -> None:
        super().__init__(message, spreadsheet_id=spreadsheet_id)
        self.code = code  # invalid_argument, permission_denied, not_found, unauthenticated, credentials
        self.status = status


class BreakerOpen(SheetsError):
    code = "breaker_open"


class NoToken(SheetsError):
    code = "no_token"

    def __init__(self, wait: float, *, spreadsheet_id: str = "", kind: str = "") -> None:
        super().__init__(f"no Sheets {kind or 'request'} quota token for {wait:.2f}s", spreadsheet_id=spreadsheet_id)
        self.wait = wait
        self.kind = kind
