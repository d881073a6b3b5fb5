#!/usr/bin/env bash
# `make test`: the whole suite. With PostgreSQL and Redis, and no test selection given, it runs in two
# pytest processes at once, each with its own test database and Redis database: the Sheets system tests
# (tests/sheets/system: a few long tests that mostly wait on quota windows, an outage and a drain) beside
# everything else, so the run takes about as long as the longer of the two. Otherwise one process.
set -uo pipefail
PY=${PY:-.venv/bin/python}
SYSTEM=tests/sheets/system

if [[ $# -gt 0 || ! "${DATABASE_URL:-}" =~ ^postgres(ql)?://[^?]+/[A-Za-z0-9_]+$ \
      || ! "${REDIS_URL:-}" =~ ^(redis://[^?]+/)([0-9]+)$ ]]; then
  exec "$PY" -m pytest "$@"
fi
system_redis="${BASH_REMATCH[1]}$(( (BASH_REMATCH[2] + 1) % 16 ))"
system_log=$(mktemp)
trap 'rm -f "$system_log"' EXIT

echo "tests: $SYSTEM in a second process (database ${DATABASE_URL##*/}_system, Redis $system_redis); its report follows the main one"
DATABASE_URL="${DATABASE_URL}_system" REDIS_URL="$system_redis" "$PY" -m pytest "$SYSTEM" >"$system_log" 2>&1 &
system_pid=$!
"$PY" -m pytest --ignore="$SYSTEM"
main_status=$?
wait "$system_pid"
system_status=$?
echo "== $SYSTEM"
cat "$system_log"
echo "tests: main exit $main_status, $SYSTEM exit $system_status"
[[ $main_status -eq 0 && $system_status -eq 0 ]]
