"""Presenter rules patients read, one value at a time (written to kill mutants that survived: docs/testing.md)."""

from __future__ import annotations

from datetime import date, timedelta

from finder.vocab import REFERRAL_ROUTES
from finder.web import present
from tests.helpers import make_record

CHECK = "https://www.hcpc-uk.org/check-the-register/"


def test_registration_json_dates() -> None:
    lapsed = make_record(
        registration={"number": "PH123456", "status": "lapsed", "checked_on": "2025-03-03", "period_to": "2024-12-31"}
    )
    body = present.registration_json(lapsed, CHECK)
    assert (body["status"], body["is_practising"]) == ("lapsed", False)
    assert (body["checked_on"], body["period_to"]) == ("2025-03-03", "2024-12-31")
    unchecked = present.registration_json(make_record(registration={"number": "PH123456"}), CHECK)
    assert (unchecked["checked_on"], unchecked["period_to"], unchecked["is_practising"]) == (None, None, False)


def test_waiting_time_wording() -> None:
    assert present.waiting_text(make_record()) == ""  # not stated: the page says nothing
    assert present.waiting_text(make_record(nhs_waiting_weeks=0)) == "no wait at the moment"
    assert present.waiting_text(make_record(nhs_waiting_weeks=1)) == "about 1 week"
    assert present.waiting_text(make_record(nhs_waiting_weeks=2)) == "about 2 weeks"


def test_no_home_visits_no_home_visit_text() -> None:
    assert present.home_visit_text(make_record()) == ""
    visits = make_record(home_visits={"base_postcode": "LS6 2AB", "coverage_radius_km": 12.5})
    assert present.home_visit_text(visits) == "Home visits within 12.5 km of LS6 2AB"
    assert present.home_visit_text(visits, visits_you=True) == "Visits your area: home visits within 12.5 km of LS6 2AB"


def test_route_views_keep_the_route_and_its_scope() -> None:
    record = make_record(referral_routes=[{"route": "self_referral", "only_for": ["musculoskeletal"]}, {"route": "gp"}])
    views = present.route_views(record)
    assert [(v.route, v.only_for, v.text) for v in views] == [
        ("self_referral", ("musculoskeletal",), "You can refer yourself: only for Musculoskeletal (joints, back, muscles)"),
        ("gp", (), "GP referral: for all conditions"),
    ]


def test_self_referral_scope_values() -> None:
    gp_only = make_record(referral_routes=[{"route": "gp"}])
    msk_only = make_record(referral_routes=[{"route": "self_referral", "only_for": ["musculoskeletal"]}, {"route": "gp"}])
    assert present.self_referral_scope(gp_only) == "none"
    assert present.self_referral_scope(gp_only, "neurological") == "none"
    assert present.self_referral_scope(msk_only) == "some"
    assert present.self_referral_scope(msk_only, "musculoskeletal") == "all"
    # Self-referral exists there, but not for this group: "some" (finder.safety, hazard H3).
    assert present.self_referral_scope(msk_only, "neurological") == "some"


def test_every_referrer_has_a_phrase() -> None:
    # _from_whom falls back to the vocabulary label for a route with no phrase; none lacks one today.
    assert set(present.REFERRERS) == set(REFERRAL_ROUTES) - {"self_referral"}


def test_next_step_sentences() -> None:
    def step(routes: list[dict[str, object]], specialism: str | None = None, **contact: str) -> str:
        return present.next_step(make_record(referral_routes=routes, **contact), specialism)

    msk_self = {"route": "self_referral", "only_for": ["musculoskeletal"]}
    assert step([{"route": "self_referral"}]) == "You can refer yourself."
    assert step([{"route": "self_referral"}], phone="0113 496 0000") == "You can refer yourself: phone 0113 496 0000."
    assert step([msk_self]) == "You can refer yourself for musculoskeletal problems only."
    assert step([{"route": "self_referral", "only_for": ["musculoskeletal", "pelvic_health"]}], phone="0113 496 0000") == (
        "You can refer yourself for musculoskeletal and pelvic health problems only: phone 0113 496 0000."
    )
    scoped = [msk_self, {"route": "gp", "only_for": ["musculoskeletal"]}, {"route": "neurologist"}]
    assert step(scoped) == (
        # The GP route is only for musculoskeletal problems too, so "otherwise" it is the neurologist.
        "You can refer yourself for musculoskeletal problems only; otherwise you need a referral from a neurologist."
    )
    # For a neurological problem only the routes that apply to it count.
    assert step(scoped, "neurological") == "Needs a referral from a neurologist."
    assert step([]) == "Contact details not listed yet."
    assert step([], email="clinic@example.org") == "Contact them to ask how to be seen: email clinic@example.org."


def test_badge_tone_per_status() -> None:
    def tone(status: str) -> str:
        registration = {"number": "PH123456", "status": status}
        if status != "unchecked":
            # A recent check: an old one is never shown as registered (hazard H2, tests/test_safety.py).
            registration["checked_on"] = (date.today() - timedelta(days=10)).isoformat()
        return present.registration_view(make_record(registration=registration)).tone

    assert [tone(s) for s in ("registered", "conditions_of_practice", "unchecked", "lapsed", "suspended")] == [
        "ok", "caution", "unknown", "warning", "warning",
    ]


def test_unchecked_badge_wording() -> None:
    view = present.registration_view(make_record(registration={"number": "PH123456"}))
    assert view.badge == "HCPC registration not yet checked — check the HCPC register"
    assert not view.is_practising


def test_registration_view_carries_the_number_date_help_and_listing() -> None:
    checked = date.today() - timedelta(days=10)
    record = make_record(registration={"number": "PH123456", "status": "conditions_of_practice", "checked_on": checked})
    view = present.registration_view(record)
    assert (view.number, view.checked_on, view.listed_by_default) == ("PH123456", checked, True)
    assert view.help == "May practise, subject to conditions set by the HCPC."
    lapsed = make_record(registration={"number": "PH123456", "status": "lapsed", "checked_on": checked})
    assert present.registration_view(lapsed).listed_by_default is False


def test_route_views_carry_labels_and_exclusions() -> None:
    record = make_record(
        referral_routes=[
            {"route": "self_referral", "only_for": ["musculoskeletal", "sports"], "not_for": ["whiplash"]},
            {"route": "neurologist"},
        ]
    )
    assert [(v.label, v.only_for_labels, v.not_for) for v in present.route_views(record)] == [
        ("You can refer yourself", ("Musculoskeletal (joints, back, muscles)", "Sports injuries"), ("whiplash",)),
        ("Neurologist referral", (), ()),
    ]


def test_next_step_with_limits_and_what_was_searched() -> None:
    from finder import safety

    def step(routes: list[dict[str, object]], context: present.Context = None, **contact: str) -> str:
        return present.next_step(make_record(referral_routes=routes, **contact), context)

    ms_stroke = safety.ReferralContext(conditions=("multiple_sclerosis", "stroke"))
    # A GP route only for neurological problems counts when a neurological problem was searched.
    msk_self = {"route": "self_referral", "only_for": ["musculoskeletal"]}
    assert step([msk_self, {"route": "gp", "only_for": ["neurological"]}], "neurological") == "Needs a referral from your GP."
    # Self-referral for the searched group, with an exclusion the person has not ruled out.
    assert step([{**msk_self, "not_for": ["whiplash"]}], "musculoskeletal") == "You can refer yourself (not for Whiplash)."
    assert step([{"route": "self_referral", "not_for": ["multiple_sclerosis", "whiplash"]}]) == (
        "You can refer yourself (not for Multiple sclerosis (MS) or Whiplash)."
    )
    not_both = [{"route": "self_referral", "not_for": ["multiple_sclerosis", "stroke"]}]
    assert step([*not_both, {"route": "gp"}], ms_stroke) == (
        "Self-referral here is not for Multiple sclerosis (MS) or Stroke: you need a referral from your GP."
    )
    assert step(not_both, ms_stroke) == (
        "Self-referral here is not for Multiple sclerosis (MS) or Stroke: contact them to ask how to be seen."
    )
    # Self-referral only for musculoskeletal problems, a stroke searched, no other route.
    stroke = safety.ReferralContext(conditions=("stroke",))
    assert step([msk_self], stroke) == "Contact details not listed yet."
    assert step([msk_self], stroke, phone="0113 496 0000") == "Contact them to ask how to be seen: phone 0113 496 0000."
