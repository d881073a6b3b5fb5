"""``python -m sheets_sync.emulator.local URL KEY_FILE SPREADSHEET_ID``: get a running emulator ready for
``make run``: a service-account key in KEY_FILE (kept from the last run when the emulator still knows it and
its token_uri is this emulator's) and the operations spreadsheet SPREADSHEET_ID shared with it."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from sheets_sync.emulator.harness import EmulatorClient, wait_ready

READY_SECONDS = 180.0  # the emulator's manage.py start-up, beside the rest of the stack on a busy machine


def _usable_key(client: EmulatorClient, path: Path) -> dict[str, Any] | None:
    try:
        key = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(key, dict) or key.get("token_uri") != f"{client.url}/token":
        return None
    return key if key.get("client_email") in client.accounts() else None


def prepare(url: str, key_file: str | Path, spreadsheet_id: str, title: str = "callmcp operations") -> dict[str, Any]:
    client = EmulatorClient(url)
    try:
        wait_ready(client, READY_SECONDS)
        path = Path(key_file)
        key = _usable_key(client, path)
        if key is None:
            key = client.new_account()
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # a private key: owner only
            with os.fdopen(fd, "w") as handle:
                json.dump(key, handle, indent=2)
        client.new_spreadsheet(shared_with=[key["client_email"]], spreadsheet_id=spreadsheet_id, title=title)
        return key
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sheets_sync.emulator.local", description=__doc__)
    parser.add_argument("url")
    parser.add_argument("key_file")
    parser.add_argument("spreadsheet_id")
    args = parser.parse_args()
    prepare(args.url, args.key_file, args.spreadsheet_id)


if __name__ == "__main__":  # pragma: no cover
    main()
