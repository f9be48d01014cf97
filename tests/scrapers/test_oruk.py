"""Open Referral UK feeds: paging, mapping physiotherapy services to listings, re-runs."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest
import requests
import responses
from sqlalchemy import text

from finder.db import Store
from finder.errors import FetchFailed, FinderError, RobotsDisallowed, SourceFormatError
from scrapers.oruk import (
    base_address,
    default_source,
    ingest_oruk_feed,
    parse_service,
    parse_service_page,
    physiotherapy_reason,
)
from tests.plugins.scrapers import allow_robots, fixture_bytes

FEED = "https://directory.example.gov.uk/api/v3"
HOST = "https://directory.example.gov.uk"
SOURCE = "oruk:directory.example.gov.uk"
DETAILS = {
    "svc-0001-msk": "service_msk.json",
    "svc-0002-neuro": "service_neuro_charity.json",
    "svc-0003-counselling": "service_counselling.json",
    "svc-0004-closed": "service_defunct.json",
    "svc-0005-private": "service_private_v1.json",
}


def fixture_json(name: str) -> Any:
    return json.loads(fixture_bytes("oruk", name))


def serve_feed(mock: Any, *, pages: tuple[str, ...] = ("services_page1.json", "services_page2.json"), details: dict[str, Any] | None = None) -> None:
    allow_robots(mock, HOST)
    # Like many feeds, this one has no /service_at_locations endpoint.
    mock.add(responses.GET, f"{FEED}/service_at_locations", status=404, json={"error": "Not Found"})
    for number, name in enumerate(pages, start=1):
        mock.add(
            responses.GET,
            f"{FEED}/services",
            match=[responses.matchers.query_param_matcher({"page": str(number), "per_page": "50"})],
            body=fixture_bytes("oruk", name),
            content_type="application/json",
        )
    for sid, answer in {**DETAILS, **(details or {})}.items():
        answers = answer if isinstance(answer, list) else [answer]
        for one in answers:
            if isinstance(one, dict):
                mock.add(responses.GET, f"{FEED}/services/{sid}", **one)
            else:
                mock.add(responses.GET, f"{FEED}/services/{sid}", body=fixture_bytes("oruk", one), content_type="application/json")


def snapshot(store: Store) -> list[Any]:
    with store.engine.connect() as connection:
        return [
            connection.execute(text(f"select * from {table} order by id")).all()
            for table in ("practitioners", "practitioner_locations", "source_records")
        ]


def listing(store: Store, source_id: str) -> Any:
    for stored in store.iter_practitioners():
        if any(s.source_id == source_id for s in stored.sources):
            return stored
    raise AssertionError(f"no listing for {source_id}")


# ---- pure parts ------------------------------------------------------------------------


def test_the_page_envelope() -> None:
    page = parse_service_page(fixture_json("services_page1.json"))
    assert (page.total_items, page.total_pages, page.page_number) == (5, 2, 1)
    assert page.ids == ["svc-0001-msk", "svc-0002-neuro", "svc-0003-counselling"]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"data": []}, "expected 'contents' (ORUK 3.0) or 'content' (Spring-style paging) holding a list of services, found data"),
        ("services", "did not return a page of services"),
    ],
)
def test_a_changed_envelope_is_a_clear_error(document: Any, message: str) -> None:
    with pytest.raises(SourceFormatError, match=re.escape(message)):
        parse_service_page(document)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        # ORUK 3.0
        ({"total_items": 2, "total_pages": 1, "page_number": 1, "contents": [{"id": "a"}, {"id": "b"}]}, (2, 1, 1, None, ["a", "b"])),
        # Spring-style, keys in any case (Hull writes totalpages, the CQC totalPages)
        ({"totalElements": 0, "totalPages": 0, "number": 1, "last": False, "content": []}, (0, 0, 1, False, [])),
        ({"totalelements": 4, "totalpages": 2, "NUMBER": 2, "Last": True, "Content": [{"ID": 7}]}, (4, 2, 2, True, ["7"])),
        # a v1 list page: the services themselves
        ([{"id": "x"}, {"id": "y"}], (None, 1, 1, True, ["x", "y"])),
    ],
)
def test_every_envelope_in_the_wild(document: Any, expected: tuple[Any, ...]) -> None:
    page = parse_service_page(document)
    assert (page.total_items, page.total_pages, page.page_number, page.last, page.ids) == expected


def test_a_listing_entry_without_an_id_is_counted_not_fatal() -> None:
    page = parse_service_page({"contents": [{"name": "no id"}, {"id": "ok"}], "total_pages": 1})
    assert page.ids == ["ok"] and page.without_id == [1]


def test_physiotherapy_by_taxonomy_or_words() -> None:
    assert physiotherapy_reason(fixture_json("service_msk.json")) == (
        "taxonomy term 'Physiotherapy' (a default physiotherapy term: 'physiotherapy')"
    )
    assert physiotherapy_reason(fixture_json("service_neuro_charity.json")) == (
        "the description is about physiotherapy (its first sentence says so)"
    )
    assert physiotherapy_reason(fixture_json("service_private_v1.json")) == (
        "taxonomy term 'Physical Therapy' (a default physiotherapy term: 'physical therapy')"
    )
    counselling = fixture_json("service_counselling.json")
    assert physiotherapy_reason(counselling) is None
    assert physiotherapy_reason(counselling, ["tt-counselling"]) == (
        "taxonomy term 'Counselling' (named by --taxonomy: 'tt-counselling')"
    )


def test_a_full_hsds3_service_maps_to_a_listing() -> None:
    item = parse_service(fixture_json("service_msk.json"), row=1, source=SOURCE, source_url=f"{FEED}/services/svc-0001-msk")
    assert not isinstance(item, str) and item.ok, getattr(item, "problems", None)
    record = item.record
    assert record.name == "Leeds Community MSK Physiotherapy (example)"
    assert record.practice_name == "Example NHS Community Trust (fictional)"
    assert record.funding == ["nhs"]
    assert record.route_codes == ["self_referral", "gp"]
    assert "musculoskeletal" in record.specialisms
    assert {"back_pain", "neck_pain"} <= set(record.conditions)
    assert record.languages == ["english", "polish"]  # "Klingon" is not in our list: left out
    assert record.phone == "0113 496 1000" and record.email == "msk.physio@example.org"
    assert record.nhs_waiting_weeks == 6
    assert "How to access: Self-refer online" in record.referral_notes and "Ages 16 and over" in record.referral_notes
    assert "Area served: Leeds" in record.referral_notes
    # Two locations: the one without address or coordinates is left out.
    assert [loc.setting for loc in record.locations] == ["community_clinic", "hospital"]
    first = record.locations[0]
    assert (first.address, first.town, first.postcode, first.lat, first.lon) == (
        "1 Example Lane, Headingley", "Leeds", "LS6 2AB", 53.8195, -1.5762
    )
    assert first.wheelchair_access is True and first.phone == "0113 496 1002"
    assert str(first.opening_hours) == "Mon, Wed, Fri 09:00-16:30"
    assert record.provenance.source == SOURCE and record.provenance.source_id == "svc-0001-msk"
    assert record.provenance.last_verified_on.isoformat() == "2026-10-01"


def test_a_charity_service_with_fees() -> None:
    item = parse_service(fixture_json("service_neuro_charity.json"), row=2, source=SOURCE)
    record = item.record
    assert record.funding == ["charity", "private"]
    assert record.fee_initial_gbp == Decimal("8.00")
    assert "One-to-one physiotherapy, per 45 minute session" in record.fees_note
    assert record.specialisms == ["neurological"]
    assert {"multiple_sclerosis", "balance_problems"} <= set(record.conditions)
    assert set(record.route_codes) == {"self_referral", "ms_nurse", "neurologist"}
    assert record.locations[0].setting == "charity_centre" and record.locations[0].lat is None


def test_an_older_oruk_v1_service_maps_too() -> None:
    record = parse_service(fixture_json("service_private_v1.json"), row=5, source=SOURCE).record
    assert record.funding == ["private"] and record.fee_initial_gbp == Decimal("55.00")
    location = record.locations[0]
    assert (location.address, location.postcode) == ("10 Stadium Way", "LS11 0AA")
    assert str(location.opening_hours) == "Sat 09:00-13:00"
    assert location.wheelchair_access is False
    assert record.phone == "0113 496 5000" and "Ages 14 and over" in record.referral_notes
    assert record.specialisms == ["sports"]


def test_skipped_and_rejected_services() -> None:
    assert parse_service(fixture_json("service_counselling.json"), row=3, source=SOURCE) == "not physiotherapy"
    assert parse_service(fixture_json("service_defunct.json"), row=4, source=SOURCE) == "not active"
    bad = parse_service(fixture_json("service_bad_postcode.json"), row=6, source=SOURCE)
    assert not bad.ok
    assert "no place to list it at" in str(bad.problems[0]) and "'LS6 2AC' is not a UK postcode" in str(bad.problems[0])
    assert parse_service(["not", "an", "object"], row=7, source=SOURCE).problems


def test_feed_addresses_and_per_feed_provenance() -> None:
    assert base_address("https://x.example.org/api/services/") == "https://x.example.org/api"
    assert default_source("https://Directory.Example.gov.uk:8443/api") == "oruk:directory.example.gov.uk:8443"
    with pytest.raises(FinderError, match="is not a web address"):
        base_address("directory.example.gov.uk")


# ---- the whole feed into a store -----------------------------------------------------


def test_a_normal_feed(store: Store, http_mock: Any, make_session: Any, fake_geocode: Any) -> None:
    serve_feed(http_mock)
    report = ingest_oruk_feed(store, make_session(), FEED + "/", geocode=fake_geocode)
    assert (report.stats.listed, report.stats.pages, report.stats.physiotherapy) == (5, 2, 3)
    assert report.stats.skipped == {"not physiotherapy": 1, "not active": 1}
    assert (report.ingest.added, report.ingest.rejected, report.ingest.written) == (3, 0, True)
    assert "skipped: 1 not active, 1 not physiotherapy" in report.summary()
    neuro = listing(store, "svc-0002-neuro")
    # The charity's location had a postcode only: the gazetteer placed it.
    assert (neuro.record.locations[0].lat, neuro.record.locations[0].lon) == (53.9921, -1.5418)
    assert neuro.sources[0].source == SOURCE
    assert store.ingest_runs()[0].source == SOURCE


def test_a_second_run_over_the_same_feed_changes_nothing(store: Store, http_mock: Any, make_session: Any, fake_geocode: Any) -> None:
    serve_feed(http_mock)
    ingest_oruk_feed(store, make_session(), FEED, geocode=fake_geocode)
    before = snapshot(store)
    again = ingest_oruk_feed(store, make_session(), FEED, geocode=fake_geocode)
    assert (again.ingest.added, again.ingest.updated, again.ingest.unchanged, again.ingest.withdrawn) == (0, 0, 3, 0)
    assert snapshot(store) == before


def test_a_changed_service_is_updated_and_a_vanished_one_withdrawn(
    store: Store, http_mock: Any, make_session: Any, fake_geocode: Any
) -> None:
    serve_feed(http_mock)
    ingest_oruk_feed(store, make_session(), FEED, geocode=fake_geocode)
    changed = fixture_json("service_msk.json")
    changed["phones"] = [{"id": "p", "number": "0113 496 9999"}]
    http_mock.replace(responses.GET, f"{FEED}/services/svc-0001-msk", json=changed)
    one_page = {**fixture_json("services_page1.json"), "total_pages": 1, "total_items": 3}
    http_mock.replace(responses.GET, f"{FEED}/services", json=one_page)  # svc-0005 is gone
    report = ingest_oruk_feed(store, make_session(), FEED, geocode=fake_geocode)
    assert (report.ingest.added, report.ingest.updated, report.ingest.unchanged, report.ingest.withdrawn) == (0, 1, 1, 1)
    assert listing(store, "svc-0001-msk").record.phone == "0113 496 9999"
    gone = listing(store, "svc-0005-private")
    assert gone.withdrawn_at is not None  # kept, marked


def test_two_feeds_never_overwrite_each_other(store: Store, http_mock: Any, make_session: Any, fake_geocode: Any) -> None:
    serve_feed(http_mock)
    ingest_oruk_feed(store, make_session(), FEED, geocode=fake_geocode)
    ingest_oruk_feed(store, make_session(), FEED, source="oruk:mirror", geocode=fake_geocode)
    assert store.count() == 6


def test_an_empty_feed_keeps_what_was_loaded_unless_told(store: Store, http_mock: Any, make_session: Any, fake_geocode: Any) -> None:
    serve_feed(http_mock)
    ingest_oruk_feed(store, make_session(), FEED, geocode=fake_geocode)
    http_mock.replace(responses.GET, f"{FEED}/services", json=fixture_json("services_empty.json"))
    report = ingest_oruk_feed(store, make_session(), FEED)
    assert report.stats.listed == 0 and report.ingest.withdrawn == 0
    assert "the feed lists no services" in report.warnings[0]
    assert store.count() == 3
    told = ingest_oruk_feed(store, make_session(), FEED, allow_empty=True)
    assert told.ingest.withdrawn == 3 and store.count() == 0


def test_an_empty_feed_on_a_new_store(store: Store, http_mock: Any, make_session: Any) -> None:
    allow_robots(http_mock, HOST)
    http_mock.add(responses.GET, f"{FEED}/services", json=fixture_json("services_empty.json"))
    report = ingest_oruk_feed(store, make_session(), FEED)
    assert (report.stats.listed, report.ingest.read, report.ingest.added) == (0, 0, 0)
    assert report.ingest.written


def test_a_changed_listing_shape_is_an_error_and_nothing_is_written(
    store: Store, http_mock: Any, make_session: Any, fake_geocode: Any
) -> None:
    serve_feed(http_mock)
    ingest_oruk_feed(store, make_session(), FEED, geocode=fake_geocode)
    before = snapshot(store)
    runs = len(store.ingest_runs())
    http_mock.replace(responses.GET, f"{FEED}/services", body=fixture_bytes("oruk", "services_changed_shape.json"), content_type="application/json")
    with pytest.raises(SourceFormatError, match="is not an Open Referral UK services page"):
        ingest_oruk_feed(store, make_session(), FEED)
    assert snapshot(store) == before and len(store.ingest_runs()) == runs


def test_truncated_json_in_a_listing_page(store: Store, http_mock: Any, make_session: Any) -> None:
    allow_robots(http_mock, HOST)
    http_mock.add(responses.GET, f"{FEED}/services", body=fixture_bytes("oruk", "services_page1.json")[:200], content_type="application/json")
    with pytest.raises(SourceFormatError, match="did not return valid JSON"):
        ingest_oruk_feed(store, make_session(), FEED)
    assert snapshot(store) == [[], [], []]


def test_a_bad_service_never_stops_the_others_unless_strict(store: Store, http_mock: Any, make_session: Any, fake_geocode: Any) -> None:
    serve_feed(http_mock, details={"svc-0002-neuro": "service_bad_postcode.json"})
    strict = ingest_oruk_feed(store, make_session(), FEED, geocode=fake_geocode, strict=True)
    assert not strict.ingest.written and strict.ingest.rejected == 1
    assert "service 2: service svc-0006-bad: no place to list it at" in str(strict.ingest.problems[0])
    assert "'LS6 2AC' is not a UK postcode" in str(strict.ingest.problems[0])
    assert snapshot(store) == [[], [], []]
    report = ingest_oruk_feed(store, make_session(), FEED, geocode=fake_geocode)
    assert report.ingest.added == 2 and report.ingest.rejected == 1 and not report.refused
    assert report.rejected_by_reason == {"no place": 1}


def test_429_with_retry_after_then_success(store: Store, http_mock: Any, make_session: Any, fake_clock: Any, fake_geocode: Any) -> None:
    serve_feed(http_mock, details={"svc-0001-msk": [{"status": 429, "headers": {"Retry-After": "4"}}, "service_msk.json"]})
    report = ingest_oruk_feed(store, make_session(), FEED, geocode=fake_geocode)
    assert report.ingest.added == 3 and 4 in fake_clock.sleeps


def test_500_then_success(store: Store, http_mock: Any, make_session: Any, fake_geocode: Any) -> None:
    serve_feed(http_mock, details={"svc-0002-neuro": [{"status": 500}, {"status": 503}, "service_neuro_charity.json"]})
    assert ingest_oruk_feed(store, make_session(), FEED, geocode=fake_geocode).ingest.added == 3


def test_a_timeout_on_one_service_is_reported_for_that_service(
    store: Store, http_mock: Any, make_session: Any, fake_geocode: Any
) -> None:
    serve_feed(http_mock, details={"svc-0002-neuro": [{"body": requests.exceptions.ReadTimeout("slow")}]})
    report = ingest_oruk_feed(store, make_session(max_retries=1), FEED, geocode=fake_geocode)
    assert report.ingest.written and report.stats.fetch_failed == 1 and report.ingest.added == 2
    assert "service svc-0002-neuro:" in str(report.ingest.problems[0]) and "no answer within" in str(report.ingest.problems[0])
    assert report.rejected_by_reason == {"could not fetch: timed out": 1}


def test_a_timeout_on_the_listing_writes_nothing(store: Store, http_mock: Any, make_session: Any) -> None:
    allow_robots(http_mock, HOST)
    http_mock.add(responses.GET, f"{FEED}/services", body=requests.exceptions.ConnectTimeout("down"))
    with pytest.raises(FetchFailed, match="still failing after 2 attempts"):
        ingest_oruk_feed(store, make_session(max_retries=1), FEED)
    assert snapshot(store) == [[], [], []]


def test_robots_disallow_stops_the_feed(store: Store, http_mock: Any, make_session: Any) -> None:
    allow_robots(http_mock, HOST, body="User-agent: *\nDisallow: /api/v3/services\n")
    with pytest.raises(RobotsDisallowed, match="does not allow crawlers to fetch /api/v3/services"):
        ingest_oruk_feed(store, make_session(), FEED)
    assert snapshot(store) == [[], [], []]


def test_max_pages_never_withdraws(store: Store, http_mock: Any, make_session: Any, fake_geocode: Any) -> None:
    serve_feed(http_mock)
    ingest_oruk_feed(store, make_session(), FEED, geocode=fake_geocode)
    report = ingest_oruk_feed(store, make_session(), FEED, geocode=fake_geocode, max_pages=1)
    assert report.stats.pages == 1 and not report.complete and report.ingest.withdrawn == 0
    assert "--max-pages" in report.warnings[0]


def test_a_feed_that_ignores_page_is_caught(store: Store, http_mock: Any, make_session: Any) -> None:
    allow_robots(http_mock, HOST)
    http_mock.add(responses.GET, f"{FEED}/services", body=fixture_bytes("oruk", "services_page1.json"), content_type="application/json")
    with pytest.raises(SourceFormatError, match="returned the same services for page 2"):
        ingest_oruk_feed(store, make_session(), FEED)


# ---- the command ---------------------------------------------------------------------


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "HTTP_CONTACT": "tests@example.org", "HTTP_RATE_LIMIT_PER_SECOND": 1000}


def test_the_command(runner: Any, http_mock: Any, tmp_path: Any) -> None:
    runner.invoke(["init-db"])
    serve_feed(http_mock, details={"svc-0002-neuro": "service_bad_postcode.json"})
    rejects = tmp_path / "rejects.csv"
    result = runner.invoke(["ingest", "oruk", FEED, "--no-geocode", "--rejects", str(rejects)])
    assert result.exit_code == 0, result.output
    assert (
        "feed listed 5 services on 2 page(s); physiotherapy 3 (3 by taxonomy); "
        "skipped: 1 not active, 1 not physiotherapy" in result.output
    )
    assert "loaded 2; rejected 1: 1 no place" in result.output
    assert "read 3, added 2, updated 0, unchanged 0, withdrawn 0, rejected 1" in result.output
    assert "svc-0006-bad" in rejects.read_text(encoding="utf-8")
    again = runner.invoke(["ingest", "oruk", FEED, "--no-geocode", "--partial", "--rejects", str(rejects)])
    assert "added 0, updated 0, unchanged 2" in again.output


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://example.org/physio", "https://example.org/physio"),
        ("www.example.org", "https://www.example.org"),
        ("example.org/physio", "https://example.org/physio"),
        ("see our website", None),
        ("", None),
    ],
)
def test_web_addresses_without_a_scheme_are_completed(given: str, kept: str | None) -> None:
    from scrapers.oruk import _web_address

    assert _web_address(given) == kept


def test_a_missing_record_loads_the_rest_and_withdraws_nothing(
    store: Store, http_mock: Any, make_session: Any, fake_geocode: Any
) -> None:
    serve_feed(http_mock)
    ingest_oruk_feed(store, make_session(), FEED, geocode=fake_geocode)
    http_mock.replace(responses.GET, f"{FEED}/services/svc-0002-neuro", status=404, json={"error": "Not Found"})
    report = ingest_oruk_feed(store, make_session(), FEED, geocode=fake_geocode)
    assert (report.ingest.unchanged, report.ingest.rejected, report.ingest.withdrawn) == (2, 1, 0)
    assert report.ingest.withdrawal_skipped and not report.refused
    assert f"{FEED}/services/svc-0002-neuro answered HTTP 404" in str(report.ingest.problems[0])
    assert report.rejected_by_reason == {"could not fetch: HTTP 404": 1}
    assert listing(store, "svc-0002-neuro").withdrawn_at is None  # still listed, as before
    details = store.ingest_runs()[0]
    assert details.source == SOURCE


def test_outpost_layout_reads_address_on_the_location_and_contact_phones() -> None:
    service = {
        "id": 9,
        "name": "Example Physiotherapy Drop-in (fictional)",
        "organisation": {"id": 1, "name": "Example Org"},
        "taxonomies": [{"id": 77, "name": "Health", "slug": "health"}],
        "contacts": [{"id": 1, "name": "", "phone": "01296 000000", "email": "hello@example.org"}],
        "locations": [
            {"id": 5, "name": "", "address_1": "1 High Street", "city": "Aylesbury", "postal_code": "hp18 0jd",
             "geometry": {"type": "Point", "coordinates": [-0.92, 51.84]},
             "accessibilities": [{"name": "Wheelchair accessible entrance"}, {"name": "Car parking"}]},
        ],
        "min_age": -1,
        "max_age": -1,
    }
    item = parse_service(service, row=1, source=SOURCE, wanted_terms=["77"])
    record = item.record
    assert record.practice_name == "Example Org" and record.phone == "01296 000000" and record.email == "hello@example.org"
    location = record.locations[0]
    assert (location.address, location.town, location.postcode, location.lat, location.lon) == (
        "1 High Street", "Aylesbury", "HP18 0JD", 51.84, -0.92
    )
    assert location.wheelchair_access is True and location.parking is True
    assert "Ages" not in (record.referral_notes or "")


def test_the_uk_profiles_nulls_are_absent_data_never_an_error() -> None:
    service = fixture_json("service_msk.json")
    for key in ("eligibility_description", "application_process", "wait_time", "fees_description", "phones", "languages",
                "cost_options", "service_areas", "schedules", "url", "email", "assured_date"):
        service[key] = None
    service["organization"]["organization_identifiers"] = None
    item = parse_service(service, row=1, source=SOURCE)
    assert not isinstance(item, str) and item.ok, getattr(item, "problems", None)
    record = item.record
    assert record.phone == "0113 496 1001"  # from contacts[].phones, the service's own phones being null
    assert "How to access" not in (record.referral_notes or "") and "Waiting time" not in (record.referral_notes or "")


@pytest.mark.parametrize(
    ("minimum", "maximum", "said"),
    [(-1, -1, None), (0, 0, None), (0, None, None), (None, -1, None), (16, None, "Ages 16 and over"), (0, 18, "Ages 0 to 18"), (5, 11, "Ages 5 to 11")],
)
def test_ages_that_say_nothing_are_not_shown(minimum: Any, maximum: Any, said: str | None) -> None:
    from scrapers.oruk import ages_text

    assert ages_text({"minimum_age": minimum, "maximum_age": maximum}) == said


def test_html_descriptions_become_plain_text() -> None:
    from scrapers.html_text import html_to_text

    html = "<h1>About Us</h1>\n<p>We help&nbsp;people &amp; carers.</p><ul><li>One</li><li>Two</li></ul><script>x()</script><p>Call <a href='tel:1'>us</a></p>"
    assert html_to_text(html) == "About Us\n\nWe help people & carers.\n\n- One\n- Two\n\nCall us"
    assert html_to_text("Plain text, kept as it is.\r\nSecond line") == "Plain text, kept as it is.\nSecond line"
