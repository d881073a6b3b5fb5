"""Celery application. Tasks are discovered in each installed app's ``tasks.py``."""

import os
from logging.config import dictConfig
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("callmcp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def _logging_from_settings(**kwargs: Any) -> None:
    """Workers and beat log like the web process (settings.LOGGING: plain or JSON, each line once)
    instead of Celery taking over the root logger with a format of its own."""
    from django.conf import settings

    dictConfig(settings.LOGGING)


@signals.worker_process_init.connect
def _trace_worker(**kwargs: Any) -> None:
    from config import tracing

    tracing.setup("worker")  # in each worker process: span exporters do not survive a fork


@signals.beat_init.connect
def _trace_beat(**kwargs: Any) -> None:
    from config import tracing

    tracing.setup("beat")


@signals.worker_process_shutdown.connect
def _flush_metrics(**kwargs: Any) -> None:
    from config import metrics, tracing

    metrics.flush()
    tracing.shutdown()
