"""A full disk is one clear line naming the path and the space needed; never a traceback or row data.

Uses a real, tiny tmpfs (needs root, as in CI); skipped with a reason elsewhere.
"""

from __future__ import annotations

import gc
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from finder import create_app
from finder.db import store_from
from finder.search.indexer import TMP_PREFIX, builds_dir, current_build
from tests.helpers import csv_bytes, csv_row


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Any]:
    """mount(size) -> a directory on a tmpfs of that many bytes, unmounted afterwards."""
    mounted: list[Path] = []

    def mount(size: int) -> Path:
        point = tmp_path / f"disk{len(mounted)}"
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tiny tmpfs here ({done.stderr.decode().strip() or 'not root'})")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=False)


def rows(count: int) -> bytes:
    return csv_bytes(
        csv_row(source_id=f"f-{i}", hcpc_number=f"PH96{i:05d}", name=f"Secretname{i} Person", practice_name="Roomy Physio")
        for i in range(count)
    )


def make_app(tmp_path: Path, gazetteer: Path, **overrides: Any) -> Any:
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "GAZETTEER_PATH": str(gazetteer),
            "RATELIMIT_ENABLED": False,
            "SECRET_KEY": "test",
            **overrides,
        }
    )
    app.cli_runner = app.test_cli_runner()
    return app


def invoke(app: Any, *args: str) -> Any:
    from finder.cli import main

    return app.cli_runner.invoke(main, list(args))


def one_clear_line(result: Any, path: Path) -> str:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    line = lines[0]
    assert "disk full writing" in line and str(path) in line and "needs about" in line and "MB" in line
    assert "Traceback" not in result.output and "Secretname" not in result.output
    return line


# Whoosh leaves its files open when a commit fails (closed when collected, with a ResourceWarning).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_index_build_on_a_full_disk(tmp_path: Path, gazetteer_path: Path, tiny_disk: Any) -> None:
    index_dir = tiny_disk(64 * 1024)
    app = make_app(tmp_path, gazetteer_path, INDEX_DIR=str(index_dir))
    (tmp_path / "rows.csv").write_bytes(rows(400))
    assert invoke(app, "init-db").exit_code == 0
    assert invoke(app, "ingest", "csv", str(tmp_path / "rows.csv"), "--no-geocode").exit_code == 0
    line = one_clear_line(invoke(app, "index", "build"), index_dir)
    assert "finder index build" in line
    assert current_build(index_dir) is None
    assert not [p for p in builds_dir(index_dir).iterdir() if p.name.startswith(TMP_PREFIX)], "the half build was removed"
    store_from(app).dispose()
    gc.collect()  # here, under this test's warning filter


def test_a_sqlite_ingest_on_a_full_disk(tmp_path: Path, gazetteer_path: Path, tiny_disk: Any, caplog: pytest.LogCaptureFixture) -> None:
    disk = tiny_disk(400 * 1024)
    app = make_app(tmp_path, gazetteer_path, DATABASE_URL=f"sqlite:///{disk / 'finder.db'}")
    assert invoke(app, "init-db").exit_code == 0
    (tmp_path / "rows.csv").write_bytes(rows(3000))
    with caplog.at_level(logging.DEBUG):
        line = one_clear_line(invoke(app, "ingest", "csv", str(tmp_path / "rows.csv"), "--no-geocode"), disk / "finder.db")
    assert "nothing was changed" in line
    assert "Secretname" not in caplog.text
    assert store_from(app).count() == 0
    store_from(app).dispose()


def test_a_geo_build_on_a_full_disk(tmp_path: Path, gazetteer_path: Path, tiny_disk: Any) -> None:
    disk = tiny_disk(256 * 1024)
    app = make_app(tmp_path, gazetteer_path)
    target = disk / "gazetteer.sqlite"
    line = one_clear_line(invoke(app, "geo", "build", "--areas", "ls", "--path", str(target), "--quiet"), disk)
    assert "finder geo build" in line
    assert list(disk.iterdir()) == [], "no half-written gazetteer is left behind"
