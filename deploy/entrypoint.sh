#!/bin/sh
# The container image's one entrypoint: `entrypoint.sh ROLE [extra arguments]`, or the role in
# CALLMCP_ROLE. Each role replaces this shell (exec), so signals from ECS or Lambda reach the process.
#
#   web           uvicorn serving config.asgi (HTTP + WebSocket) on $PORT (8000)
#   worker        a Celery worker ($CELERY_CONCURRENCY processes, queues $CELERY_QUEUES if set)
#   beat          the Celery beat scheduler (run exactly one)
#   migrate       manage.py migrate (the one-off ECS task of a deploy)
#   collectstatic manage.py collectstatic to the static bucket (a one-off task)
#   poller        the Lambda handler deploy/lambda/handler.py under the runtime interface client;
#                 outside Lambda (no AWS_LAMBDA_RUNTIME_API) under aws-lambda-rie when it is on PATH
#   manage        any manage.py command: `entrypoint.sh manage createsuperuser`
#   healthcheck   exit 0 when the role in CALLMCP_ROLE is healthy (Docker HEALTHCHECK, ECS health check)
set -eu

APP_DIR=${APP_DIR:-/app}
role=${1:-${CALLMCP_ROLE:-}}
[ $# -gt 0 ] && shift

usage() {
  echo "usage: entrypoint.sh web|worker|beat|migrate|collectstatic|poller|manage|healthcheck [arguments]" >&2
  echo "       (or set CALLMCP_ROLE); got: '${role}'" >&2
  exit 64
}

healthcheck() {
  case "${CALLMCP_ROLE:-web}" in
    web)
      exec python -c "import os, sys, urllib.request
port = os.environ.get('PORT', '8000')
try:
    sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status == 200 else 1)
except Exception as exc:
    print(f'healthz: {exc}', file=sys.stderr)
    sys.exit(1)" ;;
    worker)
      exec celery -A config --quiet inspect ping --timeout 5 --destination "celery@$(hostname)" ;;
    beat)
      # beat rewrites its schedule file at least every beat_max_loop_interval (5 min); older means stuck
      schedule=${CELERY_BEAT_SCHEDULE:-/tmp/celerybeat-schedule}
      [ -n "$(find "$schedule" -mmin -10 2>/dev/null)" ] || { echo "beat: $schedule not written for 10 min" >&2; exit 1; } ;;
    *) exit 0 ;;
  esac
}

cd "$APP_DIR"
case "$role" in
  web)
    exec uvicorn config.asgi:application --host 0.0.0.0 --port "${PORT:-8000}" \
      --proxy-headers --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-*}" \
      --timeout-keep-alive "${WEB_KEEPALIVE_SECONDS:-310}" --ws-ping-interval 20 --no-access-log "$@" ;;
  worker)
    if [ -n "${CELERY_QUEUES:-}" ]; then set -- --queues "$CELERY_QUEUES" "$@"; fi
    exec celery -A config --quiet worker --loglevel "${LOG_LEVEL:-INFO}" \
      --concurrency "${CELERY_CONCURRENCY:-2}" --hostname "celery@$(hostname)" "$@" ;;
  beat)
    exec celery -A config --quiet beat --loglevel "${LOG_LEVEL:-INFO}" \
      --schedule "${CELERY_BEAT_SCHEDULE:-/tmp/celerybeat-schedule}" "$@" ;;
  migrate)
    exec python manage.py migrate --noinput "$@" ;;
  collectstatic)
    exec python manage.py collectstatic --noinput "$@" ;;
  poller)
    cd "$APP_DIR/deploy/lambda"
    if [ -z "${AWS_LAMBDA_RUNTIME_API:-}" ] && command -v aws-lambda-rie >/dev/null 2>&1; then
      exec aws-lambda-rie python -m awslambdaric handler.handler "$@"
    fi
    exec python -m awslambdaric handler.handler "$@" ;;
  manage)
    exec python manage.py "$@" ;;
  healthcheck)
    healthcheck ;;
  *)
    usage ;;
esac
