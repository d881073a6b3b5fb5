"""``manage.py bland_simulator``: serve the bundled Bland AI simulator (``calls/providers/simulator/``).

Without ``BLAND_API_KEY`` the service talks to this server (``BLAND_BASE_URL`` defaults to
http://127.0.0.1:8765; ``make run`` picks a port from PORT, or a free one). ``--port 0`` takes a free port;
the address served on is printed first. A taken port is an error, so a second server never talks to
another checkout's simulator. Runs until SIGINT/SIGTERM, then shuts down cleanly.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from calls.providers import simulator

OPTION_KEYS = ("api_key", "webhook_secret", "time_scale", "plan", "balance", "latency_ms", "error_rate", "outage",
               "webhooks", "rate_limit_rps")


def _env_default(name: str, fallback: str) -> str:
    """The environment variable, else the setting of the same name, else the simulator's own default."""
    return os.environ.get(name) or str(getattr(settings, name, "") or "") or fallback


class Command(BaseCommand):
    help = "Run the Bland AI simulator: Bland's v1 HTTP API in memory, with scenarios by number, limits and faults."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        defaults = simulator.SimulatorOptions()
        parser.add_argument("--port", type=int, default=simulator.DEFAULT_PORT, help="0: a free port")
        parser.add_argument("--host", default=simulator.DEFAULT_HOST, help="default 127.0.0.1 (/_sim/ has no auth)")
        parser.add_argument(
            "--api-key",
            default=_env_default("BLAND_SIMULATOR_API_KEY", defaults.api_key),
            help="the key clients must send (env BLAND_SIMULATOR_API_KEY)",
        )
        parser.add_argument(
            "--webhook-secret",
            default=_env_default("BLAND_WEBHOOK_SECRET", defaults.webhook_secret),
            help="HMAC secret of X-Webhook-Signature (env BLAND_WEBHOOK_SECRET)",
        )
        parser.add_argument("--time-scale", type=float, default=defaults.time_scale,
                            help="simulated seconds per real second (0 freezes the clock)")
        parser.add_argument("--plan", choices=sorted(simulator.PLANS), default=defaults.plan)
        parser.add_argument("--balance", type=float, default=defaults.balance, help="account balance in USD")
        parser.add_argument("--latency-ms", type=float, default=defaults.latency_ms)
        parser.add_argument("--error-rate", type=float, default=defaults.error_rate,
                            help="fraction of API requests answered 500/503")
        parser.add_argument("--outage", action="store_true", help="answer every API request 503")
        parser.add_argument("--no-webhooks", dest="webhooks", action="store_false",
                            help="end calls without posting their webhooks (as if every webhook were lost)")
        parser.add_argument("--rate-limit-rps", type=float, default=defaults.rate_limit_rps,
                            help="API requests a second before Bland's 429 (0: unlimited)")
        parser.add_argument("--public-url", default=None, help="base of recording_url (default http://HOST:PORT)")

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        chosen = {key: options[key] for key in OPTION_KEYS}
        if options["public_url"]:
            chosen["public_url"] = options["public_url"]
        try:
            simulator.SimulatorOptions(**chosen)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        try:
            sock = simulator.bind(host, port)
        except OSError as exc:
            raise CommandError(f"Port {port} on {host} is in use ({exc.strerror}): another simulator, or another "
                               "checkout's make run? Choose another with --port (SIM_PORT for make run), or "
                               "--port 0 for a free one.") from exc
        port = sock.getsockname()[1]
        logging.getLogger(simulator.__name__).setLevel(logging.INFO)
        self.stdout.write(f"Bland simulator on http://{host}:{port} (plan {options['plan']}); Ctrl-C to stop.")
        self.stdout.flush()
        simulator.run(host, port, sock=sock, **chosen)
