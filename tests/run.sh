#!/usr/bin/env bash
# `make test`: the whole suite. With PostgreSQL and Redis, and no test selection given, it runs in four
# pytest processes at once, each with its own test database and Redis database, so the run takes about as
# long as the longest of them. Much of the suite waits rather than computes (subprocesses starting, the
# simulator's clock, quota windows, an outage), so on two cores four processes finish well before one:
#   once:   the Sheets exactly-once test (2,000 calls, 10,000 changes, ambiguous write answers);
#   system: the other Sheets system tests (long waits on quota windows, an outage and a drain);
#   calls:  tests/calls (campaigns, the poller's runners and its 500-call end-to-end run, live events);
#   main:   everything else.
# On a 2-core machine where one process took 20.8 min, the three took 9.4 (main), 13.4 (calls) and 13.2
# (system) minutes; on a faster one, 7.0 (main), 8.8 (calls) and 11.1 (system: its waits are clocks, not
# CPU). tests/config (real `make run`, Celery, SQLite writers) runs in main to even them out. With the Sheets
# system tests in one process (main 6.8, calls 8.5, system 10.8 min) the machine was about half idle (user+sys
# CPU 10.9 min over 10.9 min of wall on 2 cores), so the exactly-once test now has a process of its own.
# Otherwise one process.
set -uo pipefail
PY=${PY:-.venv/bin/python}
PROCESSES=("once:tests/sheets/system/test_exactly_once.py"
           "system:tests/sheets/system/test_faults.py tests/sheets/system/test_quota.py tests/sheets/system/test_fairness.py"
           "calls:tests/calls")

if [[ $# -gt 0 || ! "${DATABASE_URL:-}" =~ ^postgres(ql)?://[^?]+/[A-Za-z0-9_]+$ \
      || ! "${REDIS_URL:-}" =~ ^(redis://[^?]+/)([0-9]+)$ ]]; then
  exec "$PY" -m pytest "$@"
fi
redis_base=${BASH_REMATCH[1]} redis_db=${BASH_REMATCH[2]}
logs=() pids=() names=() ignored=()
trap 'rm -f "${logs[@]}"' EXIT

for n in "${!PROCESSES[@]}"; do
  name=${PROCESSES[$n]%%:*} paths=${PROCESSES[$n]#*:}
  redis="$redis_base$(( (redis_db + n + 1) % 16 ))"
  log=$(mktemp)
  echo "tests: $paths in a process of its own (database ${DATABASE_URL##*/}_$name, Redis $redis); its report follows the main one"
  # shellcheck disable=SC2086 # the group's paths are words
  DATABASE_URL="${DATABASE_URL}_$name" REDIS_URL="$redis" "$PY" -m pytest $paths >"$log" 2>&1 &
  pids+=("$!") logs+=("$log") names+=("$paths")
  for path in $paths; do ignored+=("--ignore=$path"); done
done
"$PY" -m pytest "${ignored[@]}"
status=$?
summary="main exit $status"
for n in "${!pids[@]}"; do
  wait "${pids[$n]}"
  group_status=$?
  echo "== ${names[$n]}"
  cat "${logs[$n]}"
  summary+=", ${names[$n]} exit $group_status"
  (( group_status == 0 )) || status=$group_status
done
echo "tests: $summary"
exit "$status"
