"""Shared pytest fixtures for the search area: a store + index seeded with known listings.

Every listing is FICTIONAL. Places are laid out due north of a fixed search
point, so distances are exact by construction (1 degree of latitude is
``KM_PER_DEGREE`` km on the sphere the search uses).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from finder.db import Store
from finder.geo import Location
from finder.geo.distance import EARTH_RADIUS_KM
from finder.ingest import ingest
from finder.records import Record
from tests.helpers import items, record_data

#: The search point used by the seeded index (central Leeds).
ORIGIN = (53.8, -1.55)
KM_PER_DEGREE = EARTH_RADIUS_KM * math.pi / 180.0


def north_of_origin(km: float) -> tuple[float, float]:
    """A point exactly ``km`` due north of ORIGIN."""
    return ORIGIN[0] + km / KM_PER_DEGREE, ORIGIN[1]


def origin(label: str = "Leeds (test point)") -> Location:
    return Location(label=label, lat=ORIGIN[0], lon=ORIGIN[1], precision="point", source="latlon")


def listing(key: str, *, km: float | None = 5.0, setting: str = "private_clinic", **overrides: Any) -> Record:
    """A fictional listing ``km`` north of ORIGIN (``km=None``: no location of its own)."""
    data = record_data(
        name=overrides.pop("name", f"Test {key.title()}"),
        practice_name=overrides.pop("practice_name", None),
        registration={"number": f"PH{zlib.crc32(key.encode()) % 10_000_000:07d}"},
        provenance={"source": "test", "source_id": key},
        specialisms=overrides.pop("specialisms", []),
        conditions=overrides.pop("conditions", []),
        treatments=overrides.pop("treatments", []),
        funding=overrides.pop("funding", ["private"]),
        referral_routes=overrides.pop("referral_routes", [{"route": "self_referral"}]),
        is_sample=True,
    )
    if km is None:
        data["locations"] = overrides.pop("locations", [])
    else:
        lat, lon = north_of_origin(km)
        data["locations"] = overrides.pop(
            "locations", [{"setting": setting, "postcode": "LS1 1AA", "town": "Leeds", "lat": lat, "lon": lon}]
        )
    data.update(overrides)
    return Record.model_validate(data)


def load(store: Store, records: list[Record], *, source: str = "test", complete: bool = False) -> list[int]:
    report = ingest(store, items(*records), source=source, complete=complete)
    assert report.written, report.problems
    return report.changed_ids


def seed_listings() -> list[tuple[str, Record]]:
    """The known set behind ``seeded_index``: (key, record)."""
    return [
        (
            "zoe",
            listing(
                "zoe",
                km=1.0,
                name="Zoë Whittaker",
                practice_name="Aire Neuro Physio",
                bio="I help people with multiple sclerosis keep walking. Sessions in the hydrotherapy pool.",
                specialisms=["neurological"],
                conditions=["multiple_sclerosis", "spasticity"],
                treatments=["hydrotherapy", "exercise_programme"],
                funding=["nhs"],
                accepting_new_patients=True,
                # Checked recently: within the 90 days finder.safety allows "Registered" for.
                registration={
                    "number": "PH9700001",
                    "status": "registered",
                    "checked_on": (date.today() - timedelta(days=5)).isoformat(),
                },
            ),
        ),
        (
            "smith",
            listing(
                "smith",
                km=5.0,
                name="Ann Smith",
                bio="Back pain and neck pain clinic. Electrotherapy including TENS for pain relief.",
                specialisms=["musculoskeletal"],
                conditions=["back_pain", "neck_pain"],
                treatments=["manual_therapy"],
                funding=["private"],
                accepting_new_patients=False,
            ),
        ),
        (
            "patel",
            listing(
                "patel",
                km=8.0,
                name="Priya Patel",
                bio="Ms Patel treats sports injuries. She has ten years of experience with runners.",
                specialisms=["sports"],
                conditions=["sports_injury"],
                funding=["private", "insurance"],
                setting="sports_club",
            ),
        ),
        (
            "fes",
            listing(
                "fes",
                km=12.0,
                name="Gareth Evans",
                bio="Stroke rehabilitation using functional electrical stimulation and treadmill training.",
                specialisms=["neurological"],
                conditions=["stroke"],
                funding=["nhs", "private"],
                setting="hospital",
                locations=[
                    {"setting": "hospital", "postcode": "LS1 1AA", "lat": north_of_origin(12.0)[0], "lon": ORIGIN[1],
                     "wheelchair_access": True},
                    {"setting": "community_clinic", "postcode": "LS1 1AA", "lat": north_of_origin(30.0)[0], "lon": ORIGIN[1]},
                ],
            ),
        ),
        ("edge_in", listing("edge_in", km=24.9, name="Edith Inside", specialisms=["neurological"], funding=["nhs"])),
        ("edge_out", listing("edge_out", km=25.1, name="Oscar Outside", specialisms=["neurological"], funding=["nhs"])),
        (
            "visitor",
            listing(
                "visitor",
                km=60.0,
                name="Harriet Homevisit",
                bio="Home visits for people with MS across the county.",
                specialisms=["neurological"],
                conditions=["multiple_sclerosis"],
                funding=["charity"],
                home_visits={
                    "base_postcode": "HG1 1AA",
                    "coverage_radius_km": 45,
                    "lat": north_of_origin(40.0)[0],
                    "lon": ORIGIN[1],
                },
            ),
        ),
        (
            "online",
            listing(
                "online",
                km=None,
                name="Olive Online",
                bio="Video consultations for MS fatigue management.",
                specialisms=["neurological"],
                conditions=["multiple_sclerosis", "fatigue"],
                funding=["private"],
                locations=[{"setting": "online"}],
            ),
        ),
        (
            "far",
            listing(
                "far",
                km=150.0,
                name="Fiona Faraway",
                bio="Aquatic therapy for people with multiple sclerosis.",
                specialisms=["neurological"],
                conditions=["multiple_sclerosis"],
                funding=["nhs"],
            ),
        ),
    ]


@dataclass
class SeededIndex:
    """A store and an index built from known listings; ``ids`` maps key -> practitioner id."""

    store: Store
    index_dir: Path
    index: Any
    ids: dict[str, int] = field(default_factory=dict)

    def search(self, **kwargs: Any) -> Any:
        from finder.search import SearchQuery, query

        return query(SearchQuery(**kwargs), index=self.index)

    def keys(self, results: Any) -> list[str]:
        by_id = {v: k for k, v in self.ids.items()}
        return [by_id.get(hit.id, str(hit.id)) for hit in results.hits]

    def rebuild(self) -> None:
        from finder.search import build_index

        build_index(self.store, self.index_dir)
        self.index.reopen()


def make_seeded(store: Store, index_dir: Path, listings: list[tuple[str, Record]] | None = None) -> SeededIndex:
    from finder.search import SearchIndex, build_index

    listings = seed_listings() if listings is None else listings
    ids = load(store, [record for _, record in listings])
    build_index(store, index_dir)
    return SeededIndex(
        store=store,
        index_dir=index_dir,
        index=SearchIndex(index_dir, check_interval=0.0),
        ids={key: pid for (key, _), pid in zip(listings, ids, strict=True)},
    )


@pytest.fixture
def seeded_index(sqlite_store: Store, tmp_path: Path) -> Iterator[SeededIndex]:
    """SQLite store + index holding ``seed_listings()`` (all fictional)."""
    seeded = make_seeded(sqlite_store, tmp_path / "index")
    yield seeded
    seeded.index.close()


@pytest.fixture
def seeded_index_any_store(store: Store, tmp_path: Path) -> Iterator[SeededIndex]:
    """The same, on SQLite and on PostgreSQL."""
    seeded = make_seeded(store, tmp_path / "index")
    yield seeded
    seeded.index.close()
