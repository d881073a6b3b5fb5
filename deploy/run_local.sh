#!/usr/bin/env bash
# `make run`: the web server (HTTP + WebSocket) and, unless BLAND_API_KEY is set, the bundled Bland
# simulator, so a first call from an MCP client completes with no key and no internet.
set -euo pipefail
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
SIM_PORT=${SIM_PORT:-8765}
PY=${PY:-.venv/bin/python}
export DEBUG=${DEBUG:-true}
export PUBLIC_BASE_URL=${PUBLIC_BASE_URL:-http://$HOST:$PORT}

if [[ -z "${BLAND_API_KEY:-}" ]]; then
  export BLAND_BASE_URL=${BLAND_BASE_URL:-http://127.0.0.1:$SIM_PORT}
  "$PY" manage.py bland_simulator --port "$SIM_PORT" &
  SIM_PID=$!
  trap 'kill $SIM_PID 2>/dev/null || true' EXIT INT TERM
  echo "Bland simulator on $BLAND_BASE_URL (set BLAND_API_KEY to place real calls)"
fi
echo "callmcp on http://$HOST:$PORT/  MCP: /api/v1/mcp and ws://$HOST:$PORT/mcp  docs: /api/docs/  admin: /admin/"
"$PY" manage.py runserver "$HOST:$PORT"
