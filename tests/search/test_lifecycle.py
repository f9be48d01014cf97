"""Index lifecycle: build, atomic switch, interrupted builds, incremental update, status, CLI."""

from __future__ import annotations

import json

import pytest

from finder.errors import FinderError, IndexBusy
from finder.search import SearchIndex, build_index, index_status, update_index
from finder.search.indexer import build_lock, builds_dir, current_build
from tests.plugins.search import listing, load, origin, seed_listings


def test_build_switches_current_and_reports(seeded_index):
    status = index_status(seeded_index.store, seeded_index.index_dir)
    assert status.exists and not status.behind and status.rebuild_needed is None
    assert status.documents == len(seeded_index.ids) == status.store_documents
    assert status.build == current_build(seeded_index.index_dir)
    assert status.age_seconds is not None and status.age_seconds >= 0
    assert "up to date" in status.summary()


def test_status_without_an_index(sqlite_store, tmp_path):
    status = index_status(sqlite_store, tmp_path / "nothing")
    assert not status.exists and "finder index build" in status.summary()


def test_interrupted_build_leaves_the_old_index_serving(seeded_index, monkeypatch):
    from finder.search import indexer

    before = seeded_index.keys(seeded_index.search(location=origin(), radius_km=25, per_page=100))
    old_build = current_build(seeded_index.index_dir)
    load(seeded_index.store, [listing("newcomer", km=2.0, name="Nina Newcomer")])

    calls = {"n": 0}
    real_add = indexer.ShardData.add

    def crash_after_two(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 2:
            raise KeyboardInterrupt("simulated crash mid-build")
        return real_add(self, *args, **kwargs)

    monkeypatch.setattr(indexer.ShardData, "add", crash_after_two)
    with pytest.raises(KeyboardInterrupt):
        build_index(seeded_index.store, seeded_index.index_dir)
    monkeypatch.undo()

    assert current_build(seeded_index.index_dir) == old_build
    leftovers = [p.name for p in builds_dir(seeded_index.index_dir).iterdir() if p.name.startswith(".tmp-")]
    assert leftovers == []  # a failed build removes its half-built directory at once (a killed one: the next run)
    seeded_index.index.reopen()
    assert seeded_index.keys(seeded_index.search(location=origin(), radius_km=25, per_page=100)) == before
    assert index_status(seeded_index.store, seeded_index.index_dir).behind

    # The next build cleans up and serves the newcomer.
    build_index(seeded_index.store, seeded_index.index_dir)
    assert not [p for p in builds_dir(seeded_index.index_dir).iterdir() if p.name.startswith(".tmp-")]
    seeded_index.index.reopen()
    assert seeded_index.search(text="nina").total == 1


def test_open_searchers_notice_a_switch(seeded_index):
    handle = SearchIndex(seeded_index.index_dir, check_interval=0.0)
    try:
        with handle.snapshot() as first:
            assert first.documents == len(seeded_index.ids)
        load(seeded_index.store, [listing("late", km=3.0, name="Larry Late")])
        with handle.snapshot() as held:
            # A request still using the old build keeps it open across the switch ...
            build_index(seeded_index.store, seeded_index.index_dir)
            with handle.snapshot() as fresh:
                assert fresh.name != held.name and fresh.documents == len(seeded_index.ids) + 1
            assert not held.closed
            assert held.documents == len(seeded_index.ids)
        # ... and it is closed once that request is done.
        assert held.closed
    finally:
        handle.close()


def test_pointer_is_checked_at_most_once_per_interval(seeded_index):
    handle = SearchIndex(seeded_index.index_dir, check_interval=3600)
    try:
        with handle.snapshot() as first:
            name = first.name
        build_index(seeded_index.store, seeded_index.index_dir)
        with handle.snapshot() as same:
            assert same.name == name
        handle.reopen()
        with handle.snapshot() as fresh:
            assert fresh.name != name
    finally:
        handle.close()


def test_incremental_update_adds_updates_and_withdraws(seeded_index_any_store):
    seeded = seeded_index_any_store
    store = seeded.store
    listings = dict(seed_listings())
    # add one, change one (Ann Smith now offers hydrotherapy), withdraw one (Priya Patel)
    listings["smith"] = listing(
        "smith", km=5.0, name="Ann Smith", bio="Now with a hydrotherapy pool.", treatments=["hydrotherapy"]
    )
    del listings["patel"]
    listings["newbie"] = listing("newbie", km=4.0, name="Nora Newbie", specialisms=["respiratory"])
    from finder.ingest import ingest
    from tests.helpers import items

    report = ingest(store, items(*listings.values()), source="test", complete=True)
    assert (report.added, report.updated, report.withdrawn) == (1, 1, 1)
    assert index_status(store, seeded.index_dir).behind

    update = update_index(store, seeded.index_dir)
    assert (update.added, update.updated, update.withdrawn) == (1, 1, 1)
    assert not update.rebuilt
    status = index_status(store, seeded.index_dir)
    assert not status.behind and status.kind == "update" and status.documents == len(seeded.ids)

    seeded.index.reopen()
    near = seeded.keys(seeded.search(location=origin(), radius_km=25, per_page=100))
    assert "patel" not in near
    newbie = seeded.search(text="nora")
    assert newbie.total == 1 and newbie.hits[0].distance_km is None
    assert "smith" in seeded.keys(seeded.search(text="hydrotherapy", per_page=100))
    assert seeded.search(text="back pain").total == 0  # Ann's old bio is gone
    # phrases and name prefixes work across the old segment and the update's new one
    assert set(seeded.keys(seeded.search(text='"hydrotherapy pool"'))) == {"zoe", "smith"}
    by_prefix = seeded.search(text="nor")
    assert [p.record.name for p in store.get_many([h.id for h in by_prefix.hits])] == ["Nora Newbie"]
    counts = seeded.search(location=origin(), radius_km=25).facets["specialism"]
    assert counts["respiratory"] == 1 and counts["sports"] == 0

    # nothing changed since: nothing to do
    again = update_index(store, seeded.index_dir)
    assert again.build is None and "up to date" in again.summary()


def test_update_without_an_index_builds_one(sqlite_store, tmp_path):
    load(sqlite_store, [listing("solo", name="Sol Solo")])
    report = update_index(sqlite_store, tmp_path / "index")
    assert report.rebuilt and "no index" in report.reason
    assert index_status(sqlite_store, tmp_path / "index").documents == 1


def test_concurrent_builds_are_refused(seeded_index):
    with build_lock(seeded_index.index_dir), pytest.raises(IndexBusy, match="another"):
        build_index(seeded_index.store, seeded_index.index_dir)


def test_two_worker_build_gives_the_same_answers(seeded_index, tmp_path):
    serial = seeded_index.search(text="ms", location=origin(), radius_km=100, per_page=100)
    report = build_index(seeded_index.store, tmp_path / "parallel", workers=2)
    assert report.workers == 2 and report.documents == len(seeded_index.ids)
    handle = SearchIndex(tmp_path / "parallel")
    try:
        from finder.search import SearchQuery, query

        parallel = query(SearchQuery(text="ms", location=origin(), radius_km=100, per_page=100), index=handle)
        assert [(h.id, h.distance_km, h.visits_you) for h in parallel.hits] == [
            (h.id, h.distance_km, h.visits_you) for h in serial.hits
        ]
        assert parallel.facets == serial.facets
    finally:
        handle.close()


def test_empty_store_builds_an_empty_index(sqlite_store, tmp_path):
    build_index(sqlite_store, tmp_path / "index")
    handle = SearchIndex(tmp_path / "index")
    try:
        from finder.search import SearchQuery, query

        assert query(SearchQuery(text="ms"), index=handle).total == 0
        assert query(SearchQuery(location=origin()), index=handle).total == 0
    finally:
        handle.close()


def test_old_builds_are_pruned(seeded_index):
    for _ in range(4):
        build_index(seeded_index.store, seeded_index.index_dir)
    builds = [p for p in builds_dir(seeded_index.index_dir).iterdir()]
    assert len(builds) == 3  # current + two previous


# ---- CLI ------------------------------------------------------------------------


def test_cli_build_update_status(runner, app):
    from finder.db import store_from

    assert runner.invoke(["init-db"]).exit_code == 0
    status = runner.invoke(["index", "status"])
    assert status.exit_code == 1 and "finder index build" in status.output

    load(store_from(app), [record for _, record in seed_listings()])
    built = runner.invoke(["index", "build"])
    assert built.exit_code == 0, built.output
    assert f"{len(seed_listings())} listings" in built.output

    status = runner.invoke(["index", "status", "--json"])
    assert status.exit_code == 0, status.output
    data = json.loads(status.output)
    assert data["documents"] == len(seed_listings()) and data["behind"] is False

    load(store_from(app), [listing("cli", name="Cleo Cli")])
    behind = runner.invoke(["index", "status"])
    assert behind.exit_code == 1 and "BEHIND" in behind.output
    updated = runner.invoke(["index", "update"])
    assert updated.exit_code == 0 and "added 1" in updated.output
    assert runner.invoke(["index", "status"]).exit_code == 0


def test_cli_reports_a_busy_index_without_a_traceback(runner, app):
    from pathlib import Path

    runner.invoke(["init-db"])
    with build_lock(Path(app.config["INDEX_DIR"])):
        result = runner.invoke(["index", "build"])
    assert result.exit_code == 1
    assert "another" in result.output and "Traceback" not in result.output


def test_worker_failure_is_reported(seeded_index, tmp_path, monkeypatch):
    from finder.search import indexer

    monkeypatch.setattr(indexer, "_start_method", lambda: "fork")
    monkeypatch.setattr(indexer, "Synonyms", None)  # every worker fails at once
    with pytest.raises(FinderError, match="old index keeps serving"):
        build_index(seeded_index.store, tmp_path / "broken", workers=2)
    assert current_build(tmp_path / "broken") is None


def test_changed_synonyms_ask_for_a_rebuild(seeded_index, monkeypatch):
    from finder.search import indexer
    from finder.search.analysis import Synonyms

    changed = Synonyms.parse("MS, multiple sclerosis\nphysio, physiotherapy\n")
    monkeypatch.setattr(indexer.Synonyms, "load", classmethod(lambda cls, path=None: changed))
    status = index_status(seeded_index.store, seeded_index.index_dir)
    assert status.rebuild_needed == "the synonyms list changed"
    assert "finder index build" in status.summary()
    report = update_index(seeded_index.store, seeded_index.index_dir)
    assert report.rebuilt and report.reason == "the synonyms list changed"
    assert index_status(seeded_index.store, seeded_index.index_dir).rebuild_needed is None


def _truncate_largest_file(build) -> str:
    """Cut the build's largest file in half (a disk that filled up, a copy cut short); its name."""
    from finder.search.integrity import read_manifest

    files = read_manifest(build)
    relative = max(files, key=lambda f: int(files[f]["size"]))
    path = build / relative
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 2)
    return relative


def _count_opens(monkeypatch) -> list[str]:
    """The builds SearchIndex opens (each open reads and checks every file) from now on."""
    from finder.search import searcher

    opened: list[str] = []
    real = searcher.Snapshot

    def counting(index_dir, name):
        opened.append(name)
        return real(index_dir, name)

    monkeypatch.setattr(searcher, "Snapshot", counting)
    return opened


def test_a_build_damaged_while_serving_is_refused_until_another_is_current(seeded_index, monkeypatch):
    from finder.errors import IndexDamaged

    index_dir = seeded_index.index_dir
    handle = SearchIndex(index_dir, check_interval=0.0)
    try:
        with handle.snapshot() as first:
            damaged = first.name
        relative = _truncate_largest_file(builds_dir(index_dir) / damaged)
        opened = _count_opens(monkeypatch)
        for _ in range(3):
            with pytest.raises(IndexDamaged, match=f"build {damaged} is damaged \\({relative} is "), handle.snapshot():
                pass
        # Refused from memory: the damaged build is not opened (read) again on every request.
        assert opened == []
        build_index(seeded_index.store, index_dir)
        with handle.snapshot() as fresh:
            assert fresh.name != damaged and fresh.documents == len(seeded_index.ids)
        assert opened == [fresh.name]
    finally:
        handle.close()


def test_a_build_that_fails_to_open_is_opened_once_not_per_request(seeded_index, monkeypatch):
    from finder.errors import IndexDamaged

    index_dir = seeded_index.index_dir
    damaged = current_build(index_dir)
    _truncate_largest_file(builds_dir(index_dir) / damaged)
    opened = _count_opens(monkeypatch)
    handle = SearchIndex(index_dir, check_interval=0.0)
    try:
        for _ in range(3):
            with pytest.raises(IndexDamaged, match=f"build {damaged} is damaged"), handle.snapshot():
                pass
        assert opened == [damaged]
    finally:
        handle.close()


def test_between_requests_the_serving_build_is_checked_by_size_against_the_manifest_read_at_open(
    seeded_index, monkeypatch
):
    # A stat per file (no file read or hashed, the manifest not read again): it runs on every request.
    from finder.search import searcher

    handle = SearchIndex(seeded_index.index_dir, check_interval=0.0)
    checks: list[dict] = []
    real = searcher.verify_build
    try:
        with handle.snapshot() as snap:
            manifest = snap.manifest
        monkeypatch.setattr(searcher, "verify_build", lambda path, **kw: checks.append(kw) or real(path, **kw))
        with handle.snapshot() as same:
            assert same is snap
        assert len(checks) == 1 and checks[0]["digests"] is False and checks[0]["files"] is manifest
    finally:
        handle.close()


def test_with_no_interval_every_request_reads_the_pointer_even_within_one_clock_tick(seeded_index, monkeypatch):
    # A coarse clock (or two requests in one tick) must not serve the old build after a switch.
    from finder.search import searcher

    monkeypatch.setattr(searcher.time, "monotonic", lambda: 1000.0)
    handle = SearchIndex(seeded_index.index_dir, check_interval=0.0)
    try:
        with handle.snapshot() as first:
            old = first.name
        build_index(seeded_index.store, seeded_index.index_dir)
        with handle.snapshot() as fresh:
            assert fresh.name != old and fresh.name == current_build(seeded_index.index_dir)
    finally:
        handle.close()


def test_no_index_yet_says_how_to_build_one(tmp_path):
    from finder.errors import IndexMissing

    handle = SearchIndex(tmp_path / "index")
    with pytest.raises(IndexMissing) as caught, handle.snapshot():
        pass
    assert str(caught.value) == (
        f"the search index has not been built yet: run `finder index build` (index directory {tmp_path / 'index'})"
    )


def test_a_pointer_to_a_build_that_is_not_there_names_no_build(seeded_index):
    from finder.search.indexer import CURRENT

    (seeded_index.index_dir / CURRENT).write_text("build-that-was-pruned\n", encoding="utf-8")
    assert current_build(seeded_index.index_dir) is None
    (seeded_index.index_dir / CURRENT).write_text("\n", encoding="utf-8")
    assert current_build(seeded_index.index_dir) is None
