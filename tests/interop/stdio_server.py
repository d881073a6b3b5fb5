"""``manage.py mcp_stdio`` with the test primitives registered (as a plugin app would add its own)."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from mcp_gateway.apps import gateway  # noqa: E402
from tests.mcp import fixture_tools  # noqa: E402

gateway().dispatcher.registry.add_module(fixture_tools)
call_command("mcp_stdio", *sys.argv[1:])
