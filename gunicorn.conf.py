"""Production serving: `gunicorn 'finder:create_app()'` picks this file up from the working directory.

Sized for a 2-core host, and measured with benchmarks/load.py (60,000 listings;
figures in benchmarks/README.md). Search is CPU-bound Python (the GIL), so one
worker process per core does the work; two threads per worker overlap the short
waits on the store and keep a slow request from holding up the connection
behind it. More threads or workers than that only queue inside Python and
raise the p99.

Each worker warms up before it takes requests (opens the index and the
gazetteer, counts the listings for the about page) and then moves everything it
loaded out of the garbage collector's way (gc.freeze): otherwise full
collections walking the start-up objects stall a request for up to 0.1 s.
Environment: FINDER_BIND, FINDER_WORKERS, FINDER_THREADS, FINDER_LOG_LEVEL,
FINDER_FORWARDED_ALLOW_IPS.
"""

import gc
import multiprocessing
import os

bind = os.environ.get("FINDER_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("FINDER_WORKERS", multiprocessing.cpu_count()))
worker_class = os.environ.get("FINDER_WORKER_CLASS", "gthread")
threads = int(os.environ.get("FINDER_THREADS", 2))
# Each worker opens the index itself (warm-up below) and reopens it when the
# "current" pointer changes, so no preload: a fork never shares an open index.
preload_app = False
timeout = 30
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then to bound memory, but rarely: a new worker costs
# about a second of warm-up. The caches are bounded, and memory stays flat
# under load (benchmarks/README.md), so this is only a safety net.
max_requests = 100_000
max_requests_jitter = 10_000
# Request logs come from the app as structured JSON lines (finder.web.requestlog);
# gunicorn's own access log would duplicate them (and would include query strings).
accesslog = None
errorlog = "-"
# gunicorn's own messages about malformed requests name the client's address and
# quote the request; this logger keeps the fact and drops those details.
logger_class = "finder.web.serverlog.PrivateLogger"
# gunicorn >= 25 opens a control socket at one fixed path per user; several
# servers on one host (tests, two sites) would take it from each other.
control_socket_disable = True
loglevel = os.environ.get("FINDER_LOG_LEVEL", "info")
forwarded_allow_ips = os.environ.get("FINDER_FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_worker_init(worker):  # type: ignore[no-untyped-def]
    """Warm the new worker, then freeze its start-up objects out of the garbage collector's way."""
    from finder.web.health import warm_up

    try:
        warm_up(worker.wsgi)
    except Exception:  # a worker that cannot warm up still serves (and /readyz says what is missing)
        worker.log.exception("warm-up failed")
    gc.collect()
    gc.freeze()
