"""A Google Sheets emulator: an aiohttp server speaking the subset of Sheets API v4 that callmcp uses,
plus Google's OAuth token endpoint for service-account keys, so the real google-api-python-client talks
to it unchanged (only ``api_endpoint`` and the key's ``token_uri`` point here). Shipped with the product:
``manage.py sheets_emulator --port N [--host H] [--file PATH]`` or ``python -m sheets_sync.emulator``;
``make run`` starts it and points the service at it.

Sheets methods (Google's REST paths; errors in Google's JSON shape ``{"error": {code, message, status}}``):
``POST /v4/spreadsheets`` (create), ``GET /v4/spreadsheets/{id}`` (titles and grid sizes of the tabs),
``POST /v4/spreadsheets/{id}:batchUpdate`` (addSheet, appendDimension, and the cell requests appendCells and
updateCells with values only; ``includeSpreadsheetInResponse`` with ``responseRanges`` and
``responseIncludeGridData`` answers the ranges' cells after the batch), ``GET|PUT .../values/{range}``,
``POST .../values/{range}:append`` (finds the table, writes after it, answers ``updates.updatedRange``),
``POST .../values/{range}:clear``, ``POST .../values:batchUpdate``, ``GET .../values:batchGet``.
Every request is checked whole before anything is written. An unknown spreadsheet is 404 NOT_FOUND, one
not shared with the caller 403 PERMISSION_DENIED, a bad range or tab 400 INVALID_ARGUMENT (``Unable to
parse range: ...``), a write past the grid 400 (``exceeds grid limits``); append grows the grid; 10 million
cells per spreadsheet is the cap.

Auth: ``POST /token`` takes the JWT-bearer grant google-auth sends for a service-account key the emulator
issued (RS256 signature checked; a bad one is Google's 400 ``invalid_grant``); the bearer token's
``client_email`` is the user, the key's ``project_id`` the project. Without a valid token: 401.

Quotas: per user and per project, reads and writes apart, over sliding windows of ``window_seconds`` (60):
a request that would make more than the limit within any window answers 429 RESOURCE_EXHAUSTED with
Google's ErrorInfo (``quota_limit`` e.g. ``WriteRequestsPerMinutePerUser``, ``quota_limit_value``).
Google's defaults: 60 per user, 300 per project, each per minute.

Control API (no auth, loopback callers only; JSON): ``POST /_emulator/accounts`` -> a key;
``POST /_emulator/spreadsheets {id?, title?, shared_with: [emails] | "*", sheets?: [titles]}`` -> ``{id}``;
``GET /_emulator/spreadsheets[/{id}]``; ``POST /_emulator/faults {error_rate, error_statuses, latency_ms,
outage, outage_seconds, ambiguous_rate, seed}`` (ambiguous: the write is applied, then the answer is 500);
``POST /_emulator/quotas {writes_per_user, writes_per_project, reads_per_user, reads_per_project,
window_seconds}``; ``GET /_emulator/log?since=N`` (every Sheets request: t, user, kind, method,
spreadsheet, status, rows); ``POST|GET /_emulator/changes`` (the rows written, when switched on);
``GET /_emulator/state``; ``POST /_emulator/reset``. ``GET /`` shows every tab as an HTML table.

Parts: a1 (ranges), grid (one tab), store (spreadsheets, persistence, value operations), routes (which method
a path is), sheets (the methods), cells (batchUpdate's cell requests and response grid data), oauth (accounts
and tokens), quotas, faults, requestlog, state (one emulator and the order checks run in), control (the
control API), page (``/``), server (the aiohttp app, ``run``), cli, harness (``running_emulator`` and
``EmulatorClient``).
"""

from sheets_sync.emulator.harness import EmulatorClient, running_emulator
from sheets_sync.emulator.server import DEFAULT_HOST, DEFAULT_PORT, bind, build_app, run
from sheets_sync.emulator.state import Emulator

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "Emulator", "EmulatorClient", "bind", "build_app", "run",
           "running_emulator"]
