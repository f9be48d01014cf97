"""The record shape and its vocabularies: what is accepted, what is refused and why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from finder.db import Store
from finder.errors import InvalidPostcode, InvalidRecord
from finder.geo.postcode import normalise_postcode, parse_postcode_query
from finder.ingest import ingest
from finder.records import Record, validate_record
from finder.vocab import VOCABULARIES
from tests.helpers import items, make_record, record_data


@pytest.mark.parametrize(
    ("given", "expected"),
    [("ls62ab", "LS6 2AB"), (" LS6 2AB ", "LS6 2AB"), ("sw1a1aa", "SW1A 1AA"), ("EH1  1YZ", "EH1 1YZ"), ("cf101ep", "CF10 1EP"), ("m11ae", "M1 1AE")],
)
def test_postcodes_are_normalised(given: str, expected: str) -> None:
    assert normalise_postcode(given) == expected


@pytest.mark.parametrize("bad", ["", "hello", "LS6", "12345", "LS6 2A", "LS6 2AC", "Q1 1AA", "LS66 2ABC"])
def test_malformed_postcodes_are_refused_with_the_format(bad: str) -> None:
    with pytest.raises(InvalidPostcode, match="not a UK postcode"):
        normalise_postcode(bad)


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [("LS6", "outcode", "LS6"), ("ls6 2", "sector", "LS6 2"), ("LS", "area", "LS"), ("ls62ab", "postcode", "LS6 2AB"), ("Harrogate", None, None)],
)
def test_postcode_queries_are_classified(text: str, kind: str | None, value: str | None) -> None:
    parsed = parse_postcode_query(text)
    assert (parsed.kind, parsed.value) == (kind, value) if parsed else kind is None


@pytest.mark.parametrize(
    ("field", "value", "column"),
    [
        ("specialisms", ["neuro"], "specialisms.0"),
        ("conditions", ["ms-ish"], "conditions.0"),
        ("treatments", ["reiki"], "treatments.0"),
        ("funding", ["free"], "funding.0"),
        ("languages", ["klingon"], "languages.0"),
        ("memberships", ["bma"], "memberships.0"),
        ("gender", "other", "gender"),
        ("referral_routes", [{"route": "pharmacist"}], "referral_routes.0.route"),
        ("locations", [{"setting": "spa", "postcode": "LS6 2AB"}], "locations.0.setting"),
        ("registration", {"number": "PH1", "status": "expired", "checked_on": "2026-01-01"}, "registration.status"),
    ],
)
def test_every_vocabulary_rejects_unknown_values_naming_the_allowed_ones(field: str, value: object, column: str) -> None:
    with pytest.raises(InvalidRecord) as caught:
        validate_record(record_data(**{field: value}))
    problem = next(p for p in caught.value.problems if p.column == column)
    assert "is not one of:" in problem.message
    vocab_name = {"specialisms": "specialism", "conditions": "condition", "treatments": "treatment", "funding": "funding",
                  "languages": "language", "memberships": "membership", "gender": "gender", "referral_routes": "referral_route",
                  "locations": "setting", "registration": "registration_status"}[field]
    first_code = next(iter(VOCABULARIES[vocab_name]))
    assert first_code in problem.message


def test_labels_and_loose_spelling_are_accepted_as_codes() -> None:
    record = validate_record(record_data(specialisms=["Neurological (MS, stroke, Parkinson's)", "pelvic health"], funding=["NHS"]))
    assert record.specialisms == ["neurological", "pelvic_health"]
    assert record.funding == ["nhs"]


def test_a_status_other_than_unchecked_needs_a_check_date() -> None:
    with pytest.raises(InvalidRecord, match="needs the date it was checked"):
        validate_record(record_data(registration={"number": "PH1234", "status": "registered"}))


def test_hcpc_numbers_must_be_ph_and_digits() -> None:
    assert validate_record(record_data(registration={"number": " ph 12345 "})).registration.number == "PH12345"
    with pytest.raises(InvalidRecord, match="not an HCPC physiotherapist number"):
        validate_record(record_data(registration={"number": "OT12345"}))


def test_a_practitioner_needs_somewhere_to_be_seen() -> None:
    with pytest.raises(InvalidRecord, match="at least one location or home visits"):
        validate_record(record_data(locations=[]))
    ok = validate_record(record_data(locations=[], home_visits={"base_postcode": "ls62ab", "coverage_radius_km": 10}))
    assert ok.home_visits is not None and ok.home_visits.base_postcode == "LS6 2AB"


def test_unicode_and_markup_are_kept_verbatim() -> None:
    payload = '<script>alert("x")</script>'
    record = validate_record(record_data(name="Siân Ní Bhriain", practice_name="Zoë's Clinic", bio=payload))
    assert record.name == "Siân Ní Bhriain"
    assert record.practice_name == "Zoë's Clinic"
    assert record.bio == payload


def test_referral_routes_can_be_limited_to_condition_groups() -> None:
    record = validate_record(
        record_data(referral_routes=[{"route": "self_referral", "only_for": ["musculoskeletal"]}, {"route": "gp"}])
    )
    assert record.routes_for("neurological") == ["gp"]
    assert record.routes_for("musculoskeletal") == ["self_referral", "gp"]


def test_too_long_text_is_an_error_not_truncated() -> None:
    with pytest.raises(InvalidRecord, match="the most we keep is 4,000"):
        validate_record(record_data(bio="x" * 100_000))


def test_content_hash_ignores_fetch_time_only() -> None:
    a = validate_record(record_data(provenance={"source": "csv", "source_id": "1", "fetched_at": "2026-01-01T00:00:00Z"}))
    b = validate_record(record_data(provenance={"source": "csv", "source_id": "1", "fetched_at": "2026-02-01T00:00:00Z"}))
    c = validate_record(record_data(name="Other", provenance={"source": "csv", "source_id": "1"}))
    assert a.content_hash() == b.content_hash() != c.content_hash()


def test_routes_without_condition_limits_hash_as_before_not_for_existed() -> None:
    """Adding ReferralRoute.not_for must not mark every stored listing as changed on the next import."""
    record = make_record(referral_routes=[{"route": "self_referral", "only_for": ["musculoskeletal"]}, {"route": "gp"}])
    # The hash this record had before the field existed (commit 1fb567b).
    assert record.content_hash() == "c1761f903e9101cc9009a789d290a2290b63298574a32442a8f60b82359bfa3a"
    limited = make_record(referral_routes=[{"route": "self_referral", "not_for": ["multiple_sclerosis"]}, {"route": "gp"}])
    assert limited.content_hash() != record.content_hash()


#: A record with every field filled in (fictional), beside the generated sample.
FULLEST: dict[str, Any] = {
    "name": "Dr Fiona Example",
    "practice_name": "Example Neuro Physio (fictional)",
    "gender": "female",
    "languages": ["english", "welsh"],
    "memberships": ["mcsp", "acpin"],
    "bio": "Fictional: <b>markup</b> kept as text.",
    "registration": {
        "number": "PH7654321", "status": "registered", "checked_on": "2026-11-20", "period_to": "2027-08-31",
        "register_name": "Fiona Example", "needs_review": "Name differs from the register",
    },
    "conditions": ["multiple_sclerosis", "stroke"],
    "locations": [
        {"name": "Main clinic", "setting": "private_clinic", "address": "1 Fictional Road", "town": "Leeds",
         "postcode": "LS6 2AB", "lat": 53.82, "lon": -1.57, "ods_code": "B86001", "wheelchair_access": True,
         "parking": True, "opening_hours": {"intervals": [{"day": "monday", "opens": "09:00", "closes": "17:00"}],
                                           "note": "Closed bank holidays"}, "phone": "0113 496 0000"},
        {"setting": "community_clinic", "postcode": "LS1 4AP", "lat": 53.79, "lon": -1.55, "wheelchair_access": False},
    ],
    "home_visits": {"base_postcode": "LS6 2AB", "coverage_radius_km": 8, "lat": 53.82, "lon": -1.57},
    "funding": ["nhs", "private"],
    "referral_routes": [
        {"route": "gp", "only_for": ["neurological"], "not_for": ["stroke"]},
        {"route": "self_referral"},
    ],
    "referral_notes": "Fictional notes.",
    "referral_email": "referrals@example.org",
    "referral_phone": "0113 496 0001",
    "nhs_waiting_weeks": 6,
    "session_limit": 8,
    "fee_initial_gbp": "65.50",
    "fee_follow_up_gbp": "50",
    "fees_note": "Concessions",
    "accepting_new_patients": True,
    "phone": "0113 496 0002",
    "email": "hello@example.org",
    "website": "https://example.org",
    "booking_url": "https://example.org/book",
    "provenance": {"source": "sample", "source_id": "fullest-1", "source_url": "https://example.org/fiona",
                   "fetched_at": "2026-11-20T10:00:00+00:00", "last_verified_on": "2026-11-19"},
    "is_sample": True,
}


def test_trusted_models_need_every_field_and_name_what_is_wrong() -> None:
    from finder.records import Registration, trusted

    fields = {name: None for name in Registration.model_fields}
    fields["status"] = "registered"
    built = trusted(Registration, **fields)
    assert built.status == "registered" and built.model_fields_set == set(Registration.model_fields)
    del fields["period_to"]
    with pytest.raises(TypeError, match=r"missing \['period_to'\], unknown \[\]"):
        trusted(Registration, **fields)
    with pytest.raises(TypeError, match=r"unknown \['colour'\]"):
        trusted(Registration, **{**fields, "period_to": None, "colour": "red"})


def test_records_read_back_from_the_store_equal_what_was_ingested(store: Store, gazetteer_path: Path) -> None:
    """Reading skips validation (finder.records.trusted): what comes back must still be exactly
    the validated record, for the fullest fictional records (several places, hours, home visits,
    limited referral routes, fees)."""
    from finder.sample import generate_records

    records = [*generate_records(40, 7, gazetteer=gazetteer_path), make_record(**FULLEST)]
    # Every field of every part is set (not empty, not its default) in some record, so a
    # reader that dropped or mixed up any one of them would fail below.
    parts: dict[str, list[Any]] = {
        "Record": records,
        "Registration": [r.registration for r in records],
        "Location": [loc for r in records for loc in r.locations],
        "HomeVisits": [r.home_visits for r in records if r.home_visits],
        "ReferralRoute": [route for r in records for route in r.referral_routes],
    }
    for part, objects in parts.items():
        unset = [name for name in type(objects[0]).model_fields if not any(getattr(o, name) for o in objects)]
        assert not unset, f"{part}: no record sets {unset}"
    report = ingest(store, items(*records), source=records[0].provenance.source)
    assert report.written and report.added == len(records), report.problems[:3]
    ids = [stored.id for stored in store.iter_practitioners()]
    read = store.get_many(ids)
    assert len(read) == len(records)
    by_key = {r.provenance.source_id: r for r in records}
    for stored in read:
        original = by_key[stored.record.provenance.source_id]
        assert stored.record.model_dump(exclude={"provenance"}) == original.model_dump(exclude={"provenance"})
        assert Record.model_validate(stored.record.model_dump()) == stored.record


def test_json_columns_orjson_refuses_still_read_back(store: Store) -> None:
    """JSON columns are read with orjson, which refuses what the standard library writes for NaN,
    infinity and integers beyond 64 bits (an ingest run's problems can quote such input): those
    values must still read back, not make the run unreadable (finder.db.read_json)."""
    from finder.models import IngestRun

    odd: dict[str, Any] = {"big": 2**70, "text": "Zoë"}
    if store.backend == "sqlite":  # PostgreSQL's json type refuses NaN and infinity on the way in
        odd.update(ratio=float("nan"), limit=float("inf"))
    with store.session() as session:
        session.add(IngestRun(source="csv", mode="partial", status="ok", problems=[odd], details=odd))
    (run,) = store.ingest_runs()
    assert run.details is not None and run.problems
    for value in (run.details, run.problems[0]):
        assert value["big"] == 2**70 and value["text"] == "Zoë"
        if store.backend == "sqlite":
            assert value["ratio"] != value["ratio"] and value["limit"] == float("inf")  # NaN, infinity
