"""The repository's gunicorn.conf.py really serves: warm workers, /readyz, JSON request lines, a clean stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.robustness.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback only
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def test_gunicorn_with_the_repo_config(web_site: Any, tmp_path: Path) -> None:
    config = web_site.app.config
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINDER_")}
    env.update(
        FINDER_INSTANCE_PATH=config["INSTANCE_PATH"],
        FINDER_DATABASE_URL=config["DATABASE_URL"],
        FINDER_INDEX_DIR=config["INDEX_DIR"],
        FINDER_GAZETTEER_PATH=config["GAZETTEER_PATH"],
        FINDER_BIND=f"127.0.0.1:{port}",
        FINDER_WORKERS="1",
        FINDER_RATELIMIT_API="1000 per minute",
    )
    gunicorn = Path(sys.executable).with_name("gunicorn")
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [str(gunicorn), "-c", str(ROOT / "gunicorn.conf.py"), "finder:create_app()"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        status = 0
        while time.monotonic() < deadline and server.poll() is None:
            try:
                status, _, _ = _get(f"{base}/readyz")
            except OSError:
                status = 0
            if status == 200:
                break
            time.sleep(0.1)
        assert status == 200, log_path.read_text()

        status, headers, body = _get(f"{base}/search?near=LS6&q=multiple+sclerosis")
        assert status == 200 and b"Alice Neuro" in body
        request_id = headers["X-Request-ID"]
        status, headers, body = _get(f"{base}/api/v1/search?near=LS6")
        assert status == 200 and json.loads(body)["total"] > 0
        assert headers["RateLimit-Limit"] == "1000"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    assert server.returncode == 0, log_path.read_text()

    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("event") == "request"]
    assert [(r["path"], r["status"]) for r in requests[-2:]] == [("/search", 200), ("/api/v1/search", 200)]
    assert requests[-2]["request_id"] == request_id
    # The worker warmed up before its first request, and nothing private reached the log.
    assert any("warmed up" in line.get("message", "") for line in lines), lines[:5]
    text = log_path.read_text()
    assert "sclerosis" not in text and "LS6" not in text and "127.0.0.1 -" not in text
