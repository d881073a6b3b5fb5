"""Answers that are not 2xx, in Bland's envelopes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


class SimError(Exception):
    """An answer that is not 2xx, with Bland's body for it."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body

    @classmethod
    def flat(cls, status: int, message: str) -> SimError:
        return cls(status, {"status": "error", "message": message})

    @classmethod
    def coded(cls, status: int, code: str, message: str) -> SimError:
        return cls(status, {"data": None, "errors": [{"error": code, "message": message}]})

    @classmethod
    def invalid(cls, problems: Sequence[str]) -> SimError:
        listed = json.dumps(list(problems), separators=(",", ":"))
        message = f"Invalid parameters. Error: {listed}"
        return cls(400, {"status": "error", "message": message, "errors": list(problems)})


def auth_failure() -> SimError:
    return SimError.coded(401, "AUTH_FAILURE", "Unauthorized")


def call_not_found() -> SimError:
    return SimError.flat(404, "Call not found.")

