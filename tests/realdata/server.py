"""Real payloads served from 127.0.0.1, shaped like the feed's own API.

A tiny threaded HTTP server answering from a table of routes. Tests put the
real files published by others (``../shared/real-data``) behind the paths the
real API uses, then run the real ``finder`` command against it. Anything not
in the table is a 404, as on a real API that lacks an endpoint, and every
request is recorded so a test can say which pages were asked for.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

REAL_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "real-data"

#: A route answers (status, body, content type); it may look at the query.
Answer = tuple[int, bytes, str]
Route = Callable[[dict[str, str]], Answer]


def real_data(*parts: str) -> Path:
    """A path under ../shared/real-data, or skip the test saying why."""
    path = REAL_DATA.joinpath(*parts).resolve()
    if not path.exists():
        pytest.skip(f"real data not found at {path}: these conformance tests need ../shared/real-data (CI has it)")
    return path


def json_answer(body: Any, status: int = 200) -> Answer:
    data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
    return status, data, "application/json"


def file_answer(path: Path, content_type: str = "application/json") -> Route:
    data = path.read_bytes()
    return lambda query: (200, data, content_type)


@dataclass
class FeedServer:
    """Routes by path (``/services``); ``requests`` lists every path and query asked for."""

    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    base: str = ""

    def add(self, path: str, route: Route | Answer) -> None:
        self.routes[path] = route if callable(route) else (lambda query, answer=route: answer)  # type: ignore[misc]

    def asked(self, prefix: str) -> list[str]:
        return [r for r in self.requests if r.startswith(prefix)]


@contextmanager
def serve(feed: FeedServer) -> Iterator[FeedServer]:
    """Run the server on a free port of 127.0.0.1 for the duration of the block."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            parts = urlsplit(self.path)
            feed.requests.append(self.path)
            if parts.path == "/robots.txt":
                answer: Answer = (200, b"User-agent: *\nDisallow:\n", "text/plain")
            else:
                route = feed.routes.get(parts.path.rstrip("/") or "/")
                query = dict(parse_qsl(parts.query))
                answer = route(query) if route else json_answer({"error": "Not Found"}, 404)
            status, body, content_type = answer
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet test output
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    feed.base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield feed
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
