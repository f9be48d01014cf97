"""The demo sample (all 2,000 fictional listings) behind a real app: store, index and
test gazetteer built once for the ORUK tests, read-only."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from finder import create_app
from finder.db import Store, store_from
from finder.ingest import ingest
from scrapers.csv_import import read_csv

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "practitioners.csv"


def sample_app(instance: Path, gazetteer_path: Path | None = None, **extra: Any) -> Any:
    config = {
        "TESTING": True,
        "INSTANCE_PATH": str(instance),
        "DATABASE_URL": f"sqlite:///{instance / 'finder.db'}",
        "INDEX_DIR": str(instance / "index"),
        "RATELIMIT_ENABLED": False,
        "SECRET_KEY": "test",
    }
    if gazetteer_path is not None:
        config["GAZETTEER_PATH"] = str(gazetteer_path)
    return create_app({**config, **extra})


def load_sample(store: Store) -> None:
    store.upgrade()
    report = ingest(store, read_csv(SAMPLE), source="csv", input_name=SAMPLE.name)
    assert report.written and report.added == 2000, report.summary()


@dataclass
class SampleSite:
    app: Any
    store: Store

    def client(self) -> Any:
        return self.app.test_client()


@pytest.fixture(scope="session")
def sample_site(tmp_path_factory: pytest.TempPathFactory, gazetteer_path: Path) -> Iterator[SampleSite]:
    """All 2,000 sample listings, indexed, with the test gazetteer (Leeds and more). Read-only."""
    from finder.search.indexer import build_index

    app = sample_app(tmp_path_factory.mktemp("oruk-sample"), gazetteer_path)
    store = store_from(app)
    load_sample(store)
    build_index(store, app.config["INDEX_DIR"])
    yield SampleSite(app, store)
    store.dispose()
