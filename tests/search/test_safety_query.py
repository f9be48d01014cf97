"""The safety rules inside the search engine (finder.search.query), on SQLite and PostgreSQL.

One listing of every registration status and two limited self-referral routes,
searched through SearchQuery directly (the pages and the API share this path).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from finder.db import Store
from finder.geo import Location
from finder.records import Record
from finder.safety import NOT_PRACTISING_STATUSES
from finder.vocab import REGISTRATION_STATUSES
from tests.plugins.search import ORIGIN, SeededIndex, listing, load, make_seeded

RECENT = (date.today() - timedelta(days=5)).isoformat()


def _registration(status: str, key: str) -> dict[str, str]:
    return {"number": f"PH{zlib.crc32(key.encode()) % 10_000_000:07d}", "status": status} | ({"checked_on": RECENT} if status != "unchecked" else {})


def status_listings() -> list[tuple[str, Record]]:
    """One listing of every registration status, plus an MSK-only and a not-for-MS self-referral."""
    rows = [
        (status, listing(status, km=1.0 + i, registration=_registration(status, status), conditions=["copd"], specialisms=["respiratory"]))
        for i, status in enumerate(REGISTRATION_STATUSES)
    ]
    rows.append(("msk_only", listing("msk_only", km=2.5, registration=_registration("registered", "msk_only"),
                                     specialisms=["musculoskeletal", "neurological"], conditions=["back_pain", "multiple_sclerosis"],
                                     referral_routes=[{"route": "self_referral", "only_for": ["musculoskeletal"]}, {"route": "gp"}])))
    rows.append(("not_ms", listing("not_ms", km=3.5, registration=_registration("registered", "not_ms"),
                                   specialisms=["musculoskeletal", "neurological"], conditions=["back_pain", "multiple_sclerosis"],
                                   referral_routes=[{"route": "self_referral", "not_for": ["multiple_sclerosis"]}, {"route": "gp"}])))
    rows.append(("stale", listing("stale", km=4.5, conditions=["fatigue"], specialisms=["respiratory"],
                                  registration={"number": "PH7654321", "status": "registered", "checked_on": "2022-01-05"})))
    # Checked last week as "Registered", but the period the register showed ended yesterday.
    rows.append(("ended", listing("ended", km=5.5, conditions=["parkinsons"], specialisms=["neurological"],
                                  registration={"number": "PH7654322", "status": "registered", "checked_on": RECENT,
                                                "period_to": (date.today() - timedelta(days=1)).isoformat()})))
    rows.append(("ends_today", listing("ends_today", km=6.5, conditions=["parkinsons"], specialisms=["neurological"],
                                       registration={"number": "PH7654323", "status": "registered", "checked_on": RECENT,
                                                     "period_to": date.today().isoformat()})))
    return rows


@pytest.fixture
def status_index(store: Store, tmp_path: Path) -> Iterator[SeededIndex]:
    seeded = make_seeded(store, tmp_path / "index", status_listings())
    yield seeded
    seeded.index.close()


HERE = Location(label="test", lat=ORIGIN[0], lon=ORIGIN[1], precision="point", source="latlon")


@pytest.mark.parametrize("status", list(REGISTRATION_STATUSES))
def test_each_status_is_listed_by_default_only_when_allowed_to_practise(status_index: SeededIndex, status: str) -> None:
    default = status_index.keys(status_index.search(location=HERE, text="copd", per_page=50))
    everyone = status_index.keys(status_index.search(location=HERE, text="copd", per_page=50, include_not_practising=True))
    assert (status in default) is (status not in NOT_PRACTISING_STATUSES)
    assert status in everyone


def test_counts_agree_with_the_hits(status_index: SeededIndex) -> None:
    results = status_index.search(location=HERE, text="copd", per_page=50)
    assert results.total == len(results.hits) == len(REGISTRATION_STATUSES) - len(NOT_PRACTISING_STATUSES)
    assert results.facets["specialism"]["respiratory"] == results.total
    text_only = status_index.search(text="copd", per_page=50)
    assert text_only.total == results.total  # without a place too


@pytest.mark.parametrize(
    ("text", "filters", "expected"),
    [
        ("", {}, {"not_ms"}),  # no condition: "only for MSK" is not "I can refer myself"
        ("back pain", {}, {"msk_only", "not_ms"}),
        ("multiple sclerosis", {}, set()),
        ("", {"condition": ["multiple_sclerosis"]}, set()),
        ("", {"specialism": ["musculoskeletal"]}, {"msk_only", "not_ms"}),
        ("", {"specialism": ["neurological"]}, {"not_ms"}),
    ],
)
def test_i_can_refer_myself_honours_route_limits(
    status_index: SeededIndex, text: str, filters: dict[str, list[str]], expected: set[str]
) -> None:
    wanted = {"referral_route": ["self_referral"], **filters}
    found = set(status_index.keys(status_index.search(location=HERE, text=text, filters=wanted, per_page=50)))
    assert found & {"msk_only", "not_ms"} == expected
    counted = status_index.search(location=HERE, text=text, filters=filters, per_page=50)
    limited = {"msk_only", "not_ms"} & set(status_index.keys(counted))
    others = len(set(status_index.keys(counted)) - limited)  # unlimited self-referral listings
    assert counted.facets["referral_route"]["self_referral"] == len(expected) + others


def test_registered_only_leaves_out_a_stale_check(status_index: SeededIndex) -> None:
    """Hazard H2: a check years old is not "Registered", so the "registered only" filter and its count leave it out."""
    everyone = status_index.search(location=HERE, text="fatigue")
    assert status_index.keys(everyone) == ["stale"]
    assert everyone.facets["flags"]["registered"] == 0
    assert status_index.search(location=HERE, text="fatigue", registered_only=True).total == 0
    assert status_index.search(text="fatigue", registered_only=True).total == 0
    fresh = status_index.search(location=HERE, text="copd", registered_only=True, per_page=50)
    assert set(status_index.keys(fresh)) == {"registered", "conditions_of_practice"}


def test_registered_only_leaves_out_a_registration_period_that_has_ended(status_index: SeededIndex) -> None:
    """Hazard H2: the badge (finder.safety.is_shown_as_registered) does not say "Registered" once the
    period the register showed has ended; the "registered only" filter and its count agree with it."""
    from finder.safety import is_shown_as_registered

    yesterday, today = date.today() - timedelta(days=1), date.today()
    assert not is_shown_as_registered("registered", yesterday) and is_shown_as_registered("registered", today)
    everyone = status_index.search(location=HERE, text="parkinsons", per_page=50)
    assert sorted(status_index.keys(everyone)) == ["ended", "ends_today"]  # listed: they may still practise
    assert everyone.facets["flags"]["registered"] == 1
    for where in (HERE, None):
        only = status_index.search(location=where, text="parkinsons", registered_only=True, per_page=50)
        assert status_index.keys(only) == ["ends_today"] and only.total == 1


def test_an_update_after_a_status_change_hides_the_listing(status_index: SeededIndex) -> None:
    from finder.search import update_index

    changed = listing("registered", km=1.0, registration=_registration("suspended", "registered"), conditions=["copd"], specialisms=["respiratory"])
    load(status_index.store, [changed])
    update_index(status_index.store, status_index.index_dir)
    status_index.index.reopen()
    assert "registered" not in status_index.keys(status_index.search(location=HERE, text="copd", per_page=50))
