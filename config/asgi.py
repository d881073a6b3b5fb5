"""ASGI entrypoint: HTTP through Django (the MCP paths through the gateway's lean entry), WebSocket MCP at
/mcp. The gateway is built here, once, from the settings, and given to both."""

import gc
import logging
import os

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
django_asgi_app = get_asgi_application()

from config import tracing  # noqa: E402 - needs Django set up first
from mcp_gateway.asgi import mcp_application  # noqa: E402
from mcp_gateway.gateway import build_gateway  # noqa: E402

# Static files (admin, Swagger UI assets) are served by the app itself so the service works offline
# with nothing in front.
application = mcp_application(ASGIStaticFilesHandler(django_asgi_app), gateway=build_gateway())
# X-Ray tracing when TRACING_ENABLED: a server span per request and WebSocket connection.
if tracing.setup("web"):
    application = tracing.wrap_asgi(application)

# Log records carry nothing our format (settings.LOGGING) does not print: skip the caller lookup and
# the thread/process fields (the "Optimization" section of the logging docs). A fifth of the CPU of a
# WebSocket request went into the one log line it writes.
logging._srcfile = None  # noqa: SLF001 - the documented switch
logging.logThreads = False
logging.logProcesses = False
logging.logMultiprocessing = False

# Objects alive after start-up never need collecting: freezing them halves p99 (fewer GC pauses).
gc.collect()
gc.freeze()
