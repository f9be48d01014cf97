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


# ---- exact values the rules above rest on (written against surviving mutants: docs/testing.md) ----


def test_a_check_never_made_is_stale_and_only_practising_statuses_can_be_shown_as_registered() -> None:
    assert safety.is_stale(None, TODAY) is True
    assert safety.is_stale(None, TODAY, max_age_days=100_000) is True
    assert safety.is_shown_as_registered("lapsed", None, TODAY) is False
    assert safety.is_shown_as_registered("unchecked", None, TODAY) is False
    assert safety.is_shown_as_registered("registered", None, TODAY) is True


def test_a_given_date_is_used_not_the_clock() -> None:
    # Dates far from the clock: a rule that fell back to date.today() would answer the other way.
    later = date(2100, 1, 1)
    assert safety.is_shown_as_registered("registered", date(2099, 6, 30), today=later) is False
    data = {"number": "PH123456", "status": "registered", "checked_on": date(2099, 12, 20), "period_to": date(2099, 12, 31)}
    shown = safety.registration_display(make_record(registration=data).registration, later)
    assert shown.shown_as_registered is False
    assert shown.label == "Registration period ended on 31 December 2099 — check the HCPC register"
    assert safety.freshness([date(2099, 1, 1)], date(2099, 1, 1), today=later).is_stale is True


def test_the_allowed_age_defaults_to_90_days_in_an_app_without_the_setting() -> None:
    from flask import Flask

    with Flask("bare").app_context():
        assert safety.max_check_age_days() == 90


def test_details_are_stale_after_180_days_not_on_the_180th() -> None:
    assert safety.freshness([TODAY - timedelta(days=180)], TODAY, today=TODAY).is_stale is False
    assert safety.freshness([TODAY - timedelta(days=181)], TODAY, today=TODAY).is_stale is True


def test_a_registration_marked_unchecked_is_not_shown_as_registered_even_with_a_check_date() -> None:
    data = {"number": "PH123456", "status": "unchecked", "checked_on": TODAY - timedelta(days=1)}
    shown = safety.registration_display(make_record(registration=data).registration, TODAY)
    assert shown.label == "HCPC registration not yet checked — check the HCPC register"
    assert (shown.tone, shown.shown_as_registered) == ("unknown", False)


def test_registration_display_carries_every_field() -> None:
    checked = date(2026, 11, 20)
    registered = {"number": "PH123456", "status": "registered", "checked_on": checked}
    shown = safety.registration_display(make_record(registration=registered).registration, TODAY)
    assert (shown.number, shown.checked_on, shown.listed_by_default, shown.help) == ("PH123456", checked, True, "")
    assert shown.label == "Registered with the HCPC (checked 20 November 2026)"
    conditions = {**registered, "status": "conditions_of_practice"}
    shown = safety.registration_display(make_record(registration=conditions).registration, TODAY)
    assert shown.help == "May practise, subject to conditions set by the HCPC."
    assert shown.listed_by_default is True
    lapsed = {**registered, "status": "lapsed"}
    shown = safety.registration_display(make_record(registration=lapsed).registration, TODAY)
    assert (shown.listed_by_default, shown.help) == (False, "")
    assert shown.label == "Registration lapsed (checked 20 November 2026): not registered to practise"


def test_route_text_lists_three_limits_of_each_kind() -> None:
    route = make_record(
        referral_routes=[
            {
                "route": "self_referral",
                "only_for": ["musculoskeletal", "sports", "pelvic_health"],
                "not_for": ["whiplash", "headache", "arthritis"],
            }
        ]
    ).referral_routes[0]
    assert safety.route_text(route) == (
        "You can refer yourself: only for Musculoskeletal (joints, back, muscles), Sports injuries and Pelvic health; "
        "not for Whiplash, Headache or Arthritis"
    )
    two = make_record(
        referral_routes=[{"route": "gp", "only_for": ["sports", "pelvic_health"], "not_for": ["whiplash", "headache"]}]
    ).referral_routes[0]
    assert safety.route_text(two) == "GP referral: only for Sports injuries and Pelvic health; not for Whiplash or Headache"


def test_conditions_are_found_next_to_punctuation() -> None:
    assert safety.conditions_in_text("physio for MS, Leeds") == ("multiple_sclerosis",)
    assert safety.conditions_in_text("Back-pain/whiplash") == ("back_pain", "whiplash")


def test_the_condition_phrase_table() -> None:
    # Each condition is found by the words of its code, the words of its label before any
    # bracket, and the short words people type; conditions_in_text reads this table.
    phrases = safety._condition_phrases()
    assert phrases == safety._PHRASES

    def of(code: str) -> list[str]:
        return [phrase for phrase, c in phrases if c == code]

    assert of("brain_injury") == [" brain injury ", " acquired brain injury "]
    assert of("multiple_sclerosis") == [" multiple sclerosis ", " multiple sclerosis ", " ms "]
    assert of("chronic_pain") == [" chronic pain ", " persistent "]
    assert of("parkinsons") == [" parkinsons ", " parkinson s ", " parkinson "]


def test_route_masks_combine_entries_of_one_route() -> None:
    # Two self-referral entries: the route applies to the groups of either, and excludes only what both exclude.
    record = make_record(
        referral_routes=[
            {"route": "self_referral", "only_for": ["musculoskeletal"], "not_for": ["whiplash", "multiple_sclerosis"]},
            {"route": "self_referral", "only_for": ["neurological"], "not_for": ["whiplash"]},
            {"route": "gp"},
        ]
    )
    specialism_bit = {"musculoskeletal": 0, "neurological": 1, "sports": 2}
    condition_bit = {"multiple_sclerosis": 0, "stroke": 1, "whiplash": 2}
    assert safety.route_masks(record, specialism_bit, condition_bit) == {
        "self_referral": (0b011, 0b100),
        "gp": (0b111, 0b000),
    }


def test_excluded_conditions_names_what_self_referral_is_not_for() -> None:
    record = make_record(referral_routes=NOT_MS)
    ms_and_back = safety.ReferralContext(conditions=("multiple_sclerosis", "back_pain"))
    assert safety.excluded_conditions(record, "self_referral", ms_and_back) == ["multiple_sclerosis"]
    assert safety.excluded_conditions(record, "gp", ms_and_back) == []
    assert safety.excluded_conditions(record, "self_referral", None) == []
    assert safety.excluded_conditions(record, "self_referral", safety.ReferralContext(conditions=("back_pain",))) == []


def test_excluded_conditions_leaves_out_a_condition_another_entry_covers() -> None:
    # Self-referral for neurological problems except MS, and for musculoskeletal problems:
    # someone with MS who searched musculoskeletal care may refer themselves (the second entry).
    record = make_record(
        referral_routes=[
            {"route": "self_referral", "only_for": ["neurological"], "not_for": ["multiple_sclerosis"]},
            {"route": "self_referral", "only_for": ["musculoskeletal"]},
        ]
    )
    msk = safety.ReferralContext(specialisms=("musculoskeletal",), conditions=("multiple_sclerosis",))
    assert safety.excluded_conditions(record, "self_referral", msk) == []
    neuro = safety.ReferralContext(specialisms=("neurological",), conditions=("multiple_sclerosis",))
    assert safety.excluded_conditions(record, "self_referral", neuro) == ["multiple_sclerosis"]
