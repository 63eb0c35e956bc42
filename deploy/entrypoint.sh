#!/bin/sh
# Every process of the site starts here, in the container (deploy/Dockerfile), under systemd
# (deploy/systemd/) and in the topology test alike:
#
#   entrypoint.sh web      gunicorn (settings in gunicorn.conf.py at the root)
#   entrypoint.sh worker   a Celery worker (background tasks)
#   entrypoint.sh beat     Celery beat (the periodic tasks); a second one stands by, sending nothing
#   entrypoint.sh migrate  apply the database migrations, then exit
#   entrypoint.sh manage ARGS...   any management command (createeditor, load_real_data, ...)
#   entrypoint.sh probe [PATH]     exit 0 if the local web process answers PATH (/readyz) with 200
#
# Extra arguments go to the program. Settings come from the environment (config/settings.py);
# a secret may come from a file instead: SECRET_KEY_FILE=/run/secrets/secret_key.
#   PYTHON              the interpreter with the site's requirements (default: python on PATH)
#   BEAT_SCHEDULE_FILE  where beat keeps its last run times (default: /tmp/celerybeat-schedule)
#   WORKER_CONCURRENCY  worker processes (default: one per core)
set -eu

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
command=${1:-}
[ $# -gt 0 ] && shift

case "$command" in
  web)
    exec "$PYTHON" -m gunicorn config.wsgi "$@"
    ;;
  worker)
    set -- --loglevel "${LOG_LEVEL:-INFO}" ${WORKER_CONCURRENCY:+--concurrency "$WORKER_CONCURRENCY"} "$@"
    exec "$PYTHON" -m celery -A config worker "$@"
    ;;
  beat)
    exec "$PYTHON" -m celery -A config beat --loglevel "${LOG_LEVEL:-INFO}" \
      --schedule "${BEAT_SCHEDULE_FILE:-/tmp/celerybeat-schedule}" "$@"
    ;;
  migrate)
    exec "$PYTHON" manage.py migrate --noinput "$@"
    ;;
  manage)
    exec "$PYTHON" manage.py "$@"
    ;;
  probe)
    exec "$PYTHON" - "${1:-/readyz}" <<'PROBE'
import os, sys, urllib.request
# The Host header must be one the site accepts: the first of ALLOWED_HOSTS.
host = os.environ.get("ALLOWED_HOSTS", "127.0.0.1").split(",")[0].strip() or "127.0.0.1"
port = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")[0].rsplit(":", 1)[-1]
request = urllib.request.Request(f"http://127.0.0.1:{port}{sys.argv[1]}", headers={"Host": host})
try:
    with urllib.request.urlopen(request, timeout=5) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception as exc:
    print(f"probe {sys.argv[1]}: {exc}", file=sys.stderr)
    sys.exit(1)
PROBE
    ;;
  *)
    echo "usage: $0 web | worker | beat | migrate | manage ARGS... | probe [PATH]" >&2
    exit 64
    ;;
esac
