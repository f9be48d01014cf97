"""The about page's counts are kept between visits (a full pass over the store), and follow every change."""

from __future__ import annotations

from finder.db import Store
from finder.ingest import ingest
from tests.helpers import items, make_record


def _record(n: int, **overrides: object) -> object:
    return make_record(
        name=f"Person {n}",
        registration={"number": f"PH88{n:05d}"},
        provenance={"source": "csv", "source_id": f"s-{n}"},
        **overrides,
    )


def test_counts_follow_adds_updates_and_withdrawals(store: Store) -> None:
    ingest(store, items(_record(1), _record(2, specialisms=["sports"])), source="csv")
    first = store.stats()
    assert first["total"] == 2 and first["specialism"] == {"neurological": 1, "sports": 1}
    assert store.stats() == first
    first["total"] = 99  # a caller changing its copy must not change what the next caller sees
    assert store.stats()["total"] == 2

    ingest(store, items(_record(3)), source="csv")
    assert store.stats()["total"] == 3

    # An update that changes a count but not the number of listings.
    ingest(store, items(_record(2, specialisms=["neurological"])), source="csv")
    assert store.stats()["specialism"] == {"neurological": 3}

    # A complete run that no longer lists person 3 withdraws them.
    ingest(store, items(_record(1), _record(2, specialisms=["neurological"])), source="csv", complete=True)
    after = store.stats()
    assert after["total"] == 2 and after["specialism"] == {"neurological": 2}
