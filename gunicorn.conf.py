"""Gunicorn's settings: gunicorn reads this file from its working directory by itself.

    gunicorn config.wsgi                      # what `deploy/entrypoint.sh web` runs

The environment may change what differs between machines:
    GUNICORN_BIND        where to listen (default 127.0.0.1:8000; the container's 0.0.0.0:8000)
    WEB_CONCURRENCY      worker processes (default: two per core, at least 2)
    GUNICORN_THREADS     threads per worker (default: DATABASE_POOL_MAX + 4)
    GUNICORN_TIMEOUT     seconds a request may take before its worker is replaced (default 30)
    FORWARDED_ALLOW_IPS  the proxy's addresses, whose X-Forwarded-Proto gunicorn believes
                         (gunicorn reads it itself; the client's address is config/clientip.py's)
"""

import os

bind = [address.strip() for address in os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")]
workers = int(os.environ.get("WEB_CONCURRENCY") or max(2, 2 * (os.cpu_count() or 1)))
# Threaded workers with more threads than the process's pooled database connections: when
# PostgreSQL stops answering, the requests holding a connection hang, but the others still have
# a thread: /healthz and pages from the cache keep answering, and a request waiting for a
# connection gets its 503 page after DATABASE_POOL_TIMEOUT. A request that hangs is ended for
# its client by the proxy's read timeout (deploy/nginx/proxy.conf); its thread is freed when the
# database answers or its connection breaks.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS") or int(os.environ.get("DATABASE_POOL_MAX") or 10) + 4)
# A worker whose main loop stops (not a slow request: its threads run on) is replaced after this.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# On SIGTERM (a stop or a rolling restart) the listening socket closes at once and the requests
# in flight get this long to finish.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
# Workers are replaced now and then, which bounds any slow growth of their memory.
max_requests = 2000
max_requests_jitter = 200
# Access and error logs go to standard output and error, for the container engine or journald.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(h)s "%({x-forwarded-for}i)s" %(t)s "%(r)s" %(s)s %(b)s %(M)sms %({x-request-id}o)s'
# The workers' heartbeat files in memory rather than on a container's layered file system.
if os.path.isdir("/dev/shm"):  # noqa: S108 - gunicorn's own advice for containers
    worker_tmp_dir = "/dev/shm"  # noqa: S108
# Gunicorn's control socket is in the home directory by default: several web processes of one
# user would share it. The site is controlled by signals (TERM, HUP) instead.
control_socket_disable = True


# Prometheus metrics of several workers (config/metrics.py): each writes its values to files in
# PROMETHEUS_MULTIPROC_DIR, which must be empty when the server starts, and a worker that exits
# leaves its live gauges behind unless marked dead.
def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.remove(os.path.join(directory, name))


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
