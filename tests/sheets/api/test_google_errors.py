"""Google's error answers as they come on the wire (the shapes in the Sheets documentation and public issues),
read into our errors. The emulator sends the modern 429 form; Google may also send the legacy 403 form."""

import json

import pytest

from sheets_sync.errors import Ambiguous, Permanent, RateLimited, Transient
from sheets_sync.google_errors import error_from_response


def body(code: int, status: str, *, reasons=(), details=()) -> bytes:
    error = {"code": code, "message": "m", "status": status}
    if reasons:
        error["errors"] = [{"reason": reason, "domain": "usageLimits", "message": "m"} for reason in reasons]
    if details:
        error["details"] = list(details)
    return json.dumps({"error": error}).encode()


def read(status: int, content: bytes, *, write: bool = False, retry_after: str | None = None):
    return error_from_response(status=status, content=content, retry_after=retry_after, spreadsheet_id="s1",
                               write=write)


@pytest.mark.parametrize("reason", ["rateLimitExceeded", "userRateLimitExceeded"])
def test_the_legacy_403_rate_limit_form_is_a_quota_error(reason):
    error = read(403, body(403, "PERMISSION_DENIED", reasons=[reason]))
    assert isinstance(error, RateLimited)
    assert error.limit_value is None


def test_a_429_names_its_limit_and_level_and_keeps_retry_after():
    info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED",
            "metadata": {"quota_limit": "WriteRequestsPerMinutePerProject", "quota_limit_value": "1000"}}
    error = read(429, body(429, "RESOURCE_EXHAUSTED", details=[info]), retry_after="7")
    assert isinstance(error, RateLimited)
    assert (error.limit_value, error.level, error.retry_after, error.spreadsheet_id) == (1000, "project", 7.0, "s1")


def test_other_403s_are_permission_errors():
    error = read(403, body(403, "PERMISSION_DENIED", reasons=["forbidden"]))
    assert isinstance(error, Permanent)
    assert error.code == "permission_denied"


def test_5xx_is_ambiguous_on_a_write_and_transient_on_a_read():
    assert isinstance(read(503, b"<html>Service Unavailable</html>", write=True), Ambiguous)
    error = read(502, b"")
    assert isinstance(error, Transient)
    assert not isinstance(error, Ambiguous)


def test_a_body_that_is_not_googles_shape_still_gives_a_clear_error():
    error = read(400, b"not json")
    assert isinstance(error, Permanent)
    assert (error.code, error.status) == ("invalid_argument", 400)
    assert "400" in str(error)
