"""Console log formats: ``plain`` text for a developer's terminal (stderr, so a command's own output
stays pipeable), ``json`` for containers: one JSON object per line on stdout, which CloudWatch Logs
and Logs Insights query by field.

The JSON formatter is python-json-logger's orjson formatter (fast, and it keeps ``extra=`` fields as
top-level keys); this module only fixes the field names and adds the trace id when tracing is on.
"""

from __future__ import annotations

import logging
from typing import Any

from pythonjsonlogger.orjson import OrjsonFormatter

from config import tracing

FIELDS = ["timestamp", "levelname", "name", "message"]


class JsonFormatter(OrjsonFormatter):
    """``{"timestamp", "level", "logger", "message", ...extra, "exc_info"?, "trace_id"?}`` per record."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", ["levelname", "name", "message"])
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", True)
        super().__init__(*args, **kwargs)

    def add_fields(self, log_record: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        super().add_fields(log_record, record, message_dict)
        trace_id = tracing.current_xray_trace_id()
        if trace_id:
            log_record["trace_id"] = trace_id


def logging_config(*, level: str, fmt: str) -> dict[str, Any]:
    """The LOGGING setting: every record reaches the one console handler once.

    Django applies its own default configuration first, which gives the ``django`` logger a console
    handler of its own (shown when DEBUG is on) and keeps ``django.server`` from propagating. Naming
    both here with no handlers of their own sends their records only through the root handler:
    before, each ``django.*`` line was printed twice, once plain and once formatted."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
            "json": {"()": "config.logs.JsonFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": fmt,
                "stream": "ext://sys.stdout" if fmt == "json" else "ext://sys.stderr",
            },
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django": {"handlers": [], "level": level, "propagate": True},
            "django.server": {"handlers": [], "level": "WARNING", "propagate": True},
            "daphne": {"level": "WARNING"},
            # uvicorn configures its loggers with handlers of its own before the app (and these
            # settings) load: reset them so its lines, too, are printed once in our format.
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": True},
        },
    }
