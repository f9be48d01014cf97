"""The real thing: every GB postcode, once (slow: about 10 s), and the committed sample against it."""

from __future__ import annotations

from pathlib import Path

import pytest

from finder.db import Store
from finder.geo.gazetteer import build_gazetteer, open_gazetteer
from finder.ingest import ingest
from finder.sample import generate_sample_csv
from scrapers.csv_import import read_csv

COMMITTED = Path(__file__).resolve().parents[2] / "data" / "sample" / "practitioners.csv"


@pytest.mark.slow
def test_full_build_then_the_committed_sample(tmp_path: Path) -> None:
    path = tmp_path / "gazetteer.sqlite"
    report = build_gazetteer(path)
    assert 1_700_000 < report.postcodes < 1_800_000
    assert report.areas == 120 and report.areas_built is None
    assert 2_800 < report.outcodes < 3_000 and 10_000 < report.sectors < 12_000
    assert 0 < report.approximate_postcodes < 2_000
    assert report.size_bytes < 80_000_000
    with open_gazetteer(path) as gazetteer:
        lat, lon = gazetteer.postcode_point("SW1A 1AA")
        assert lat == pytest.approx(51.501009, abs=1e-5) and lon == pytest.approx(-0.141588, abs=1e-5)
        assert gazetteer.counts()["postcodes"] == report.postcodes
        assert gazetteer.postcode_point("ZE1 0AA")  # Shetland
        assert gazetteer.postcode_point("TR21 0AB")  # Isles of Scilly

        # The committed demo file is exactly what the documented command makes.
        regenerated = tmp_path / "practitioners.csv"
        generate_sample_csv(2000, 1, regenerated, gazetteer=gazetteer)
        assert regenerated.read_bytes() == COMMITTED.read_bytes(), (
            "data/sample/practitioners.csv is stale: regenerate it with "
            "`finder sample generate --count 2000 --seed 1 --out data/sample/practitioners.csv`"
        )

        # ... and imports cleanly with geocoding on (home-visit bases need the gazetteer).
        store = Store(f"sqlite:///{tmp_path / 'finder.db'}")
        store.upgrade()
        try:
            result = ingest(store, read_csv(COMMITTED, source="sample"), source="sample", geocode=gazetteer.postcode_point)
            assert result.written and result.added == 2000 and result.rejected == 0, result.problems[:3]
            visiting = [s.record for s in store.iter_practitioners() if s.record.home_visits]
            assert visiting and all(r.home_visits.lat is not None for r in visiting)  # type: ignore[union-attr]
        finally:
            store.dispose()
