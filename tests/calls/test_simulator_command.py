"""``manage.py bland_simulator`` as ``make run`` starts it: a taken port is a one-line error, never a
traceback (so a second checkout cannot silently use the first one's simulator), and ``--port 0`` takes
a free port and prints the one it serves on."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import httpx

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60


def _command(*args: str) -> list[str]:
    return [sys.executable, "manage.py", "bland_simulator", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "DJANGO_SETTINGS_MODULE": "config.settings.base"}


def test_a_taken_port_stops_the_simulator_with_a_one_line_error_naming_it():
    with closing(socket.socket()) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(_command("--port", str(port)), cwd=ROOT, env=_env(),  # noqa: S603
                                capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert f"Port {port} on 127.0.0.1 is in use" in result.stderr
    assert "--port 0" in result.stderr
    assert "Bland simulator on" not in result.stdout


def test_port_zero_serves_on_a_free_port_and_prints_it():
    process = subprocess.Popen(_command("--port", "0"), cwd=ROOT, env=_env(),  # noqa: S603
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.match(r"Bland simulator on http://127\.0\.0\.1:(\d+) ", line)
        assert match, line
        port = int(match.group(1))
        assert port != 0
        state = httpx.get(f"http://127.0.0.1:{port}/_sim/state", timeout=TIMEOUT).json()
        assert state["base_url"] == f"http://127.0.0.1:{port}"  # recording_url points where it serves
    finally:
        process.terminate()
        process.wait(timeout=TIMEOUT)


def test_an_explicit_free_port_is_used_as_given():
    port = free_port()
    process = subprocess.Popen(_command("--port", str(port)), cwd=ROOT, env=_env(),  # noqa: S603
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith(f"Bland simulator on http://127.0.0.1:{port} ")
        assert httpx.get(f"http://127.0.0.1:{port}/_sim/state", timeout=TIMEOUT).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=TIMEOUT)
