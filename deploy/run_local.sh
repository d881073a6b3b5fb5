#!/usr/bin/env bash
# `make run`: the local stack. The web server (HTTP + WebSocket); unless BLAND_API_KEY is set, the bundled
# Bland simulator, so a first call completes with no key and no internet; and when tasks go to a broker
# (REDIS_URL), a Celery worker and beat. Each process is one `start NAME COMMAND...` block below, its
# output prefixed with [NAME]; when any of them exits, the others are stopped and the script says which.
# Runs on bash 3.2 (macOS) too.
set -euo pipefail
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
PY=${PY:-.venv/bin/python}
RUN_DIR=${RUN_DIR:-.run}  # files the processes keep between runs (beat's schedule)
export DEBUG=${DEBUG:-true}
LOCAL_HOST=$HOST
if [[ $HOST == 0.0.0.0 || $HOST == "::" ]]; then LOCAL_HOST=127.0.0.1; fi
export PUBLIC_BASE_URL=${PUBLIC_BASE_URL:-http://$LOCAL_HOST:$PORT}
mkdir -p "$RUN_DIR"

PIDS=()
NAMES=()
start() {  # start NAME COMMAND...: run COMMAND in the background, each output line prefixed with [NAME]
  local name=$1
  shift
  "$@" > >(awk -v p="[$name] " '{ print p $0; fflush() }') 2>&1 &
  PIDS+=("$!")
  NAMES+=("$name")
}
stop() {
  trap - EXIT INT TERM
  local pid
  for pid in ${PIDS[@]+"${PIDS[@]}"}; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {  # the port given if it can be bound on 127.0.0.1, else one the OS picks
  "$PY" - "$1" <<'EOF'
import socket, sys
for port in (int(sys.argv[1]), 0):
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is free
        try:
            sock.bind(("127.0.0.1", port))
        except (OSError, OverflowError):
            continue
        print(sock.getsockname()[1])
        break
EOF
}

# Settings decide, as they do for the server: tasks go to a broker unless they run in-process.
TASKS=$("$PY" -c 'import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
from django.conf import settings
from kombu.utils.url import maybe_sanitize_url
print("in-process" if settings.CELERY_TASK_ALWAYS_EAGER else maybe_sanitize_url(settings.CELERY_BROKER_URL))')

# --- the Bland simulator: its port follows PORT (8000 -> 8765), or is a free one, so checkouts never share one
if [[ -z ${BLAND_API_KEY:-} ]]; then
  SIM_PORT=${SIM_PORT:-$(free_port $((PORT + 765)))}
  export BLAND_BASE_URL=${BLAND_BASE_URL:-http://127.0.0.1:$SIM_PORT}
  start simulator "$PY" manage.py bland_simulator --port "$SIM_PORT"
  PROVIDER="Bland simulator on $BLAND_BASE_URL (SIM_PORT; set BLAND_API_KEY to place real calls)"
else
  PROVIDER="Bland AI at ${BLAND_BASE_URL:-https://api.bland.ai}: real calls"
fi

# --- the Sheets emulator: the call log, unless SHEETS_CREDENTIALS points at Google. Its port follows PORT
# (8000 -> 8766) or is a free one; spreadsheets and keys are kept in $RUN_DIR between runs. The web server
# and the workers get its endpoint, a service-account key it issued and the operations spreadsheet.
if [[ -z ${SHEETS_CREDENTIALS:-} ]]; then
  SHEETS_PORT=${SHEETS_PORT:-$(free_port $((PORT + 766)))}
  SHEETS_URL=http://127.0.0.1:$SHEETS_PORT
  start sheets "$PY" manage.py sheets_emulator --port "$SHEETS_PORT" --file "$RUN_DIR/sheets-emulator.json"
  export SHEETS_OPERATIONS_SPREADSHEET_ID=${SHEETS_OPERATIONS_SPREADSHEET_ID:-operations}
  "$PY" -m sheets_sync.emulator.local "$SHEETS_URL" "$RUN_DIR/sheets-service-account.json" \
    "$SHEETS_OPERATIONS_SPREADSHEET_ID"
  export SHEETS_API_ENDPOINT=$SHEETS_URL/
  SHEETS_CREDENTIALS=$RUN_DIR/sheets-service-account.json
  if [[ $RUN_DIR != /* ]]; then SHEETS_CREDENTIALS=$PWD/$SHEETS_CREDENTIALS; fi
  export SHEETS_CREDENTIALS
  SHEETS="Sheets emulator: $SHEETS_URL/ (live call log)"
else
  SHEETS="Call log: Google Sheets at ${SHEETS_API_ENDPOINT:-https://sheets.googleapis.com/}, spreadsheet ${SHEETS_OPERATIONS_SPREADSHEET_ID:-(unset)}"
fi

# --- Celery: a worker runs webhooks and recording downloads, beat the periodic tasks (the poller every
# minute, so calls end even when their webhooks are lost). Without a broker, beat runs them in its process.
if [[ $TASKS != in-process ]]; then
  start worker "$PY" -m celery -A config worker --loglevel INFO --concurrency "${CELERY_CONCURRENCY:-2}"
  start beat "$PY" -m celery -A config beat --loglevel INFO --schedule "$RUN_DIR/celerybeat-schedule"
  TASKS="Celery worker and beat on $TASKS"
else
  start beat "$PY" -m celery -A config beat --loglevel INFO --schedule "$RUN_DIR/celerybeat-schedule"
  TASKS="in-process, periodic ones (the poller) by Celery beat (set REDIS_URL for a Celery worker)"
fi

# --- the web server
start web "$PY" manage.py runserver "$HOST:$PORT"

echo "callmcp on http://$LOCAL_HOST:$PORT/ (start here: the MCP endpoint, a client config and links)"
echo "  MCP: http://$LOCAL_HOST:$PORT/api/v1/mcp and ws://$LOCAL_HOST:$PORT/mcp  docs: /api/docs/  admin: /admin/"
echo "  Phone provider: $PROVIDER"
echo "  Tasks: $TASKS"
echo "  $SHEETS"

while true; do  # until one process exits (bash 3.2 has no `wait -n`)
  for i in "${!PIDS[@]}"; do
    if ! kill -0 "${PIDS[$i]}" 2>/dev/null; then
      status=0
      wait "${PIDS[$i]}" || status=$?
      echo "run_local: ${NAMES[$i]} exited (status $status); stopping the others." >&2
      exit 1
    fi
  done
  sleep 1
done
