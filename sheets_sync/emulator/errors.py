"""Errors in Google's JSON shape: ``{"error": {"code", "message", "status", "details"?}}``."""

from __future__ import annotations

import zlib
from typing import Any

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
MESSAGES = {
    401: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
         "valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    500: "Internal error encountered.",
    502: "Bad Gateway",
    503: "The service is currently unavailable.",
    504: "The request timed out. Please try again.",
}
MISSING_CREDENTIAL = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other "
    "valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
# quota_limit names as Google reports them, by (kind, level).
QUOTA_LIMITS = {
    ("write", "user"): ("WriteRequestsPerMinutePerUser", "Write requests", "Write requests per minute per user"),
    ("write", "project"): ("WriteRequestsPerMinutePerProject", "Write requests",
                           "Write requests per minute"),
    ("read", "user"): ("ReadRequestsPerMinutePerUser", "Read requests", "Read requests per minute per user"),
    ("read", "project"): ("ReadRequestsPerMinutePerProject", "Read requests", "Read requests per minute"),
}


class ApiError(Exception):
    """A Sheets API error; ``body()`` is what goes on the wire."""

    def __init__(self, status: int, message: str | None = None, *, details: list[dict[str, Any]] | None = None) -> None:
        self.status = status
        self.message = message or MESSAGES.get(status, "Error")
        self.details = details
        super().__init__(f"{status} {self.message}")

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.status, "message": self.message,
                                 "status": STATUS_NAMES.get(self.status, "UNKNOWN")}
        if self.details:
            error["details"] = self.details
        return {"error": error}


def invalid(message: str) -> ApiError:
    return ApiError(400, message)


def project_number(project_id: str) -> str:
    """A stable numeric project number for a project id (Google shows numbers in quota errors)."""
    return str(100_000_000_000 + zlib.crc32(project_id.encode()) % 900_000_000_000)


def quota_exceeded(kind: str, level: str, limit: int, project_id: str) -> ApiError:
    """Google's 429 RESOURCE_EXHAUSTED with its ErrorInfo (``quota_limit``, ``quota_limit_value``) and Help."""
    quota_limit, metric, limit_name = QUOTA_LIMITS[(kind, level)]
    number = project_number(project_id)
    message = (f"Quota exceeded for quota metric '{metric}' and limit '{limit_name}' of service "
               f"'sheets.googleapis.com' for consumer 'project_number:{number}'.")
    details: list[dict[str, Any]] = [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "RATE_LIMIT_EXCEEDED",
            "domain": "googleapis.com",
            "metadata": {
                "quota_metric": f"sheets.googleapis.com/{kind}_requests",
                "quota_limit": quota_limit,
                "quota_limit_value": str(limit),
                "quota_location": "global",
                "quota_unit": "1/min/{project}/{user}" if level == "user" else "1/min/{project}",
                "consumer": f"projects/{number}",
                "service": "sheets.googleapis.com",
            },
        },
        {
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [{"description": "Request a higher quota limit.",
                       "url": "https://cloud.google.com/docs/quotas/help/request_increase"}],
        },
    ]
    return ApiError(429, message, details=details)
