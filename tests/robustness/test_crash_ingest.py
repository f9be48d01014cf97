"""Crash safety of ingest: kill -9 mid-file, then the previous data still serves and a rerun completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from finder.db import Store
from tests.helpers import csv_bytes, csv_row

pytestmark = pytest.mark.slow


def _rows(count: int, *, start: int = 0, practice: str = "Crash Test Physio") -> bytes:
    return csv_bytes(
        csv_row(source_id=f"c-{i}", hcpc_number=f"PH99{i:05d}", name=f"Person {i}", practice_name=practice)
        for i in range(start, start + count)
    )


def _finder(instance: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "FINDER_INSTANCE_PATH": str(instance)}
    env.pop("FINDER_DATABASE_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "finder.cli", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def _run(instance: Path, *args: str) -> bytes:
    proc = _finder(instance, *args)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    return out


def _snapshot(db: Path) -> tuple[int, list]:
    store = Store(f"sqlite:///{db}")
    try:
        with store.engine.connect() as connection:
            assert connection.execute(text("pragma integrity_check")).scalar() == "ok"
            rows = connection.execute(text("select id, name, practice_name, updated_at from practitioners order by id")).all()
        return len(rows), rows
    finally:
        store.dispose()


def test_kill_during_ingest_leaves_the_previous_data_and_a_rerun_completes(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    _run(instance, "init-db")
    first = tmp_path / "first.csv"
    first.write_bytes(_rows(200))
    _run(instance, "ingest", "csv", str(first), "--no-geocode")
    db = instance / "finder.db"
    before = _snapshot(db)
    assert before[0] == 200

    # A big second file that updates the first 200 and adds many more.
    big = tmp_path / "big.csv"
    big.write_bytes(_rows(12_000, practice="Renamed Physio"))
    proc = _finder(instance, "ingest", "csv", str(big), "--no-geocode")
    wal = Path(str(db) + "-wal")
    start_size = wal.stat().st_size if wal.exists() else 0
    deadline = time.monotonic() + 120
    # Wait until the writer has started writing (the WAL grows), then kill it hard.
    while time.monotonic() < deadline and proc.poll() is None:
        if wal.exists() and wal.stat().st_size > start_size + 64 * 1024:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "ingest finished before it could be killed; make the file bigger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    proc.stdout.close()  # type: ignore[union-attr]
    proc.stderr.close()  # type: ignore[union-attr]

    assert _snapshot(db) == before, "a killed ingest must leave the store exactly as it was"

    out = _run(instance, "ingest", "csv", str(big), "--no-geocode")
    assert b"added 11800, updated 200" in out
    count, rows = _snapshot(db)
    assert count == 12_000
    assert {r.practice_name for r in rows} == {"Renamed Physio"}
