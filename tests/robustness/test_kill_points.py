"""kill -9 at each point that writes (ingest, index build, index update, geo build).

After each kill, /readyz is 503 while the index lacks a committed write (or the
gazetteer is missing), the next ordinary command (or `finder index update`)
restores full service, and no temporary file outlives that next run.
Every wait is a poll with a deadline; a kill that lands too late fails loudly
("make it bigger") rather than passing without testing anything.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from finder import create_app
from finder.db import store_from
from finder.search.indexer import TMP_PREFIX, builds_dir
from tests.helpers import csv_bytes, csv_row

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def rows(count: int, *, start: int = 0, practice: str = "Killable Physio") -> bytes:
    return csv_bytes(
        csv_row(source_id=f"k-{i}", hcpc_number=f"PH95{i:05d}", name=f"Person {i}", practice_name=practice)
        for i in range(start, start + count)
    )


class Site:
    def __init__(self, tmp_path: Path, gazetteer: Path) -> None:
        self.tmp = tmp_path
        self.instance = tmp_path / "instance"
        self.gazetteer = gazetteer
        self.app = create_app(
            {
                "TESTING": True,
                "INSTANCE_PATH": str(self.instance),
                "GAZETTEER_PATH": str(gazetteer),
                "RATELIMIT_ENABLED": False,
                "SECRET_KEY": "test",
                "INDEX_MAX_LAG_SECONDS": 0,
            }
        )

    @property
    def index_dir(self) -> Path:
        return self.instance / "index"

    def finder(self, *args: str) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FINDER_")}
        env.update(FINDER_INSTANCE_PATH=str(self.instance), FINDER_GAZETTEER_PATH=str(self.gazetteer))
        return subprocess.Popen(
            [sys.executable, "-m", "finder.cli", *args],
            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        )

    def run(self, *args: str) -> str:
        proc = self.finder(*args)
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, (out + err).decode()
        return out.decode()

    def ready(self) -> tuple[int, dict[str, Any]]:
        self.app.extensions["finder.search"].reopen()
        response = self.app.test_client().get("/readyz")
        return response.status_code, response.get_json()

    def total(self, text: str) -> int:
        self.app.extensions["finder.search"].reopen()
        response = self.app.test_client().get(f"/api/v1/search?q={text}")
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        return int(response.get_json()["total"])

    def tmp_builds(self) -> list[Path]:
        root = builds_dir(self.index_dir)
        return [p for p in root.iterdir() if p.name.startswith(TMP_PREFIX)] if root.exists() else []

    def csv(self, name: str, data: bytes) -> str:
        path = self.tmp / name
        path.write_bytes(data)
        return str(path)


def kill_when(proc: subprocess.Popen[bytes], condition: Callable[[], bool], what: str, timeout: float = 240) -> None:
    """kill -9 the command (and its workers) as soon as ``condition`` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            break
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the command ended (exit {proc.returncode}) before {what}: make it bigger\n{(out + err).decode()[-800:]}")
        time.sleep(0.005)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError(f"timed out waiting for {what}")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)


@pytest.fixture
def site(tmp_path: Path, gazetteer_path: Path) -> Any:
    """500 listings, indexed."""
    result = Site(tmp_path, gazetteer_path)
    result.run("init-db")
    result.run("ingest", "csv", result.csv("first.csv", rows(500)), "--no-geocode")
    result.run("index", "build")
    assert result.ready()[0] == 200
    yield result
    store_from(result.app).dispose()


def test_kill_ingest_during_its_index_update_then_rerun(site: Site) -> None:
    bigger = site.csv("bigger.csv", rows(2000, practice="Grown Physio"))
    proc = site.finder("ingest", "csv", bigger, "--no-geocode")
    kill_when(proc, lambda: bool(site.tmp_builds()), "the ingest committed and began its index update")
    status, body = site.ready()
    assert status == 503 and body["checks"]["index"]["behind_writes"] == 1, body
    assert site.total("grown") == 0, "the killed update never switched"

    out = site.run("ingest", "csv", bigger, "--no-geocode")
    assert "unchanged 2000" in out and "Updated index" in out, out
    assert site.ready()[0] == 200
    assert site.total("grown") == 2000
    assert not site.tmp_builds()


def test_kill_index_build_then_index_update(site: Site) -> None:
    site.run("ingest", "csv", site.csv("more.csv", rows(1500, start=500, practice="Later Physio")), "--no-geocode", "--no-index-update")
    assert site.ready()[0] == 503
    proc = site.finder("index", "build", "--workers", "1")
    kill_when(proc, lambda: any(any(s.iterdir()) for t in site.tmp_builds() for s in t.glob("shard*")), "the build began writing")
    assert site.tmp_builds()
    assert site.ready()[0] == 503
    assert site.total("killable") == 500, "the old build keeps serving"

    assert "Updated index" in site.run("index", "update")
    assert site.ready()[0] == 200
    assert site.total("later") == 1500
    assert not site.tmp_builds()


def test_kill_index_update_then_index_update(site: Site) -> None:
    site.run("ingest", "csv", site.csv("more.csv", rows(1500, start=500, practice="Later Physio")), "--no-geocode", "--no-index-update")
    proc = site.finder("index", "update")
    kill_when(proc, lambda: bool(site.tmp_builds()), "the update began")
    assert site.ready()[0] == 503
    assert site.total("killable") == 500

    assert "added 1500" in site.run("index", "update")
    assert site.ready()[0] == 200
    assert site.total("later") == 1500
    assert not site.tmp_builds()


def test_kill_the_first_geo_build_then_doctor_and_rerun(tmp_path: Path) -> None:
    gazetteer = tmp_path / "geo" / "gazetteer.sqlite"
    site = Site(tmp_path, gazetteer)
    site.run("init-db")
    site.run("ingest", "csv", site.csv("first.csv", rows(20)), "--no-geocode")
    site.run("index", "build")

    def temporaries() -> list[Path]:
        return list(gazetteer.parent.glob(f".{gazetteer.name}.*.tmp*")) if gazetteer.parent.exists() else []

    proc = site.finder("geo", "build", "--areas", "ls", "--quiet")
    kill_when(proc, lambda: any(p.stat().st_size > 0 for p in temporaries()), "the build began writing its file")
    assert temporaries(), "the kill left a half-written gazetteer"
    status, body = site.ready()
    assert status == 503 and body["missing"] == ["gazetteer"]

    doctor = site.finder("doctor")
    out, _ = doctor.communicate(timeout=120)
    assert doctor.returncode == 1 and "removed 1 temporary file(s) left by killed `finder geo build`s" in out.decode()
    assert not temporaries()

    site.run("geo", "build", "--areas", "ls", "--quiet")
    assert site.ready()[0] == 200
    assert not temporaries()
    store_from(site.app).dispose()
