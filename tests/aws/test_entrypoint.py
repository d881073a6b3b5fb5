"""deploy/entrypoint.sh, the container image's one entrypoint: each role starts the right command, in
the right directory, replacing the shell (so ECS's and Lambda's signals reach it). The commands are
stand-ins found first on PATH that record how they were started; then the web role and its health
check run for real."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "entrypoint.sh"
STUB = """#!/bin/sh
printf '%s\\0' "$$" "$(basename "$0")" "$PWD" "$@" > "$STUB_LOG"
exit "${STUB_EXIT:-0}"
"""
ANY_ADDRESS = "0.0.0.0"  # noqa: S104 - a container serves on all its interfaces
WEB = ["uvicorn", "config.asgi:application", "--host", ANY_ADDRESS, "--port", "8000", "--proxy-headers",
       "--forwarded-allow-ips", "*", "--timeout-keep-alive", "310", "--ws-ping-interval", "20", "--no-access-log"]


@pytest.fixture
def stubs(tmp_path: Path) -> dict[str, object]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("uvicorn", "celery", "python", "hostname"):
        (bin_dir / name).write_text(STUB if name != "hostname" else "#!/bin/sh\necho task-1\n")
        (bin_dir / name).chmod(0o755)
    app = tmp_path / "app"
    (app / "deploy" / "lambda").mkdir(parents=True)
    return {"bin": bin_dir, "app": app, "log": tmp_path / "started"}


def _start(stubs: dict, *args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], list[str] | None, int]:
    log: Path = stubs["log"]
    log.unlink(missing_ok=True)
    environment = {"PATH": f"{stubs['bin']}:/usr/bin:/bin", "APP_DIR": str(stubs["app"]), "STUB_LOG": str(log),
                   **env}
    process = subprocess.Popen(["/bin/sh", str(SCRIPT), *args], env=environment, text=True,  # noqa: S603
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = process.communicate(timeout=30)
    result = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    if not log.exists():
        return result, None, process.pid
    recorded = log.read_text().split("\0")[:-1]
    assert int(recorded[0]) == process.pid, "the role must replace the shell (exec), not run as its child"
    return result, recorded[1:], process.pid


def _command(stubs: dict, *args: str, **env: str) -> tuple[list[str], str]:
    result, recorded, _ = _start(stubs, *args, **env)
    assert result.returncode == 0, result.stderr
    assert recorded is not None, f"no command started: {result.stderr}"
    name, cwd, *arguments = recorded
    return [name, *arguments], cwd


def test_web_serves_the_asgi_application_with_uvicorn_on_port(stubs):
    assert _command(stubs, "web") == (WEB, str(stubs["app"]))
    command, _ = _command(stubs, "web", "--workers", "1", PORT="9000")
    assert command[5] == "9000"
    assert command[-2:] == ["--workers", "1"]


def test_the_role_can_come_from_callmcp_role(stubs):
    assert _command(stubs, CALLMCP_ROLE="web")[0] == WEB


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["worker"], {}, ["celery", "-A", "config", "--quiet", "worker", "--loglevel", "INFO", "--concurrency", "2",
                          "--hostname", "celery@task-1"]),
        (["worker"], {"CELERY_QUEUES": "default,sheets", "CELERY_CONCURRENCY": "4", "LOG_LEVEL": "WARNING"},
         ["celery", "-A", "config", "--quiet", "worker", "--loglevel", "WARNING", "--concurrency", "4",
          "--hostname", "celery@task-1", "--queues", "default,sheets"]),
        (["beat"], {}, ["celery", "-A", "config", "--quiet", "beat", "--loglevel", "INFO", "--schedule",
                        "/tmp/celerybeat-schedule"]),  # noqa: S108 - the only writable place in the image
        (["migrate"], {}, ["python", "manage.py", "migrate", "--noinput"]),
        (["migrate", "calls"], {}, ["python", "manage.py", "migrate", "--noinput", "calls"]),
        (["collectstatic"], {}, ["python", "manage.py", "collectstatic", "--noinput"]),
        (["manage", "createsuperuser", "--username", "ops"], {},
         ["python", "manage.py", "createsuperuser", "--username", "ops"]),
    ],
)
def test_each_role_starts_its_command_in_the_application_directory(stubs, args, env, expected):
    assert _command(stubs, *args, **env) == (expected, str(stubs["app"]))


def test_the_poller_runs_the_lambda_handler_under_the_runtime_interface_client(stubs):
    lambda_dir = str(stubs["app"] / "deploy" / "lambda")
    on_lambda = _command(stubs, "poller", AWS_LAMBDA_RUNTIME_API="127.0.0.1:9001")
    assert on_lambda == (["python", "-m", "awslambdaric", "handler.handler"], lambda_dir)
    assert _command(stubs, "poller") == on_lambda  # outside Lambda and without the emulator: the same
    (stubs["bin"] / "aws-lambda-rie").write_text(STUB)
    (stubs["bin"] / "aws-lambda-rie").chmod(0o755)
    assert _command(stubs, "poller") == (["aws-lambda-rie", "python", "-m", "awslambdaric", "handler.handler"],
                                         lambda_dir)
    assert _command(stubs, "poller", AWS_LAMBDA_RUNTIME_API="127.0.0.1:9001") == on_lambda


@pytest.mark.parametrize("args", [["serve"], []])
def test_an_unknown_or_missing_role_is_refused_with_the_list_of_roles(stubs, args):
    result, recorded, _ = _start(stubs, *args)
    assert result.returncode == 64
    assert recorded is None
    assert "usage: entrypoint.sh web|worker|beat|migrate|collectstatic|poller|manage|healthcheck" in result.stderr


def test_a_failing_command_fails_the_container(stubs):
    result, recorded, _ = _start(stubs, "migrate", STUB_EXIT="3")
    assert result.returncode == 3
    assert recorded is not None


def test_the_health_check_of_each_role(stubs, tmp_path):
    command, _ = _command(stubs, "healthcheck", CALLMCP_ROLE="worker")
    assert command == ["celery", "-A", "config", "--quiet", "inspect", "ping", "--timeout", "5",
                       "--destination", "celery@task-1"]
    schedule = tmp_path / "schedule"
    result, _, _ = _start(stubs, "healthcheck", CALLMCP_ROLE="beat", CELERY_BEAT_SCHEDULE=str(schedule))
    assert result.returncode == 1
    assert "not written for 10 min" in result.stderr
    schedule.write_text("")
    assert _start(stubs, "healthcheck", CALLMCP_ROLE="beat", CELERY_BEAT_SCHEDULE=str(schedule))[0].returncode == 0
    old = time.time() - 11 * 60
    os.utime(schedule, (old, old))
    assert _start(stubs, "healthcheck", CALLMCP_ROLE="beat", CELERY_BEAT_SCHEDULE=str(schedule))[0].returncode == 1
    assert _start(stubs, "healthcheck", CALLMCP_ROLE="migrate")[0].returncode == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_web_role_serves_for_real_and_its_health_check_follows_it(tmp_path):
    venv_bin = str(Path(sys.executable).parent)
    port = str(_free_port())
    env = {"PATH": f"{venv_bin}:/usr/bin:/bin", "APP_DIR": str(ROOT), "PORT": port, "PYTHONPATH": str(ROOT),
           "DJANGO_SETTINGS_MODULE": "config.settings.base", "CALLMCP_ROLE": "web", "HOME": str(tmp_path),
           "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3", "LOG_FORMAT": "json"}
    if not shutil.which("uvicorn", path=venv_bin):
        pytest.fail("uvicorn is a dependency: it must be installed beside this interpreter")
    log = (tmp_path / "web.log").open("w")
    web = subprocess.Popen(["/bin/sh", str(SCRIPT)], env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert web.poll() is None, (tmp_path / "web.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "web.log").read_text()
            time.sleep(0.1)
        check = subprocess.run(["/bin/sh", str(SCRIPT), "healthcheck"], env=env, capture_output=True,  # noqa: S603
                               text=True, timeout=30, check=False)
        assert check.returncode == 0, check.stderr
    finally:
        web.terminate()  # SIGTERM reaches uvicorn itself (exec): it shuts down cleanly
        web.wait(timeout=30)
        log.close()
    lines = (tmp_path / "web.log").read_text().splitlines()
    messages = [json.loads(line)["message"] for line in lines]  # uvicorn's own lines are JSON too
    assert f"Finished server process [{web.pid}]" in messages, lines
    check = subprocess.run(["/bin/sh", str(SCRIPT), "healthcheck"], env=env, capture_output=True,  # noqa: S603
                           text=True, timeout=30, check=False)
    assert check.returncode == 1
    assert "healthz:" in check.stderr
