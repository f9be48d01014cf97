"""The index heals itself and /readyz tells the truth about it.

* every writing command records a numbered change in the store; an index that
  lacks one is "behind", whatever happened to the command that wrote;
* a rerun that finds everything "unchanged" still brings the index level;
* /readyz answers 503 naming the lag beyond INDEX_MAX_LAG_SECONDS, /healthz shows it;
* a failed index update after a write is one line saying what to run.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import pytest

from finder import create_app
from finder.db import store_from
from finder.search.indexer import TMP_PREFIX, builds_dir
from tests.helpers import csv_bytes, csv_row


def rows(count: int, *, start: int = 0, practice: str = "Truthful Physio") -> bytes:
    return csv_bytes(
        csv_row(source_id=f"t-{i}", hcpc_number=f"PH98{i:05d}", name=f"Person {i}", practice_name=practice)
        for i in range(start, start + count)
    )


@pytest.fixture
def site(tmp_path: Path, gazetteer_path: Path) -> Any:
    """A SQLite site with 30 listings indexed; readiness allows no lag at all."""
    instance = tmp_path / "instance"
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(instance),
            "GAZETTEER_PATH": str(gazetteer_path),
            "RATELIMIT_ENABLED": False,
            "SECRET_KEY": "test",
            "INDEX_MAX_LAG_SECONDS": 0,
        }
    )
    app.cli_runner = app.test_cli_runner()
    (tmp_path / "first.csv").write_bytes(rows(30))
    assert invoke(app, "init-db").exit_code == 0
    assert invoke(app, "ingest", "csv", str(tmp_path / "first.csv"), "--no-geocode").exit_code == 0
    assert invoke(app, "index", "build").exit_code == 0
    yield app
    store_from(app).dispose()


def invoke(app: Any, *args: str) -> Any:
    from finder.cli import main

    return app.cli_runner.invoke(main, list(args))


def ready(app: Any) -> tuple[int, dict[str, Any]]:
    app.extensions["finder.search"].reopen()  # as a worker does within a second
    response = app.test_client().get("/readyz")
    return response.status_code, response.get_json()


def searchable(app: Any, text: str) -> int:
    app.extensions["finder.search"].reopen()
    response = app.test_client().get(f"/api/v1/search?q={text}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return int(response.get_json()["total"])


def test_a_rerun_that_finds_everything_unchanged_brings_the_index_level(site: Any, tmp_path: Path) -> None:
    status, _ = ready(site)
    assert status == 200
    bigger = tmp_path / "bigger.csv"
    bigger.write_bytes(rows(60, practice="Renamed Physio"))
    # The store commits and the index is not updated: the state a kill -9 during
    # the ingest's own index update leaves behind.
    result = invoke(site, "ingest", "csv", str(bigger), "--no-geocode", "--no-index-update")
    assert result.exit_code == 0, result.output
    assert searchable(site, "renamed") == 0

    status, body = ready(site)
    assert status == 503
    index = body["checks"]["index"]
    assert index["ok"] is False and index["behind_writes"] == 1
    assert "1 store write(s) behind" in index["problem"] and "finder index update" in index["problem"]
    health = site.test_client().get("/healthz")
    assert health.status_code == 200
    assert health.get_json()["checks"]["index"]["behind_writes"] == 1
    assert invoke(site, "index", "status").exit_code == 1

    rerun = invoke(site, "ingest", "csv", str(bigger), "--no-geocode")
    assert rerun.exit_code == 0, rerun.output
    assert "unchanged 60" in rerun.output
    assert "Updated index" in rerun.output
    assert searchable(site, "renamed") == 60
    status, body = ready(site)
    assert status == 200, body
    assert body["checks"]["index"]["behind_writes"] == 0
    assert invoke(site, "index", "status").exit_code == 0


def test_index_update_catches_up_even_when_the_listings_look_unchanged(site: Any, tmp_path: Path) -> None:
    more = tmp_path / "more.csv"
    more.write_bytes(rows(10, start=30, practice="Later Physio"))
    assert invoke(site, "ingest", "csv", str(more), "--no-geocode", "--no-index-update").exit_code == 0
    assert ready(site)[0] == 503
    result = invoke(site, "index", "update")
    assert result.exit_code == 0 and "added 10" in result.output, result.output
    assert ready(site)[0] == 200
    assert searchable(site, "later") == 10
    # Level now: nothing to do, and still ready.
    assert "nothing to do" in invoke(site, "index", "update").output


def test_the_lag_bound_is_a_setting(site: Any, tmp_path: Path) -> None:
    more = tmp_path / "more.csv"
    more.write_bytes(rows(5, start=30))
    assert invoke(site, "ingest", "csv", str(more), "--no-geocode", "--no-index-update").exit_code == 0
    assert ready(site)[0] == 503
    site.config["INDEX_MAX_LAG_SECONDS"] = 3600
    status, body = ready(site)
    assert status == 200
    assert body["checks"]["index"]["behind_writes"] == 1 and body["checks"]["index"]["max_lag_seconds"] == 3600


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "disk full writing"),
        (RuntimeError("the disk controller caught fire"), "RuntimeError: the disk controller caught fire"),
    ],
)
def test_a_failed_index_update_after_a_write_is_one_line_with_the_command_to_run(
    site: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: Exception, expected: str
) -> None:
    from finder.search import indexer

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise failure

    monkeypatch.setattr(indexer, "_copy_build", broken)
    more = tmp_path / "more.csv"
    more.write_bytes(rows(5, start=30, practice="Blocked Physio"))
    result = invoke(site, "ingest", "csv", str(more), "--no-geocode")
    assert result.exit_code == 0, result.output  # the write itself succeeded
    lines = [line for line in result.output.splitlines() if "index" in line]
    assert len(lines) == 1, result.output
    assert expected in lines[0] and "run `finder index update`" in lines[0]
    assert "Traceback" not in result.output
    # The failed update removed its temporary build; the index says it is behind.
    assert not [p for p in builds_dir(Path(site.config["INDEX_DIR"])).iterdir() if p.name.startswith(TMP_PREFIX)]
    assert ready(site)[0] == 503

    monkeypatch.undo()
    assert invoke(site, "index", "update").exit_code == 0
    assert ready(site)[0] == 200
    assert searchable(site, "blocked") == 5


def test_changes_are_numbered_in_the_store(site: Any, tmp_path: Path) -> None:
    store = store_from(site)
    first = store.change_seq()
    assert first == 1  # the fixture's one ingest
    unchanged = tmp_path / "same.csv"
    unchanged.write_bytes(rows(30))
    assert invoke(site, "ingest", "csv", str(unchanged), "--no-geocode").exit_code == 0
    assert store.change_seq() == first, "a write that changed no listing is not a change"
    unchanged.write_bytes(rows(31))
    assert invoke(site, "ingest", "csv", str(unchanged), "--no-geocode").exit_code == 0
    pending = store.pending_changes(first)
    assert (pending.count, pending.seq) == (1, first + 1)


def test_follow_polls_a_sqlite_store_and_stops_when_asked(site: Any, tmp_path: Path) -> None:
    import threading
    import time

    from finder.follow import follow

    store = store_from(site)
    stop = threading.Event()
    lines: list[str] = []
    follower = threading.Thread(
        target=follow, args=(store, Path(site.config["INDEX_DIR"])), kwargs={"poll_seconds": 0.2, "stop": stop, "report": lines.append}
    )
    follower.start()
    try:
        more = tmp_path / "more.csv"
        more.write_bytes(rows(7, start=30, practice="Followed Physio"))
        assert invoke(site, "ingest", "csv", str(more), "--no-geocode", "--no-index-update").exit_code == 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and searchable(site, "followed") != 7:
            time.sleep(0.05)
        assert searchable(site, "followed") == 7, lines
        assert ready(site)[0] == 200
        assert "polling every 0.2 s" in lines[0] and "LISTEN" not in lines[0]
    finally:
        stop.set()
        follower.join(10)
    assert not follower.is_alive()
