"""AWS Lambda entrypoint of the poller: ``handler.handler`` (this file, with the project on the path).

Django is set up once per container, at import (the cold start); every invocation then runs one pass of
the same code as ``manage.py poll_calls --once``. The budget comes from the invocation's remaining time
less a safety margin, capped at ``POLLER_MAX_SECONDS``: with a 15-minute timeout and the default 5 minutes,
a pass never runs into the timeout, and a pass cut short by its budget is resumed by the next invocation.
Run it on a schedule with reserved concurrency 1; the poller's own lock still keeps a duplicate delivery
from running twice.

The event may carry ``{"options": {"max_seconds": ..., "batch_size": ..., "dry_run": ...}}``; anything
else in it (an EventBridge scheduled event) is ignored. The answer is the pass's summary.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if (ROOT / "manage.py").exists() and str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run from a checkout; the image installs the project instead

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

import django  # noqa: E402 - the path and settings module must be set first

django.setup()

from django.conf import settings  # noqa: E402
from django.db import close_old_connections, connections  # noqa: E402

from calls.poller import PollOptions, poll_calls  # noqa: E402

logger = logging.getLogger("calls.poller.lambda")

SAFETY_MARGIN_SECONDS = float(os.environ.get("POLLER_LAMBDA_MARGIN_SECONDS", "30"))
OPTIONS = {"max_seconds": float, "batch_size": int, "dry_run": bool}


def _options(event: Any) -> dict[str, Any]:
    raw = event.get("options") if isinstance(event, dict) else None
    if not isinstance(raw, dict):
        return {}
    chosen: dict[str, Any] = {}
    for name, kind in OPTIONS.items():
        value = raw.get(name)
        if value is None:
            continue
        if isinstance(value, bool) is not (kind is bool) or not isinstance(value, int | float):
            raise ValueError(f"options.{name} must be {'a boolean' if kind is bool else 'a positive number'}")
        if kind is not bool and value <= 0:
            raise ValueError(f"options.{name} must be positive")
        chosen[name] = kind(value)
    return chosen


def budget_seconds(remaining_ms: int, requested: float | None = None) -> float:
    """The pass's budget: what the invocation has left less the margin, never above the configured cap."""
    budget = min(float(settings.POLLER_MAX_SECONDS), remaining_ms / 1000 - SAFETY_MARGIN_SECONDS)
    return min(budget, requested) if requested else budget


def handler(event: Any, context: Any) -> dict[str, Any]:
    close_old_connections()  # a warm container keeps the connections of the last invocation
    try:
        try:
            options = _options(event)
        except ValueError as exc:
            return {"ok": False, "status": "invalid_event", "error": str(exc)}
        budget = budget_seconds(context.get_remaining_time_in_millis(), options.pop("max_seconds", None))
        if budget < 1:
            return {"ok": False, "status": "no_time", "error": "the invocation has too little time left for a pass"}
        summary = poll_calls(options=PollOptions.from_settings(max_seconds=budget, trigger="lambda", **options))
        answer = summary.as_dict()
        answer.update(ok=summary.ok, budget_seconds=round(budget, 3),
                      request_id=getattr(context, "aws_request_id", None))
        return answer
    except Exception as exc:  # the Lambda boundary: a clear answer, the traceback in the logs
        logger.exception("the poller failed")
        return {"ok": False, "status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    finally:
        connections.close_all()  # the container may be frozen for minutes: no idle connections left behind
