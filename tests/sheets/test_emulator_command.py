"""``manage.py sheets_emulator --file``: a real process, whose spreadsheets and keys outlive a restart."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

from sheets_sync.emulator import EmulatorClient, running_emulator
from tests.servers import free_port
from tests.sheets.conftest import google_sheets

ROOT = Path(__file__).resolve().parents[2]


def _start(path: Path, port: int) -> tuple[subprocess.Popen[str], EmulatorClient]:
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "sheets_emulator", "--port", str(port), "--file", str(path)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.match(r"Sheets emulator on (http://127\.0\.0\.1:\d+)/, saved to ", line)
    assert match, line
    return process, EmulatorClient(match.group(1))


def _stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0


def test_the_command_serves_and_keeps_its_file(tmp_path: Path) -> None:
    path, port = tmp_path / "sheets.json", free_port()  # the same port twice: the key's token_uri names it
    process, emulator = _start(path, port)
    try:
        key = emulator.new_account()
        sheet_id = emulator.new_spreadsheet(shared_with=[key["client_email"]], sheets=["Calls"])
        google_sheets(emulator, key).spreadsheets().values().append(
            spreadsheetId=sheet_id, range="Calls!A:B", valueInputOption="RAW", body={"values": [["c-1", "ok"]]}
        ).execute()
    finally:
        _stop(process)
    process, emulator = _start(path, port)
    try:
        rows = google_sheets(emulator, key).spreadsheets().values().get(spreadsheetId=sheet_id,
                                                                        range="Calls").execute()["values"]
        assert rows == [["c-1", "ok"]]
    finally:
        _stop(process)


def test_a_subprocess_emulator_from_the_harness() -> None:
    with running_emulator(subprocess_=True, writes_per_user=7) as emulator:
        assert emulator.state()["quotas"]["writes_per_user"] == 7
