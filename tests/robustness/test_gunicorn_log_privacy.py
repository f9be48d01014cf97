"""gunicorn's own error log keeps the README's promise: no client address, no query string."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.robustness.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

MALFORMED = [
    b"GET /search?q=secret+condition&near=LS6+2AB HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
    b"GET /search?q=secret+condition HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
    b"GET /search?q=secret+condition" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /search?q=secret+condition HTTP/9.9\r\nHost: x\r\n\r\n",
    b"GET /search?q=secret+condition\r\nHost: x\r\n\r\n",  # gunicorn quotes a bad request line
]


def test_malformed_requests_are_logged_without_address_or_query(web_site: Any, tmp_path: Path) -> None:
    config = web_site.app.config
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINDER_")}
    env.update(
        FINDER_INSTANCE_PATH=config["INSTANCE_PATH"], FINDER_DATABASE_URL=config["DATABASE_URL"],
        FINDER_INDEX_DIR=config["INDEX_DIR"], FINDER_GAZETTEER_PATH=config["GAZETTEER_PATH"],
        FINDER_BIND=f"127.0.0.1:{port}", FINDER_WORKERS="1", FINDER_LOG_LEVEL="debug",
    )
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "-c", str(ROOT / "gunicorn.conf.py"), "finder:create_app()"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5):  # noqa: S310 - loopback
                    break
            except OSError:
                time.sleep(0.2)
        client_ports = []
        for raw in MALFORMED:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
                client_ports.append(connection.getsockname()[1])
                connection.sendall(raw)
                answer = connection.recv(1024)
            assert answer.startswith(b"HTTP/1.1 4"), answer[:80]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    text = log_path.read_text(errors="replace")
    assert "invalid request refused" in text  # the fact is kept ...
    assert "secret" not in text and "LS6" not in text  # ... the query string is not
    assert "ip=" not in text
    for client_port in client_ports:
        assert f":{client_port}" not in text
