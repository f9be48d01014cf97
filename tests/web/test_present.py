"""Wording shared by pages and API: the registration badge, distances, referral routes."""

from __future__ import annotations

from datetime import date

import pytest

from finder.vocab import REGISTRATION_STATUSES
from finder.web import present
from tests.helpers import make_record


@pytest.mark.parametrize("status", list(REGISTRATION_STATUSES))
def test_only_practising_statuses_are_ever_called_registered(status: str) -> None:
    registration = {"number": "PH123456", "status": status}
    if status != "unchecked":
        registration["checked_on"] = "2025-03-03"
    view = present.registration_view(make_record(registration=registration), today=date(2025, 3, 10))
    practising = status in ("registered", "conditions_of_practice")
    assert view.is_practising is practising
    assert view.badge.startswith("Registered with the HCPC") is practising
    if practising:
        assert "(checked 3 March 2025)" in view.badge


def test_distance_in_km_and_miles() -> None:
    assert present.distance_text(3.2) == "3.2 km (2.0 miles)"
    assert present.distance_text(1.6) == "1.6 km (1.0 mile)"
    assert present.distance_text(None) == ""


def test_uk_dates() -> None:
    assert present.uk_date(date(2025, 3, 3)) == "3 March 2025"


def test_next_step_respects_condition_groups() -> None:
    record = make_record(
        referral_routes=[{"route": "self_referral", "only_for": ["musculoskeletal"]}, {"route": "gp"}],
        phone="0113 496 0000",
    )
    general = present.next_step(record)
    assert "refer yourself for musculoskeletal" in general
    assert "otherwise you need a referral from your GP" in general
    assert present.next_step(record, "neurological") == "Needs a referral from your GP."
    assert present.next_step(record, "musculoskeletal").startswith("You can refer yourself: phone 0113 496 0000")


def test_referrers_read_as_a_sentence() -> None:
    record = make_record(referral_routes=[{"route": r} for r in ("gp", "ms_nurse", "neurologist", "other_professional")])
    assert present.next_step(record) == (
        "Needs a referral from your GP, an MS nurse, a neurologist or another health professional."
    )


def test_routes_show_their_scope() -> None:
    record = make_record(referral_routes=[{"route": "ms_nurse", "only_for": ["neurological"]}, {"route": "gp"}])
    texts = [r.text for r in present.route_views(record)]
    assert texts == ["MS nurse referral: only for Neurological (MS, stroke, Parkinson's)", "GP referral: for all conditions"]


def test_home_visits_to_your_area() -> None:
    record = make_record(home_visits={"base_postcode": "LS6 2AB", "coverage_radius_km": 12})
    assert present.home_visit_text(record, visits_you=True).startswith("Visits your area")
    assert present.home_visit_text(record) == "Home visits within 12 km of LS6 2AB"


@pytest.mark.parametrize(
    ("url", "safe"),
    [("https://example.org/x", "https://example.org/x"), ("javascript:alert(1)", "#"), ("data:text/html,x", "#"), (None, "#")],
)
def test_only_web_addresses_become_links(url: str | None, safe: str) -> None:
    assert present.external_url(url) == safe
