"""The clinical safety rules (finder.safety), one test or table per rule; docs/clinical-safety.md links here."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from finder import safety
from finder.vocab import REGISTRATION_STATUSES
from finder.web import present
from tests.helpers import make_record

TODAY = date(2026, 12, 2)


def registration(status: str, checked_on: date | None = TODAY - timedelta(days=10)) -> dict[str, object]:
    data: dict[str, object] = {"number": "PH123456", "status": status}
    if status != "unchecked":
        data["checked_on"] = checked_on
    return data


# ---- H1: registration that does not allow practice ----------------------------------


@pytest.mark.parametrize("status", list(REGISTRATION_STATUSES))
def test_only_listings_the_register_allows_are_listed_by_default(status: str) -> None:
    barred = status in ("suspended", "lapsed", "removed", "not_found")
    assert safety.listed_by_default(status) is not barred
    record = make_record(registration=registration(status))
    assert safety.may_offer_referral(record) is not barred
    shown = safety.registration_display(record.registration, TODAY)
    assert shown.listed_by_default is not barred
    assert (shown.tone == "warning") is barred


@pytest.mark.parametrize("status", ["suspended", "lapsed", "removed", "not_found"])
def test_how_to_be_seen_never_invites_booking_a_listing_that_may_not_practise(status: str) -> None:
    record = make_record(
        registration=registration(status), booking_url="https://example.org/book", phone="0113 496 0000"
    )
    step = present.next_step(record)
    assert "refer yourself" not in step and "book online" not in step
    assert step.startswith("Do not book or refer")
    assert "do not book or refer" in safety.not_practising_warning(record).lower()


def test_the_warning_says_the_status_when_checked_and_where_to_check() -> None:
    # The page gives the register link beside the warning; the ORUK feed's alert carries it inside.
    record = make_record(registration={"number": "PH123456", "status": "not_found", "checked_on": date(2026, 3, 2)})
    assert safety.not_practising_warning(record) == (
        "The HCPC register showed “not found on the HCPC register” when we last checked on 2 March 2026, "
        "so they may not practise as a physiotherapist. "
        "Do not book or refer until the HCPC register shows them as registered."
    )
    link = "https://www.hcpc-uk.org/check-the-register/"
    assert safety.not_practising_warning(record, check_url=link) == (
        safety.not_practising_warning(record) + f" Check the HCPC register: {link}."
    )


# ---- H2: stale or missing registration checks ----------------------------------------


@pytest.mark.parametrize("status", ["registered", "conditions_of_practice"])
@pytest.mark.parametrize(("age_days", "registered"), [(0, True), (90, True), (91, False), (3 * 365, False)])
def test_an_old_check_is_not_shown_as_registered(status: str, age_days: int, registered: bool) -> None:
    checked = TODAY - timedelta(days=age_days)
    shown = safety.registration_display(make_record(registration=registration(status, checked)).registration, TODAY)
    assert shown.shown_as_registered is registered
    assert shown.label.startswith("Registered with the HCPC") is registered
    if not registered:
        assert shown.label == f"Last checked on {checked.day} {checked:%B %Y} — check the HCPC register"
        assert shown.tone == "unknown"
        assert shown.link.startswith("https://")


@pytest.mark.parametrize(("days_left", "registered"), [(1, True), (0, True), (-1, False)])
def test_a_registration_period_that_has_ended_is_not_shown_as_registered(days_left: int, registered: bool) -> None:
    # Checked recently and "Registered" on the register, but the period it showed ends before today.
    data = {**registration("registered"), "period_to": TODAY + timedelta(days=days_left)}
    shown = safety.registration_display(make_record(registration=data).registration, TODAY)
    assert shown.shown_as_registered is registered
    assert shown.label.startswith("Registered with the HCPC") is registered
    if not registered:
        assert shown.label.startswith("Registration period ended on ") and shown.tone == "unknown"


def test_the_allowed_age_is_a_setting() -> None:
    checked = TODAY - timedelta(days=40)
    reg = make_record(registration=registration("registered", checked)).registration
    assert safety.registration_display(reg, TODAY).shown_as_registered
    assert not safety.registration_display(reg, TODAY, max_age_days=30).shown_as_registered


def test_the_setting_comes_from_the_app(tmp_path: object) -> None:
    from finder import create_app

    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path), "REGISTRATION_MAX_AGE_DAYS": 7})
    reg = make_record(registration=registration("registered", date.today() - timedelta(days=8))).registration
    with app.app_context():
        assert safety.max_check_age_days() == 7
        assert not safety.registration_display(reg).shown_as_registered
    assert safety.registration_display(reg).shown_as_registered  # the 90-day default outside the app


def test_an_unchecked_registration_is_never_registered() -> None:
    shown = safety.registration_display(make_record(registration={"number": "PH1"}).registration, TODAY)
    assert not shown.shown_as_registered and shown.tone == "unknown"
    assert "not yet checked" in shown.label


def test_the_check_link_opens_the_register_entry_for_the_number() -> None:
    config = {"HCPC_REGISTER_URL": "https://register.example/?q={number}", "HCPC_CHECK_URL": "https://register.example/"}
    assert safety.check_url_for("PH42", config) == "https://register.example/?q=PH42"
    assert safety.check_url_for(None, config) == "https://register.example/"


# ---- H3: referral routes by condition group and by condition ---------------------------

MSK_ONLY = [{"route": "self_referral", "only_for": ["musculoskeletal"]}, {"route": "gp"}]
NOT_MS = [{"route": "self_referral", "not_for": ["multiple_sclerosis"]}, {"route": "gp"}]


@pytest.mark.parametrize(
    ("routes", "text", "filters", "self_referral"),
    [
        (MSK_ONLY, "", {}, False),  # "I can refer myself" is not a self-referral for MSK only
        (MSK_ONLY, "", {"specialism": ["musculoskeletal"]}, True),
        (MSK_ONLY, "", {"condition": ["back_pain"]}, True),  # back pain is musculoskeletal
        (MSK_ONLY, "multiple sclerosis", {}, False),
        (NOT_MS, "", {}, True),  # applies, and the wording names the exclusion
        (NOT_MS, "physio for MS near Leeds", {}, False),
        (NOT_MS, "", {"condition": ["multiple_sclerosis"]}, False),
        (NOT_MS, "", {"condition": ["multiple_sclerosis", "back_pain"]}, True),  # not for every condition searched
        (NOT_MS, "back pain", {}, True),
    ],
)
def test_routes_apply_only_where_their_limits_allow(
    routes: list[dict[str, object]], text: str, filters: dict[str, list[str]], self_referral: bool
) -> None:
    record = make_record(referral_routes=routes)
    context = safety.referral_context(text, filters)
    assert ("self_referral" in safety.routes_for(record, context)) is self_referral
    assert "gp" in safety.routes_for(record, context)


def test_how_to_be_seen_tells_someone_with_ms_that_self_referral_is_not_for_ms() -> None:
    record = make_record(referral_routes=NOT_MS, phone="0113 496 0000")
    ms = safety.referral_context("MS", {})
    assert present.next_step(record, ms) == "Self-referral here is not for Multiple sclerosis (MS): you need a referral from your GP."
    assert present.next_step(record) == "You can refer yourself (not for Multiple sclerosis (MS)): phone 0113 496 0000."
    assert present.next_step(record, safety.referral_context("back pain")).startswith("You can refer yourself: phone")


def test_route_text_names_both_kinds_of_limit() -> None:
    record = make_record(
        referral_routes=[{"route": "self_referral", "only_for": ["musculoskeletal"], "not_for": ["whiplash"]}]
    )
    assert safety.route_text(record.referral_routes[0]) == (
        "You can refer yourself: only for Musculoskeletal (joints, back, muscles); not for Whiplash"
    )


def test_conditions_are_found_in_search_text_by_word_not_by_letters() -> None:
    assert safety.conditions_in_text("physio for MS in Leeds") == ("multiple_sclerosis",)
    assert safety.conditions_in_text("Multiple Sclerosis") == ("multiple_sclerosis",)
    assert safety.conditions_in_text("stroke rehab; back pain") == ("stroke", "back_pain")
    assert safety.conditions_in_text("Mr Mason's clinic") == ()


# ---- H4: stale details -----------------------------------------------------------------


def test_the_import_date_never_reads_as_a_check() -> None:
    fresh = safety.freshness([date(2026, 11, 1), None], date(2026, 12, 1), today=TODAY)
    assert fresh.text == "Details last checked by the source on 1 November 2026. Imported into Physio Finder on 1 December 2026."
    assert not fresh.is_stale
    unknown = safety.freshness([None], date(2026, 12, 1), today=TODAY)
    assert unknown.text.startswith("The source has not told us when these details were last checked.")
    assert unknown.is_stale and "ask the service" in unknown.waiting_note
    old = safety.freshness([date(2025, 1, 1)], date(2026, 12, 1), today=TODAY)
    assert old.is_stale and "may be out of date" in old.waiting_note


# ---- the hazard log points at tests that exist ------------------------------------------


def test_every_test_named_in_the_hazard_log_exists() -> None:
    """docs/clinical-safety.md links each hazard to its tests: a renamed test must not leave a dead link."""
    import ast
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    log = (root / "docs" / "clinical-safety.md").read_text(encoding="utf-8")
    named = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", log)
    assert len(named) >= 30
    hazards = re.findall(r"^## (H\d+)\.", log, re.M)
    assert hazards == [f"H{i}" for i in range(1, len(hazards) + 1)] and len(hazards) >= 8
    for path, name in named:
        tree = ast.parse((root / path).read_text(encoding="utf-8"))
        functions = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
        assert name in functions, f"{path}::{name} is named in docs/clinical-safety.md but does not exist"
