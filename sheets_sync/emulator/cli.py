"""The command line shared by ``python -m sheets_sync.emulator`` and ``manage.py sheets_emulator``."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from typing import Any

from sheets_sync.emulator.quotas import GOOGLE_DEFAULTS
from sheets_sync.emulator.server import DEFAULT_HOST, DEFAULT_PORT, bind, display_host, run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}; 0: a free port")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help="default 127.0.0.1 (the control API answers loopback callers only)")
    parser.add_argument("--file", default=None, help="keep spreadsheets and accounts in this JSON file")
    for name, value in GOOGLE_DEFAULTS.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=value,
                            help=f"requests per window (default {value}, Google's)")
    parser.add_argument("--window-seconds", type=float, default=60.0, help="quota window (default 60)")


def serve(options: dict[str, Any], write: Callable[[str], None]) -> None:
    """Bind (``OSError`` when the port is taken, before anything is served), say where, then serve."""
    sock = bind(options["host"], options["port"])
    port = sock.getsockname()[1]
    quotas = {name: options[name] for name in GOOGLE_DEFAULTS}
    quotas["window_seconds"] = options["window_seconds"]
    logging.getLogger("sheets_sync.emulator").setLevel(logging.INFO)
    saved = f", saved to {options['file']}" if options.get("file") else ""
    write(f"Sheets emulator on http://{display_host(options['host'])}:{port}/{saved}; Ctrl-C to stop.")
    run(options["host"], port, sock=sock, file=options.get("file"), quotas=quotas)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sheets_sync.emulator", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    try:
        serve(vars(args), lambda line: print(line, flush=True))
    except OSError as exc:
        parser.exit(1, f"Port {args.port} on {args.host} is not free ({exc.strerror}); choose another with "
                       "--port, or --port 0 for a free one.\n")
