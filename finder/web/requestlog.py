"""Structured logs: one JSON line per request, and JSON for the app's own log records.

What a request line holds, and what it never holds:

* ``method``, ``path`` (WITHOUT the query string), ``route`` (the URL rule, e.g.
  ``/practitioners/<int:practitioner_id>``), ``status``, ``duration_ms``,
  ``bytes`` (response body size), ``request_id`` and the worker's ``pid``;
* never the query string (search terms and postcodes can be health
  information or point at someone's home), the client address, the
  User-Agent, cookies or the Referer: none of them is needed to run the site,
  and UK GDPR asks us not to keep personal data we do not need.

The request id comes from the client's ``X-Request-ID`` when it is a plain
token (a proxy or load balancer usually sets one), otherwise a new one is made;
either way it is echoed in the response's ``X-Request-ID`` header and added to
every log record written while the request runs, so a user's error report can
be matched with the server's log.

Level: ``LOG_LEVEL`` (env ``FINDER_LOG_LEVEL``, default ``info``). Health checks
are logged at ``debug`` (a load balancer asks every few seconds), 5xx answers at
``warning``, everything else at ``info``.

Where the lines go: when nothing has set Python logging up (gunicorn, which
leaves the root logger alone), our loggers write JSON lines to stderr. When the
host has (the ``finder`` command's ``-v``, an operator's logging config, the
test runner), records go to its handlers and only the request log's level is
ours.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import traceback
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request

log = logging.getLogger("finder.requests")

#: Incoming ids we accept as they are: short, printable, no spaces or quotes
#: (anything else could forge log lines or break a log pipeline's parser).
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
HEADER = "X-Request-ID"
#: Paths logged at debug level: probes from load balancers and orchestrators.
QUIET_PATHS = frozenset({"/healthz", "/readyz"})
#: Loggers whose records go through our JSON handler when we set up logging.
OUR_LOGGERS = ("finder", "scrapers", "flask-limiter")
_HANDLER_MARK = "_finder_json_handler"
_FACTORY_MARK = "_finder_request_id_factory"
#: Longest path we write (a path is chosen by the client; a 100 kB one is not worth keeping).
MAX_PATH = 300


def request_id() -> str | None:
    """The current request's id (None outside a request)."""
    if not has_request_context():
        return None
    return g.get("request_id")


def install_request_id_factory() -> None:
    """Give every log record written during a request its ``request_id`` (once per process).

    A record factory rather than a logger filter: filters on a logger do not see
    records from its children (``finder.web.errors``), and the operator's or the
    test runner's handlers should get the id too.
    """
    previous = logging.getLogRecordFactory()
    if getattr(previous, _FACTORY_MARK, False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = request_id()
        return record

    setattr(factory, _FACTORY_MARK, True)
    logging.setLogRecordFactory(factory)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, and any ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        else:
            entry["message"] = record.getMessage()
        rid = getattr(record, "request_id", None)
        if rid and "request_id" not in entry:
            entry["request_id"] = rid
        if record.exc_info:
            entry["error"] = "".join(traceback.format_exception_only(*record.exc_info[:2])).strip()
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (a test runner may swap it)."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(app: Flask) -> None:
    """Set our loggers' level; send them to stderr as JSON unless the host set logging up.

    Under gunicorn (which leaves the root logger alone) and ``finder serve`` our
    records go to stderr as JSON lines. When the root logger already has a
    handler (an operator's logging config, or the test runner) we only set the
    level and let records propagate there.
    """
    level = logging.getLevelName(str(app.config.get("LOG_LEVEL") or "info").upper())
    if not isinstance(level, int):
        raise ValueError(
            f"LOG_LEVEL '{app.config.get('LOG_LEVEL')}' is not a log level: use debug, info, warning or error"
        )
    # Flask-Limiter logs each breach at info level with the client's address: personal
    # data we do not keep, so its logger stays at warning (storage problems) or above.
    logging.getLogger("flask-limiter").setLevel(max(level, logging.WARNING))
    log.setLevel(level)
    if app.testing or logging.getLogger().handlers:
        # The host set logging up (the `finder` command's -v, an operator's config, the test
        # runner): its levels stand for everything but our request lines.
        return
    for name in OUR_LOGGERS:
        if name != "flask-limiter":
            logging.getLogger(name).setLevel(level)
    from flask.logging import default_handler

    handler: logging.Handler | None = next(
        (h for h in logging.getLogger("finder").handlers if getattr(h, _HANDLER_MARK, False)), None
    )
    if handler is None:
        handler = _StderrHandler()
        handler.setFormatter(JsonFormatter())
        setattr(handler, _HANDLER_MARK, True)
    for name in OUR_LOGGERS:
        logger = logging.getLogger(name)
        logger.removeHandler(default_handler)  # Flask's plain-text handler would print each record twice
        if handler not in logger.handlers:
            logger.addHandler(handler)
        logger.propagate = False


def _clean_path(path: str) -> str:
    return path if len(path) <= MAX_PATH else path[: MAX_PATH - 3] + "..."


def _incoming_id() -> str:
    offered = request.headers.get(HEADER, "")
    if offered and REQUEST_ID.match(offered):
        return offered
    return uuid.uuid4().hex


def _response_size(response: Response) -> int:
    if request.method == "HEAD" or response.status_code in (204, 304):
        return 0
    if response.content_length is not None:
        return int(response.content_length)
    if response.is_sequence:
        return len(response.get_data())
    return 0  # a stream: its size is not known until it has been sent


def request_fields(response: Response, started: float) -> dict[str, Any]:
    """The JSON fields of one request line (no query string, no client data)."""
    rule = request.url_rule.rule if request.url_rule is not None else None
    return {
        "event": "request",
        "method": request.method,
        "path": _clean_path(request.path),
        "route": rule,
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        "bytes": _response_size(response),
        "request_id": g.get("request_id"),
        "pid": os.getpid(),
    }


def init_app(app: Flask) -> None:
    """Set up logging, and the hooks that time, identify and log every request."""
    configure_logging(app)
    install_request_id_factory()

    def start() -> None:
        g.request_started = time.perf_counter()
        g.request_id = _incoming_id()

    def finish(response: Response) -> Response:
        started = g.get("request_started")
        if started is None:  # a request context pushed without our before-request (should not happen)
            return response
        response.headers[HEADER] = g.request_id
        fields = request_fields(response, started)
        if request.path in QUIET_PATHS:
            level = logging.DEBUG
        elif response.status_code >= 500:
            level = logging.WARNING
        else:
            level = logging.INFO
        if log.isEnabledFor(level):
            log.log(
                level,
                "%s %s %s %.1fms",
                fields["method"],
                fields["path"],
                fields["status"],
                fields["duration_ms"],
                extra={"fields": fields},
            )
        return response

    # First before-request and last after-request hook (Flask runs after-request
    # hooks in reverse order), so the timing covers the rate limit check and the
    # logged status is the final one (a 304 from the ETag check, a 429).
    app.before_request_funcs.setdefault(None, []).insert(0, start)
    app.after_request_funcs.setdefault(None, []).insert(0, finish)
