"""The web workers' row cache (finder.db.RowCache): fast while nothing changed, never older than the store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from finder.db import RowCache, Store
from finder.ingest import ingest
from tests.helpers import items, make_record


def _record(n: int, **overrides: object) -> object:
    fields: dict[str, object] = {
        "name": f"Practitioner {n}",
        "provenance": {"source": "csv", "source_id": f"t-{n}"},
        "registration": {"number": f"PH99100{n}", "status": "registered", "checked_on": "2026-11-20"},
    }
    return make_record(**{**fields, **overrides})


@pytest.fixture
def web_store(store: Store) -> Iterator[Store]:
    """A second handle on the same database, as a web worker has (the writer is another process)."""
    cached = Store(store.url, row_cache_size=2)
    yield cached
    cached.dispose()


def _ids(store: Store) -> list[int]:
    return [s.id for s in store.iter_practitioners()]


def test_while_nothing_changes_rows_come_from_the_cache(store: Store, web_store: Store) -> None:
    ingest(store, items(_record(1), _record(2)), source="csv")
    first, second = _ids(store)
    assert [s.record.name for s in web_store.get_many([second, first])] == ["Practitioner 2", "Practitioner 1"]
    cache = web_store.row_cache
    assert cache is not None and (cache.hits, cache.misses) == (0, 2)
    again = web_store.get_many([first, second, 10_000])
    assert [s.id for s in again] == [first, second]  # order kept, an unknown id skipped
    assert (cache.hits, cache.misses) == (2, 3)
    assert web_store.get(first) is again[0]


def test_a_change_by_another_process_is_served_at_once(store: Store, web_store: Store) -> None:
    ingest(store, items(_record(1), _record(2)), source="csv")
    first, second = _ids(store)
    assert web_store.get(first).record.practice_name != "Renamed Practice"  # type: ignore[union-attr]
    assert web_store.get(second).withdrawn_at is None  # type: ignore[union-attr]
    # The source renames one listing and stops listing the other: both must show on the next read.
    ingest(store, items(_record(1, practice_name="Renamed Practice")), source="csv", complete=True)
    assert web_store.get(first).record.practice_name == "Renamed Practice"  # type: ignore[union-attr]
    assert web_store.get(second).withdrawn_at is not None  # type: ignore[union-attr]


def test_rows_read_while_a_write_committed_are_not_kept() -> None:
    cache = RowCache(10)
    found, missing = cache.lookup(1, [5])
    assert (found, missing) == ({}, [5])
    cache.lookup(2, [6])  # another request saw the newer write first
    cache.keep(1, [_stored(5)])  # rows the first request read: maybe newer than write 1, maybe not
    assert cache.lookup(2, [5]) == ({}, [5])


def test_the_least_recently_used_rows_go_first() -> None:
    cache = RowCache(2)
    cache.lookup(1, [1, 2, 3])
    cache.keep(1, [_stored(1), _stored(2)])
    cache.lookup(1, [1])  # 1 is now the most recently used
    cache.keep(1, [_stored(3)])
    found, missing = cache.lookup(1, [1, 2, 3])
    assert sorted(found) == [1, 3] and missing == [2]


def _stored(practitioner_id: int) -> object:
    from datetime import UTC, datetime

    from finder.models import StoredPractitioner

    now = datetime(2026, 12, 1, tzinfo=UTC)
    return StoredPractitioner(
        id=practitioner_id, record=_record(practitioner_id), created_at=now, updated_at=now, withdrawn_at=None, sources=()
    )


def test_the_sample_banner_follows_the_store(store: Store, web_store: Store) -> None:
    ingest(store, items(_record(1)), source="csv")
    seq = web_store.change_seq()
    assert web_store.has_sample_records(seq=seq) is False
    sample = _record(2, is_sample=True, provenance={"source": "sample", "source_id": "s-2"})
    assert ingest(store, items(sample), source="sample").added == 1
    assert web_store.has_sample_records(seq=seq) is False  # kept for the number it was read under
    assert web_store.has_sample_records(seq=web_store.change_seq()) is True
    assert ingest(store, items(), source="sample", complete=True).withdrawn == 1  # the sample withdrawn
    assert web_store.has_sample_records(seq=web_store.change_seq()) is False


def test_rows_read_as_columns_equal_the_orm_objects(store: Store) -> None:
    """get_many reads plain rows (Store._read_many); what it builds must equal the ORM path
    (finder.models.to_stored), field for field: places in order, hours, every source, dates."""
    from sqlalchemy import select

    from finder.models import Practitioner, to_stored

    hours = {"intervals": [{"day": "monday", "opens": "09:00", "closes": "17:00"}, {"day": "saturday", "opens": "09:00", "closes": "12:00"}], "note": "Bank holidays closed"}
    rich = _record(
        1,
        locations=[
            {"setting": "private_clinic", "postcode": "LS6 2AB", "lat": 53.82, "lon": -1.57, "opening_hours": hours, "phone": "0113 496 0000"},
            {"setting": "community_clinic", "postcode": "LS2 9AA", "lat": 53.80, "lon": -1.55, "wheelchair_access": True},
        ],
        home_visits={"base_postcode": "LS6 2AB", "coverage_radius_km": 8, "lat": 53.82, "lon": -1.57},
        referral_routes=[{"route": "self_referral", "not_for": ["multiple_sclerosis"]}, {"route": "gp"}],
        fee_initial_gbp="55.50",
    )
    other = _record(1, provenance={"source": "json", "source_id": "j-1"}, practice_name="First Source")
    assert ingest(store, items(other), source="json").added == 1
    # The same HCPC number from a second source merges into that listing: two sources, the newer wins.
    report = ingest(store, items(rich, _record(2)), source="csv")
    assert (report.updated, report.added) == (1, 1)
    ids = _ids(store)
    with store.reader() as session:
        orm = {row.id: to_stored(row) for row in session.scalars(select(Practitioner))}
    read = {s.id: s for s in store.get_many(ids)}
    assert read == orm
    first = read[ids[0]]
    assert [loc.postcode for loc in first.record.locations] == ["LS6 2AB", "LS2 9AA"]
    assert [s.source for s in first.sources] == ["json", "csv"]
    assert first.record.locations[0].opening_hours is not None
    assert first.record.locations[0].opening_hours.note == "Bank holidays closed"
    assert first.created_at.tzinfo is not None and str(first.record.fee_initial_gbp) == "55.50"


def test_remembered_answers_last_until_a_source_loads_or_a_listing_changes(store: Store, web_store: Store) -> None:
    """The about page's data-quality report is kept per Store.runs_key (finder.web.pages.about)."""
    calls: list[int] = []

    def compute() -> list[int]:
        calls.append(1)
        return [len(calls)]

    first = web_store.runs_key()
    assert web_store.remember("report", first, compute) == [1]
    assert web_store.remember("report", web_store.runs_key(), compute) == [1] and len(calls) == 1
    ingest(store, items(_record(1)), source="csv")  # a run that adds a listing
    assert web_store.runs_key() > first
    assert web_store.remember("report", web_store.runs_key(), compute) == [2]
    second = web_store.runs_key()
    ingest(store, items(_record(1)), source="csv")  # nothing changed, but the source was loaded again
    assert web_store.runs_key()[0] > second[0] and web_store.runs_key()[1] == second[1]
    assert web_store.remember("report", web_store.runs_key(), compute) == [3]
    kept = web_store.remember("report", web_store.runs_key(), compute)
    kept.append(99)  # a caller changing its copy changes nothing kept
    assert web_store.remember("report", web_store.runs_key(), compute) == [3]


@pytest.mark.parametrize("size", [0, 5])
def test_a_practitioner_page_shows_a_change_at_once_with_or_without_kept_rows(app_config: dict[str, object], size: int) -> None:
    """Through the web layer: the page reads its row under the request's change number when
    the worker keeps rows, and straight from the store when it keeps none."""
    from finder import create_app
    from finder.db import store_from

    app = create_app({**app_config, "ROW_CACHE_SIZE": size})
    store = store_from(app)
    store.upgrade()
    writer = Store(store.url)  # another process's writes
    try:
        ingest(writer, items(_record(1)), source="csv")
        [pid] = _ids(writer)
        client = app.test_client()
        for _ in range(2):
            assert "Practitioner 1" in client.get(f"/practitioners/{pid}").get_data(as_text=True)
        cache = store.row_cache
        assert (cache is None) == (size == 0)
        if cache is not None:
            assert (cache.hits, cache.misses) == (1, 1)  # the second view came from the kept row
        ingest(writer, items(_record(1, practice_name="Renamed Practice")), source="csv")
        assert "Renamed Practice" in client.get(f"/practitioners/{pid}").get_data(as_text=True)
    finally:
        writer.dispose()
        store.dispose()
