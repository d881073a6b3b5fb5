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
def test_every_console_log_line_is_printed_once(debug):
    result = _run(PROBE, DEBUG=debug)
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert output.count("probe-django 1") == 1, output
    assert output.count("probe-app") == 1, output


def test_plain_lines_go_to_stderr_so_command_output_stays_pipeable():
    result = _run(PROBE + "; print('the-output')", DEBUG="true")
    assert result.stdout.strip() == "the-output"
    assert "WARNING django.request probe-django 1" in result.stderr


def test_json_format_writes_one_object_per_line_on_stdout_with_the_extra_fields():
    result = _run(PROBE, DEBUG="true", LOG_FORMAT="json")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    by_message = {record["message"]: record for record in records}
    assert set(by_message) == {"probe-django 1", "probe-app"}, result.stdout
    app = by_message["probe-app"]
    assert app["level"] == "WARNING"
    assert app["logger"] == "calls.services"
    assert app["call_id"] == "c-1"
    assert app["timestamp"].endswith("Z") or "+00:00" in app["timestamp"]


def test_json_format_keeps_the_traceback_in_the_same_object():
    code = (
        "import logging\n"
        "try:\n    1 / 0\n"
        "except ZeroDivisionError:\n    logging.getLogger('calls').exception('it broke')\n"
    )
    result = _run(code, LOG_FORMAT="json")
    records = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert len(records) == 1, result.stdout
    assert records[0]["message"] == "it broke"
    assert "ZeroDivisionError" in records[0]["exc_info"]


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
