"""Two hosts on one PostgreSQL: each with its own instance directory, index, follower and gunicorn.

Shared: one PostgreSQL database (the store; created for this test) and one
Redis (rate limits). Per host: the index directory and `finder index follow`.

* an ingest through host A is searchable on host B within 10 s;
* kill -9 B's follower in the middle of an update: /readyz on B answers 503
  naming the lag; a restarted follower catches up and B is ready again;
* the database dropping every connection (as a restart does) does not stop the
  follower: it reconnects with backoff and keeps B level.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import PG_URL
from tests.helpers import csv_bytes, csv_row
from tests.robustness.conftest import free_port

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]


def rows(count: int, *, start: int, practice: str) -> bytes:
    return csv_bytes(
        csv_row(source_id=f"h-{i}", hcpc_number=f"PH94{i:05d}", name=f"Person {i}", practice_name=practice)
        for i in range(start, start + count)
    )


@pytest.fixture
def shared_database() -> Iterator[str]:
    """A PostgreSQL database of this test's own (dropped afterwards)."""
    if PG_URL == "skip":
        pytest.skip("PostgreSQL tests skipped (FINDER_TEST_DATABASE_URL=skip)")
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"finder_hosts_{os.getpid()}_{secrets.token_hex(3)}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def drop_connections(database_url: str) -> int:
    """What a database restart does to clients: every connection to the database is closed."""
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            return len(
                connection.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"),
                    {"name": make_url(database_url).database},
                ).all()
            )
    finally:
        admin.dispose()


class Host:
    def __init__(self, name: str, tmp_path: Path, env: dict[str, str]) -> None:
        self.name = name
        self.tmp = tmp_path
        self.instance = tmp_path / name
        self.env = {**env, "FINDER_INSTANCE_PATH": str(self.instance)}
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.processes: list[subprocess.Popen[bytes]] = []
        self.follower: subprocess.Popen[bytes] | None = None
        self.follower_log = tmp_path / f"{name}-follow.log"

    @property
    def builds(self) -> Path:
        return self.instance / "index" / "builds"

    def popen(self, args: list[str], log: Path | None = None) -> subprocess.Popen[bytes]:
        out: Any = log.open("ab") if log is not None else subprocess.PIPE
        proc = subprocess.Popen(
            args, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT if log else subprocess.PIPE, start_new_session=True
        )
        if log is not None:
            out.close()
        self.processes.append(proc)
        return proc

    def finder(self, *args: str) -> str:
        proc = self.popen([sys.executable, "-m", "finder.cli", *args])
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, (out + err).decode()
        return out.decode()

    def start_follower(self) -> None:
        self.follower = self.popen([sys.executable, "-m", "finder.cli", "index", "follow", "--poll-seconds", "2"], self.follower_log)

    def start_server(self) -> None:
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.env.update(FINDER_BIND=f"127.0.0.1:{self.port}", FINDER_WORKERS="1")
        self.popen([str(gunicorn), "-c", str(ROOT / "gunicorn.conf.py"), "finder:create_app()"], self.tmp / f"{self.name}-gunicorn.log")

    def get(self, path: str) -> tuple[int, dict[str, str], Any]:
        try:
            with urllib.request.urlopen(self.base + path, timeout=10) as response:
                return response.status, dict(response.headers), json.loads(response.read())
        except urllib.error.HTTPError as error:
            with error:
                return error.code, dict(error.headers), json.loads(error.read() or b"{}")

    def ready_status(self) -> int:
        try:
            return self.get("/readyz")[0]
        except OSError:  # not listening yet
            return 0

    def total(self, words: str) -> int:
        status, _, body = self.get(f"/api/v1/search?q={words}")
        return int(body["total"]) if status == 200 else -1

    def tmp_builds(self) -> list[Path]:
        return [p for p in self.builds.iterdir() if p.name.startswith(".tmp-")] if self.builds.exists() else []

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.processes:
            try:
                proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()


def wait_until(condition: Callable[[], bool], what: str, timeout: float, log: Path | None = None) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}" + (f"\n{log.read_text()[-2000:]}" if log and log.exists() else ""))


@pytest.fixture
def hosts(tmp_path: Path, shared_database: str, gazetteer_path: Path, redis_url: str, redis_prefix: str) -> Iterator[tuple[Host, Host]]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("FINDER_")}
    base.update(
        FINDER_DATABASE_URL=shared_database,
        FINDER_GAZETTEER_PATH=str(gazetteer_path),
        FINDER_RATELIMIT_STORAGE_URI=redis_url,
        FINDER_RATELIMIT_KEY_PREFIX=redis_prefix,
        FINDER_RATELIMIT_API="1000 per minute",
        FINDER_INDEX_MAX_LAG_SECONDS="0",
    )
    pair = (Host("a", tmp_path, base), Host("b", tmp_path, base))
    try:
        yield pair
    finally:
        for host in pair:
            host.stop()


def test_two_hosts_share_one_store_and_each_index_follows_it(hosts: tuple[Host, Host], shared_database: str, tmp_path: Path) -> None:
    a, b = hosts
    a.finder("init-db")
    first = tmp_path / "first.csv"
    first.write_bytes(rows(300, start=0, practice="Shared Physio"))
    a.finder("ingest", "csv", str(first), "--no-geocode")
    a.finder("index", "build")
    b.start_follower()  # builds B's first index
    a.start_server()
    b.start_server()
    for host in (a, b):
        wait_until(lambda host=host: host.ready_status() == 200, f"host {host.name} ready", 120, host.tmp / f"{host.name}-gunicorn.log")
    assert a.total("shared") == b.total("shared") == 300

    # One Redis: the API's rate limit counts a client's requests on both hosts together.
    _, headers_a, _ = a.get("/api/v1/search?q=shared")
    _, headers_b, _ = b.get("/api/v1/search?q=shared")
    assert int(headers_b["RateLimit-Remaining"]) < int(headers_a["RateLimit-Remaining"])

    # 1. An ingest through host A is searchable on host B within 10 s.
    news = tmp_path / "news.csv"
    news.write_bytes(rows(40, start=300, practice="Northern Physio"))
    a.finder("ingest", "csv", str(news), "--no-geocode")
    assert a.total("northern") == 40  # A's ingest updated A's own index
    seconds = wait_until(lambda: b.total("northern") == 40, "host B to see the ingest", 10, b.follower_log)
    print(f"host B searchable {seconds:.2f} s after host A's ingest returned")

    # 2. kill -9 B's follower in the middle of an update.
    big = tmp_path / "big.csv"
    big.write_bytes(rows(1500, start=340, practice="Southern Physio"))
    ingest = a.popen([sys.executable, "-m", "finder.cli", "ingest", "csv", str(big), "--no-geocode"])
    assert b.follower is not None
    # B's follower wakes on the commit's notification, while A still updates its own index.
    wait_until(lambda: bool(b.tmp_builds()), "B's follower to start its update", 60, b.follower_log)
    os.killpg(b.follower.pid, signal.SIGKILL)
    b.follower.communicate(timeout=30)
    out, err = ingest.communicate(timeout=300)
    assert ingest.returncode == 0, (out + err).decode()
    assert b.tmp_builds(), "the kill landed mid-update"
    status, _, body = b.get("/readyz")
    assert status == 503, body
    index = body["checks"]["index"]
    assert index["behind_writes"] >= 1 and "behind" in index["problem"] and index["lag_seconds"] >= 0
    assert b.total("southern") == 0

    b.start_follower()
    wait_until(lambda: b.get("/readyz")[0] == 200, "B to catch up after the follower restarted", 120, b.follower_log)
    assert b.total("southern") == 1500
    assert not b.tmp_builds()

    # 3. The database drops every connection (a restart, as clients see it); the follower carries on.
    assert drop_connections(shared_database) >= 1
    later = tmp_path / "later.csv"
    later.write_bytes(rows(10, start=1840, practice="Eastern Physio"))
    a.finder("ingest", "csv", str(later), "--no-geocode")
    wait_until(lambda: b.total("eastern") == 10, "B to follow after the database dropped its connections", 40, b.follower_log)
    log = b.follower_log.read_text()
    assert "Cannot follow the store" in log and "The store answers again" in log, log
