"""Console logging as an operator sees it: each record once, plain text locally, JSON objects in
containers (LOG_FORMAT=json), from the web process, management commands and the Celery worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import logging; "
    "logging.getLogger('django.request').warning('probe-django %s', 1); "
    "logging.getLogger('calls.services').warning('probe-app', extra={'call_id': 'c-1'})"
)


def _run(code: str, *, command: tuple[str, ...] = ("shell", "-v", "0", "-c"), **env: str
         ) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "LOG_FORMAT", "DEBUG"}}
    return subprocess.run(  # noqa: S603 - our interpreter, our manage.py
        [sys.executable, "manage.py", *command, *([code] if code else [])], cwd=ROOT, env={**clean, **env},
        capture_output=True, text=True, timeout=60, check=False,
    )


@pytest.mark.parametrize("debug", ["true", "false"])
def test_every_console_log_line_is_printed_once_on_stderr_keeping_stdout_for_the_command(debug):
    result = _run(PROBE + "; print('the-output')", DEBUG=debug)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("probe-django 1") == 1, result.stderr  # was twice with DEBUG on
    assert result.stderr.count("probe-app") == 1, result.stderr
    assert "WARNING django.request probe-django 1" in result.stderr
    assert result.stdout.strip() == "the-output"  # a command's own output stays pipeable


def test_json_format_writes_one_object_per_line_on_stdout_with_extra_fields_and_tracebacks():
    code = PROBE + (
        "\ntry:\n    1 / 0\n"
        "except ZeroDivisionError:\n    logging.getLogger('calls').exception('it broke')\n"
    )
    result = _run(code, DEBUG="true", LOG_FORMAT="json")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    by_message = {record["message"]: record for record in records}
    assert set(by_message) == {"probe-django 1", "probe-app", "it broke"}, result.stdout
    app = by_message["probe-app"]
    assert app["level"] == "WARNING"
    assert app["logger"] == "calls.services"
    assert app["call_id"] == "c-1"
    assert app["timestamp"].endswith("Z") or "+00:00" in app["timestamp"]
    assert "ZeroDivisionError" in by_message["it broke"]["exc_info"]  # the traceback in the same object


def test_an_unknown_log_format_stops_startup_naming_the_variable():
    result = _run("", command=("check",), LOG_FORMAT="xml")
    assert result.returncode != 0
    assert "Environment variable LOG_FORMAT has an invalid value" in result.stderr


def test_the_celery_worker_logs_json_lines_through_the_same_config():
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG"}}
    worker = subprocess.Popen(  # noqa: S603 - our interpreter running Celery on our app
        [sys.executable, "-m", "celery", "-A", "config", "--quiet", "worker", "--pool", "solo", "--loglevel", "INFO"],
        cwd=ROOT, env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings.base", "LOG_FORMAT": "json",
                       "CELERY_BROKER_URL": "memory://", "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    deadline = threading.Timer(60, worker.terminate)  # bounds the wait: the loop ends when the worker does
    deadline.start()
    try:
        lines = []
        for line in worker.stdout:
            lines.append(line)
            if "ready." in line:
                break
    finally:
        deadline.cancel()
        worker.terminate()
        worker.wait(timeout=30)
        worker.stdout.close()
    records = [json.loads(line) for line in lines if line.strip()]  # every line is a JSON object
    ready = [record for record in records if record["message"].endswith("ready.")]
    assert ready, lines
    assert ready[0]["logger"] == "celery.apps.worker"
