"""Damaged files are refused with a clear 503, never a 500 (or a worker killed by SIGBUS).

Each index build carries a checksum manifest, checked when a worker opens the
build (and its file sizes once a second while serving); the gazetteer carries a
checksum file written by `finder geo build`. A truncated ``.seg``,
``arrays.npz``, ``meta.json`` or gazetteer gives a 503 on pages and API and an
accurate /readyz; the next `finder index update` / `finder geo build` restores
service.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from finder import create_app
from finder.db import store_from
from finder.geo.gazetteer import sums_path
from finder.search.indexer import builds_dir, current_build
from finder.search.integrity import verify_build
from tests.helpers import csv_bytes, csv_row


def rows(count: int, *, start: int = 0, practice: str = "Sturdy Physio") -> bytes:
    return csv_bytes(
        csv_row(source_id=f"d-{i}", hcpc_number=f"PH97{i:05d}", name=f"Person {i}", practice_name=practice)
        for i in range(start, start + count)
    )


def make_app(instance: Path, gazetteer: Path) -> Any:
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(instance),
            "GAZETTEER_PATH": str(gazetteer),
            "RATELIMIT_ENABLED": False,
            "SECRET_KEY": "test",
        }
    )
    app.cli_runner = app.test_cli_runner()
    return app


def invoke(app: Any, *args: str) -> Any:
    from finder.cli import main

    result = app.cli_runner.invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def gazetteer_copy(tmp_path: Path, gazetteer_path: Path) -> Path:
    """A private copy of the test gazetteer and its checksum file (the tests damage it)."""
    target = tmp_path / "gazetteer.sqlite"
    shutil.copyfile(gazetteer_path, target)
    shutil.copyfile(sums_path(gazetteer_path), sums_path(target))
    return target


@pytest.fixture
def site(tmp_path: Path, gazetteer_copy: Path) -> Any:
    app = make_app(tmp_path / "instance", gazetteer_copy)
    (tmp_path / "first.csv").write_bytes(rows(40))
    invoke(app, "init-db")
    invoke(app, "ingest", "csv", str(tmp_path / "first.csv"), "--no-geocode")
    invoke(app, "index", "build")
    yield app
    store_from(app).dispose()


def build_path(app: Any) -> Path:
    index_dir = Path(app.config["INDEX_DIR"])
    name = current_build(index_dir)
    assert name is not None
    return builds_dir(index_dir) / name


def truncate(path: Path) -> None:
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.truncate(size // 2)


def scribble(path: Path) -> None:
    """Same size, different bytes in the middle (a bad sector, a stray write)."""
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.seek(size // 2)
        handle.write(b"\xde\xad\xbe\xef" * 64)


def largest_segment(build: Path) -> Path:
    return max(build.glob("shard*/*.seg"), key=lambda p: p.stat().st_size)


DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncated segment": lambda build: truncate(largest_segment(build)),
    "scribbled segment": lambda build: scribble(largest_segment(build)),
    "truncated arrays.npz": lambda build: truncate(build / "arrays.npz"),
    "truncated meta.json": lambda build: truncate(build / "meta.json"),
    "removed words.json": lambda build: (build / "words.json").unlink(),
}


def assert_unavailable(app: Any, part: str, words: str) -> None:
    client = app.test_client()
    api = client.get("/api/v1/search?q=person&near=LS6")
    assert api.status_code == 503, api.get_data(as_text=True)[:300]
    assert api.headers["Content-Type"].startswith("application/problem+json")
    assert words in api.get_json()["detail"]
    page = client.get("/search?q=person&near=LS6")
    assert page.status_code == 503
    assert "text/html" in page.headers["Content-Type"]
    ready = client.get("/readyz")
    assert ready.status_code == 503
    body = ready.get_json()
    assert part in body["missing"] and words in body["checks"][part]["problem"]
    health = client.get("/healthz")
    assert health.status_code == 200 and health.get_json()["status"] == "degraded"


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_index_build_is_refused_at_open_and_the_next_update_restores_it(site: Any, damage: str) -> None:
    client = site.test_client()
    assert client.get("/api/v1/search?q=person").get_json()["total"] == 40
    DAMAGE[damage](build_path(site))

    fresh = make_app(Path(site.config["INSTANCE_PATH"]), Path(site.config["GAZETTEER_PATH"]))  # a worker starting now
    assert_unavailable(fresh, "index", "damaged")
    assert "finder index build" in fresh.test_client().get("/readyz").get_json()["checks"]["index"]["problem"]

    result = invoke(site, "index", "update")
    assert "Rebuilt the whole index" in result.output and "damaged" in result.output
    fresh.extensions["finder.search"].reopen()
    assert fresh.test_client().get("/readyz").status_code == 200
    assert fresh.test_client().get("/api/v1/search?q=person").get_json()["total"] == 40


def test_a_segment_truncated_while_serving_is_taken_out_of_service_not_read(site: Any) -> None:
    client = site.test_client()
    assert client.get("/api/v1/search?q=person").status_code == 200
    truncate(largest_segment(build_path(site)))
    site.extensions["finder.search"].reopen()  # the once-a-second check, now
    assert_unavailable(site, "index", "damaged")


def test_an_update_never_changes_a_file_the_serving_build_uses(site: Any, tmp_path: Path) -> None:
    before = build_path(site)
    (tmp_path / "more.csv").write_bytes(rows(15, start=40, practice="Newer Physio"))
    invoke(site, "ingest", "csv", str(tmp_path / "more.csv"), "--no-geocode")
    after = build_path(site)
    assert after != before
    shared = {p.stat().st_ino for p in before.rglob("*") if p.is_file()} & {p.stat().st_ino for p in after.rglob("*") if p.is_file()}
    assert shared, "an update hard-links the segments it keeps"
    verify_build(before)  # every byte of the old build still matches its manifest
    verify_build(after)


def test_a_damaged_gazetteer_is_refused_at_open(site: Any, gazetteer_copy: Path) -> None:
    truncate(gazetteer_copy)
    fresh = make_app(Path(site.config["INSTANCE_PATH"]), gazetteer_copy)
    assert_unavailable(fresh, "gazetteer", "damaged")


def test_a_gazetteer_damaged_while_serving_gives_503_not_500(site: Any, gazetteer_copy: Path) -> None:
    from finder.geo.geocode import geocoder_from

    client = site.test_client()
    assert client.get("/api/v1/search?near=Leeds&radius_km=50").status_code == 200
    scribble(gazetteer_copy)
    geocoder_from(site)._checked_at = float("-inf")  # its five-second recheck, now
    assert_unavailable(site, "gazetteer", "damaged")


def test_a_gazetteer_without_checksums_that_sqlite_cannot_read_gives_503(site: Any, gazetteer_copy: Path) -> None:
    from finder.geo.geocode import geocoder_from

    sums_path(gazetteer_copy).unlink()  # as built before checksums existed
    client = site.test_client()
    geocoder_from(site)._checked_at = float("-inf")
    assert client.get("/api/v1/search?near=LS6+2&radius_km=5").status_code == 200
    with gazetteer_copy.open("r+b") as handle:  # every page after the first: garbage
        size = gazetteer_copy.stat().st_size
        handle.seek(4096)
        handle.write(b"\x00\xff" * ((size - 4096) // 2))
    geocoder_from(site)._checked_at = float("-inf")
    response = client.get("/api/v1/search?near=LS7+3&radius_km=5")
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert "gazetteer" in response.get_json()["detail"]


def test_index_status_and_doctor_name_a_damaged_build(site: Any) -> None:
    from finder.cli import main

    truncate(build_path(site) / "meta.json")
    status = site.cli_runner.invoke(main, ["index", "status"])
    assert status.exit_code == 1 and "damaged" in status.output, status.output
    assert "Traceback" not in status.output
    doctor = site.cli_runner.invoke(main, ["doctor"])
    assert doctor.exit_code == 1
    assert "PROBLEM  the search index build" in doctor.output and "meta.json" in doctor.output, doctor.output
