"""Production serving: `gunicorn 'finder:create_app()'` picks this file up from the working directory.

Sized for a 2-core host. Search is CPU-bound Python (the GIL), so one worker
process per core does the work; two threads per worker overlap the short
waits on the store. Workers are recycled now and then to bound memory.
"""

import multiprocessing
import os

bind = os.environ.get("FINDER_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("FINDER_WORKERS", multiprocessing.cpu_count()))
worker_class = "gthread"
threads = int(os.environ.get("FINDER_THREADS", 2))
# Each worker opens the index lazily on its first search and reopens it when the
# "current" pointer changes, so no preload: a fork never shares an open index.
preload_app = False
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 5000
max_requests_jitter = 500
# Request logs come from the app as structured JSON lines (finder.web); gunicorn's
# own access log would duplicate them.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("FINDER_LOG_LEVEL", "info")
forwarded_allow_ips = os.environ.get("FINDER_FORWARDED_ALLOW_IPS", "127.0.0.1")
