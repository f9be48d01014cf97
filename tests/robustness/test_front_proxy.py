"""deploy/run-local.sh: nginx (deploy/nginx/finder.conf) in front of gunicorn, as production runs.

The slow-client attack is the one from benchmarks/slow_clients.py: bare
gunicorn (2 gthread workers x 2 threads) answered none of the normal requests
under 20 slow connections; behind nginx they keep their usual latency.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from benchmarks.slow_clients import attack
from tests.robustness.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
RUN_LOCAL = ROOT / "deploy" / "run-local.sh"
NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(NGINX).exists(), reason=f"nginx is not installed at {NGINX} (apt-get install nginx)"),
]


@dataclass
class Stack:
    process: subprocess.Popen[str]
    url: str
    port: int
    run_dir: Path
    output: list[str]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(30)
        finally:
            if self.process.stdout is not None:
                self.process.stdout.close()


def start_stack(site: Any, run_dir: Path, **extra_env: str) -> Stack:
    config = site.app.config
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINDER_")}
    env.update(
        VIRTUAL_ENV=str(Path(sys.executable).parent.parent),
        NGINX=NGINX,
        FINDER_INSTANCE_PATH=config["INSTANCE_PATH"],
        FINDER_DATABASE_URL=config["DATABASE_URL"],
        FINDER_INDEX_DIR=config["INDEX_DIR"],
        FINDER_GAZETTEER_PATH=config["GAZETTEER_PATH"],
        FINDER_PORT=str(port),
        FINDER_RUN_DIR=str(run_dir),
        FINDER_WORKERS="2",
        **extra_env,
    )
    process = subprocess.Popen(
        ["bash", str(RUN_LOCAL)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )
    output: list[str] = []
    ready = threading.Event()
    found: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            match = re.search(r"running at (http://127\.0\.0\.1:\d+)", line)
            if match:
                found.append(match.group(1))
                ready.set()
        ready.set()

    threading.Thread(target=read, name="run-local-output", daemon=True).start()
    if not ready.wait(120) or not found:
        process.kill()
        pytest.fail("deploy/run-local.sh did not print its URL:\n" + "".join(output))
    return Stack(process=process, url=found[0], port=port, run_dir=run_dir, output=output)


@pytest.fixture(scope="module")
def stack(web_site: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = start_stack(web_site, tmp_path_factory.mktemp("run-local"))
    yield running
    running.stop()


def request(stack: Stack, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def test_prints_its_url_and_serves_the_site(stack: Stack) -> None:
    assert stack.url == f"http://127.0.0.1:{stack.port}"
    status, _, body = request(stack, "GET", "/search?near=LS6&q=multiple+sclerosis")
    assert status == 200 and b"Alice Neuro" in body


@pytest.mark.solo
def test_slow_clients_do_not_starve_normal_requests(stack: Stack, web_site: Any) -> None:
    paths = ["/", "/search?near=LS6&q=multiple+sclerosis", f"/practitioners/{web_site.ids['Alice']}"]
    quiet = attack(stack.url, paths, connections=0, duration=8, interval=0.1)
    report = attack(stack.url, paths, connections=20, duration=30, interval=0.1)
    summary = f"under attack: {report.summary()}; without: {quiet.summary()}"
    print(summary)
    assert quiet.failures == [] and report.failures == [], summary
    assert report.requests >= 100, summary
    # The bound is 200 ms. On a CPU shared with other work (xdist's other worker, other jobs) the
    # same requests can take longer with no attack at all (a quiet p99 of 342 ms was seen with the
    # whole suite running on a busy 2-core VM): then the attack may at most double what this
    # machine managed a moment before (three times: the other worker's load also changes between
    # the 8 s quiet sample and the 30 s attack; a quiet 99 ms and an attacked 297 ms were seen in CI
    # with a browser test starting alongside). Starvation itself shows as timeouts (failures),
    # above: bare gunicorn answered none of the normal requests under this attack. The figure on
    # a quiet machine comes from benchmarks/slow_clients.py.
    bound = max(200.0, 3 * quiet.percentile(0.99))
    assert report.percentile(0.99) <= bound, summary
    # nginx, not patience, ended them: each slow connection was cut after client_header_timeout.
    assert report.slow_dropped_by_server >= 20, report.summary()


def test_nginx_compresses_and_revalidates_pages_the_app_left_plain(stack: Stack) -> None:
    import gzip

    path = "/search?near=LS6&q=multiple+sclerosis"
    plain_status, plain_headers, plain = request(stack, "GET", path)
    assert plain_status == 200 and "Content-Encoding" not in plain_headers
    status, headers, body = request(stack, "GET", path, headers={"Accept-Encoding": "gzip, br"})
    # gzip, not br: nginx compressed it (the app, which would choose br, is told not to here).
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in headers["Vary"]
    assert gzip.decompress(body) == plain and len(body) < len(plain) / 3
    etag = headers["ETag"]
    assert etag.startswith("W/") and etag[2:] == plain_headers["ETag"]  # weakened by nginx, same validator
    status, _, body = request(stack, "GET", path, headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert status == 304 and body == b""
    # JSON too (the ORUK feed: the /api/v1 budget belongs to the rate-limit test below).
    status, headers, _ = request(stack, "GET", "/oruk/services?per_page=50", headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"


def test_static_files_come_from_nginx_with_long_cache_headers(stack: Stack) -> None:
    status, headers, body = request(stack, "GET", "/static/site.css")
    assert status == 200 and body
    assert headers.get_all("Cache-Control") == ["public, max-age=604800"]
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_request_id_passes_through_and_is_made_when_missing(stack: Stack) -> None:
    _, headers, _ = request(stack, "GET", "/about", headers={"X-Request-ID": "lb-request-0001"})
    assert headers["X-Request-ID"] == "lb-request-0001"
    _, headers, _ = request(stack, "GET", "/about")
    assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-ID"])  # nginx's $request_id


def test_oversized_bodies_and_headers_are_refused_by_nginx(stack: Stack) -> None:
    status, _, _ = request(stack, "POST", "/search", body=b"x" * 64_000, headers={"Content-Type": "text/plain"})
    assert status == 413
    status, _, _ = request(stack, "GET", "/about", headers={"X-Big": "a" * 20_000})
    assert status in (400, 431, 494)


def test_the_api_budget_is_one_count_for_all_workers(stack: Stack) -> None:
    """nginx counts the API budget once per address (burst 60, then 1 a second), whichever worker answers."""
    started = time.monotonic()
    statuses: list[int] = []
    refused: list[tuple[http.client.HTTPMessage, bytes]] = []
    for _ in range(130):
        status, headers, body = request(stack, "GET", "/api/v1/vocabularies")
        statuses.append(status)
        if status == 429:
            refused.append((headers, body))
    elapsed = time.monotonic() - started
    allowed = statuses.count(200)
    assert set(statuses) <= {200, 429}
    # Per-worker counting let 2 x 120 through; one shared count lets 61 through, plus one a second.
    assert 61 <= allowed <= 61 + int(elapsed) + 1, (allowed, elapsed)
    headers, body = refused[0]
    assert headers["Content-Type"] == "application/problem+json"
    assert headers["Retry-After"] == "1"
    assert json.loads(body)["status"] == 429


def test_sigterm_stops_nginx_and_gunicorn_and_logs_stay_private(web_site: Any, tmp_path: Path) -> None:
    running = start_stack(web_site, tmp_path / "run")
    status, _, _ = request(running, "GET", "/search?near=LS6&q=back+pain")
    assert status == 200
    assert running.stop() == 0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", running.port), timeout=2).close()
    logs = "".join(p.read_text(errors="replace") for p in (tmp_path / "run" / "logs").iterdir())
    assert "request" in logs  # the access log and the app's log were written
    for private in ("back+pain", "back pain", "remote_addr", "client:"):
        assert private not in logs, private
