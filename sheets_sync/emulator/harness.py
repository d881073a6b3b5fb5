"""The emulator for tests, benches and demos: ``running_emulator()`` serves one (in a thread of this process,
or as a subprocess) and yields a ``EmulatorClient`` that drives its control API over HTTP::

    with running_emulator() as emulator:
        key = emulator.new_account()
        sheet_id = emulator.new_spreadsheet(shared_with=[key["client_email"]])
        ... google-api-python-client with client_options={"api_endpoint": emulator.url} ...
        emulator.faults(ambiguous_rate=0.2); emulator.values(sheet_id)["Sheet1"]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from config.app_thread import AppThread
from sheets_sync.emulator.server import DEFAULT_HOST, build_app, display_host
from sheets_sync.emulator.state import Emulator

STARTUP_SECONDS = 60.0  # generous: a loaded machine can be slow to start a Python process


class EmulatorClient:
    """The control API of an emulator at ``url``."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=60.0, trust_env=False)

    def _post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._http.post(path, json=body or {})
        response.raise_for_status()
        return response.json()

    def new_account(self, *, email: str | None = None, project_id: str | None = None) -> dict[str, Any]:
        """A new service-account key (the JSON of a key file), its token_uri at the emulator."""
        return dict(self._post("/_emulator/accounts", {"email": email, "project_id": project_id}))

    def accounts(self) -> list[str]:
        response = self._http.get("/_emulator/accounts")
        response.raise_for_status()
        return [account["email"] for account in response.json()]

    def new_spreadsheet(self, shared_with: list[str] | str = "*", *, spreadsheet_id: str | None = None,
                        title: str | None = None, sheets: list[str] | None = None,
                        values: dict[str, list[list[Any]]] | None = None) -> str:
        body = {"id": spreadsheet_id, "title": title, "shared_with": shared_with, "sheets": sheets, "values": values}
        return str(self._post("/_emulator/spreadsheets", {k: v for k, v in body.items() if v is not None})["id"])

    def faults(self, **changes: Any) -> dict[str, Any]:
        return dict(self._post("/_emulator/faults", changes))

    def quotas(self, **changes: Any) -> dict[str, Any]:
        return dict(self._post("/_emulator/quotas", changes))

    def log(self, since: int = 0) -> list[dict[str, Any]]:
        response = self._http.get("/_emulator/log", params={"since": since})
        response.raise_for_status()
        return list(response.json())

    def record_changes(self, enabled: bool = True) -> None:
        self._post("/_emulator/changes", {"enabled": enabled})

    def changes(self, since: int = 0) -> tuple[list[dict[str, Any]], int]:
        response = self._http.get("/_emulator/changes", params={"since": since})
        response.raise_for_status()
        return list(response.json()), int(response.headers["X-Next-Offset"])

    def spreadsheets(self) -> list[dict[str, Any]]:
        """``[{id, title, tabs}]`` of every spreadsheet."""
        response = self._http.get("/_emulator/spreadsheets")
        response.raise_for_status()
        return list(response.json())

    def values(self, spreadsheet_id: str) -> dict[str, list[list[Any]]]:
        """Every tab's values, by title (cells as stored: numbers stay numbers)."""
        response = self._http.get(f"/_emulator/spreadsheets/{spreadsheet_id}")
        response.raise_for_status()
        return dict(response.json()["sheets"])

    def state(self) -> dict[str, Any]:
        response = self._http.get("/_emulator/state")
        response.raise_for_status()
        return dict(response.json())

    def reset(self, *, keep_accounts: bool = False) -> None:
        self._post("/_emulator/reset", {"keep_accounts": keep_accounts})

    def close(self) -> None:
        self._http.close()


def _start_process(host: str, port: int, file: str | Path | None,
                   quotas: dict[str, Any]) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "sheets_sync.emulator", "--host", host, "--port", str(port)]
    if file:
        command += ["--file", str(file)]
    for name, value in quotas.items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)  # noqa: S603
    line = process.stdout.readline() if process.stdout else ""
    if not line.startswith("Sheets emulator on "):
        process.kill()
        raise RuntimeError(f"the Sheets emulator did not start: {line!r}")
    url = line.split(" on ", 1)[1].split("/", 3)
    return process, "/".join(url[:3]).rstrip(",;")


def wait_ready(client: EmulatorClient, seconds: float = STARTUP_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            client.state()
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextmanager
def running_emulator(*, host: str = DEFAULT_HOST, port: int = 0, subprocess_: bool = False,
                     file: str | Path | None = None, **quotas: Any) -> Iterator[EmulatorClient]:
    """Serve an emulator until the block ends. ``quotas``: writes_per_user, ..., window_seconds.

    In a thread by default (its state is also reachable as ``client.emulator``); ``subprocess_=True`` gives it a
    process (and a core) of its own, as benches want."""
    if subprocess_:
        process, url = _start_process(host, port, file, quotas)
        client = EmulatorClient(url)
        try:
            wait_ready(client)
            yield client
        finally:
            client.close()
            process.terminate()
            process.wait(STARTUP_SECONDS)
        return
    emulator = Emulator(file=file, quotas=quotas)
    emulator.load()
    server = AppThread(build_app(emulator), host, port, name="Sheets emulator", access_log=False)
    client = EmulatorClient(f"http://{display_host(host)}:{server.start(STARTUP_SECONDS)}")
    client.emulator = emulator  # type: ignore[attr-defined]
    try:
        yield client
    finally:
        client.close()
        server.stop(STARTUP_SECONDS)
        emulator.save_if_dirty()
