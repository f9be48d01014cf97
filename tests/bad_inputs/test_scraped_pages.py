"""Bad-input corpus, scraped pages: what real sources can send instead of what they document.

Each case goes through the real scrapers: the pure ``parse_*`` functions, and
the whole path (polite session with mocked HTTP, parse, ingest) where one
exists. Every case ends in a clear, named error (SourceFormatError, FetchFailed,
a rejected row, an "unchecked" register result with its reason) or a safe
result, never an unexpected exception, and the listings already in the store
are exactly as they were.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
import responses
from sqlalchemy import text

from finder.db import Store
from finder.errors import FinderError, SourceError, SourceFormatError
from finder.ingest import ingest
from finder.registration import verify_registrations
from scrapers.hcpc import HcpcRegister, parse_register_page
from scrapers.json_import import parse_json
from scrapers.nhs_ods import ingest_epraccur, parse_epraccur
from scrapers.oruk import ingest_oruk_feed, parse_service, parse_service_page
from tests.helpers import items, make_record
from tests.plugins.scrapers import allow_robots, fixture_bytes

MB = 1024 * 1024
DEEP = 100_000
REGISTERED = fixture_bytes("hcpc", "registered.html")
DEEP_JSON = b"[" * DEEP + b"]" * DEEP
DEEP_OBJECT = b'{"a":' * DEEP + b"1" + b"}" * DEEP

def case_id(case: Any) -> str:
    """The name of a table row, marked (pytest.param) or not."""
    return str(case.values[0] if hasattr(case, "marks") else case[0])


def listings_snapshot(store: Store) -> list[Any]:
    with store.engine.connect() as connection:
        return [
            connection.execute(text(f"select * from {table} order by id")).all()  # noqa: S608 - fixed names
            for table in ("practitioners", "practitioner_locations", "source_records", "gp_surgeries")
        ]


# ---------------------------------------------------------------------------
# HCPC register pages: the parser never raises; odd pages are "unchecked" with a reason


@dataclass(frozen=True)
class Page:
    name: str
    body: bytes
    reason: str  # a fragment of the RegisterCheck's reason


HCPC_PAGES = [
    Page("empty body", b"", "empty page"),
    Page("whitespace only", b" \r\n\t ", "empty page"),
    Page("truncated HTML", REGISTERED[: len(REGISTERED) * 6 // 10], "truncated HTML"),
    Page("JSON where HTML expected", json.dumps({"registration number": "PH990001", "status": "Registered"}).encode(), "did not return an HTML page"),
    Page("plain text", b"PH990001 Registered Ada Example", "did not return an HTML page"),
    Page("png bytes", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "did not return an HTML page"),
    Page("huge body", b"<html><body>" + b"<p>padding</p>" * (5 * MB // 14) + b"</body></html>", "no 'registration number' or 'status' field"),
    Page("deeply nested HTML", b"<html><body>" + b"<div>" * DEEP, "truncated HTML"),
    Page("invalid UTF-8", b"\xff\xfe<html>\xc3\x28</html>" + b"\x80" * 100, "did not return an HTML page"),
    Page("NUL bytes", b"<html><body>\x00\x00<dl><dt>Status</dt>\x00</dl></body></html>", "registration number"),
    Page("entity expansion", b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><html><body>&b;&b;</body></html>', "did not return an HTML page"),
    Page("login page", b"<html><head><title>Sign in</title></head><body><form><input name=password></form></body></html>", "a login page"),
    Page("script only", b"<html><script>" + b"x" * 10000 + b"</script></html>", "did not return an HTML page"),
]


@pytest.mark.parametrize("page", HCPC_PAGES, ids=[p.name for p in HCPC_PAGES])
def test_hcpc_parser_never_raises(page: Page) -> None:
    check = parse_register_page(page.body, number="PH990001", url="https://register.example.org/x", today=date(2026, 11, 27))
    assert check.status == "unchecked" and not check.recognised
    assert check.reason and page.reason in check.reason, check.reason
    assert "Traceback" not in check.reason


REGISTER_HOST = "https://register.example.org"
TEMPLATE = f"{REGISTER_HOST}/detail/?query={{number}}&profession=PH"


@dataclass(frozen=True)
class Answer:
    name: str
    answer: dict[str, Any]  # keyword arguments for responses.add
    reason: str  # fragment of the evidence row's reason


HCPC_ANSWERS = [
    Answer("wrong content type", {"body": REGISTERED, "content_type": "application/json"}, "returned application/json, expected html"),
    Answer("empty body", {"body": b"", "content_type": "text/html"}, "returned an empty body"),
    Answer("truncated page", {"body": REGISTERED[:700], "content_type": "text/html"}, "truncated HTML"),
    Answer("HTTP 404", {"status": 404, "body": b"gone", "content_type": "text/html"}, "answered HTTP 404"),
    Answer("huge page", {"body": b"<html><body>" + b"<p>x</p>" * (2 * MB // 8) + b"</body></html>", "content_type": "text/html"}, "layout may have changed"),
]


@pytest.mark.parametrize("answer", HCPC_ANSWERS, ids=[a.name for a in HCPC_ANSWERS])
def test_a_bad_register_answer_never_changes_a_listing(
    answer: Answer, sqlite_store: Store, http_mock: Any, make_session: Any
) -> None:
    report = ingest(
        sqlite_store,
        items(make_record(registration={"number": "PH990001", "status": "registered", "checked_on": "2025-01-10"})),
        source="csv",
    )
    assert report.written
    before = listings_snapshot(sqlite_store)
    allow_robots(http_mock, REGISTER_HOST)
    http_mock.add(responses.GET, TEMPLATE.format(number="PH990001"), **answer.answer)
    register = HcpcRegister(make_session(max_retries=0), TEMPLATE)
    result = verify_registrations(sqlite_store, lambda n: register.check(n, today=date(2026, 11, 27)), today=date(2026, 11, 27))
    assert (result.checked, result.failed, result.changed) == (1, 1, 0)
    assert answer.reason in " ".join(result.problems), result.problems
    assert listings_snapshot(sqlite_store) == before, "the listing keeps its last known registration"
    [evidence] = sqlite_store.registration_checks(report.changed_ids[0])
    assert evidence.outcome == "unchecked" and answer.reason in (evidence.reason or "")


# ---------------------------------------------------------------------------
# Open Referral UK feeds: pure parsers, then whole runs over a store that already holds the feed

ORUK_PAGE_DOCUMENTS: list[tuple[str, Any, str]] = [
    ("a number", 5, "got a JSON int"),
    ("a string (HTML decoded as JSON text)", "<html>login</html>", "got a JSON str"),
    ("null", None, "got a JSON NoneType"),
    ("contents is a string", {"contents": "x", "total_pages": 1}, "holding a list of services"),
    ("contents is an object", {"contents": {"id": 1}, "total_pages": 1}, "holding a list of services"),
    # An entry without a usable id cannot be fetched: it is a reject of its own, never the page's end.
    ("entries without ids", {"contents": [{"name": "x"}], "total_pages": 1}, "without id"),
    ("blank id", {"contents": [{"id": "  "}], "total_pages": 1}, "without id"),
    ("id is an object", {"contents": [{"id": {"$oid": 1}}], "total_pages": 1}, "without id"),
    ("a list of junk", [1, "x", None], "without id"),
    ("deeply nested envelope", json.loads(b'{"a":' * 900 + b"1" + b"}" * 900), "expected 'contents'"),
]


@pytest.mark.parametrize(("name", "document", "message"), ORUK_PAGE_DOCUMENTS, ids=[c[0] for c in ORUK_PAGE_DOCUMENTS])
def test_oruk_page_envelope_errors_are_clear(name: str, document: Any, message: str) -> None:
    if message == "without id":
        page = parse_service_page(document, url="https://feed.example.org/services?page=1")
        assert page.ids == [] and page.without_id
        return
    with pytest.raises(SourceFormatError) as caught:
        parse_service_page(document, url="https://feed.example.org/services?page=1")
    assert message in caught.value.detail, caught.value.detail


def _nested(depth: int) -> Any:
    value: Any = "physiotherapy"
    for _ in range(depth):
        value = {"name": value, "children": [value]}
    return value


def _msk(**changes: Any) -> dict[str, Any]:
    """The fixture NHS MSK service, changed."""
    service = json.loads(fixture_bytes("oruk", "service_msk.json"))
    service.update(changes)
    return service  # type: ignore[no-any-return]


#: (name, service, outcome): a fragment of the reason it was skipped or rejected, or
#: "kept" for a listing that is safe to keep (long text is shortened to the record's limits).
ORUK_SERVICES: list[tuple[str, Any, str]] = [
    ("not an object", ["svc"], "expected a service object with an id"),
    ("no id", {"name": "Physiotherapy"}, "expected a service object with an id"),
    ("not physiotherapy", {"id": "s1", "name": "Counselling", "description": "talking therapy"}, "not physiotherapy"),
    ("locations are strings", _msk(service_at_locations=[{"location": "LS6"}] * 3), "no place to list it at"),
    ("locations are junk", _msk(service_at_locations=[None, 5, [], {"location": None}]), "no place to list it at"),
    ("taxonomy deeply nested", _msk(taxonomy_terms=[_nested(200)]), "kept"),
    ("megabyte name", _msk(name="Physiotherapy " + "x" * MB), "kept"),
    ("megabyte of script in the description", _msk(description="<script>alert(1)</script>" * 40_000), "kept"),
    ("phones are junk", _msk(phones=[{"number": {"a": 1}}, None, "0113"]), "kept"),
]


@pytest.mark.parametrize(("name", "service", "outcome"), ORUK_SERVICES, ids=[c[0] for c in ORUK_SERVICES])
def test_oruk_service_mapping_never_raises(name: str, service: Any, outcome: str) -> None:
    result = parse_service(service, row=1, source="oruk:feed.example.org")
    if outcome == "kept":
        assert not isinstance(result, str) and not result.problems, result
        record = result.record
        assert record is not None and len(record.name) <= 300 and len(record.bio or "") <= 4000
        return
    shown = result if isinstance(result, str) else " ".join(str(p) for p in result.problems)
    assert outcome in shown, shown
    if not isinstance(result, str):
        assert result.record is None


FEED = "https://feed.example.org/api"
FEED_HOST = "https://feed.example.org"
GOOD_PAGE = {"total_items": 1, "total_pages": 1, "page_number": 1, "contents": [{"id": "svc-0001-msk"}]}


def _serve_good_feed(mock: Any) -> None:
    mock.add(responses.GET, f"{FEED}/services", json=GOOD_PAGE)
    mock.add(responses.GET, f"{FEED}/services/svc-0001-msk", body=fixture_bytes("oruk", "service_msk.json"), content_type="application/json")


#: (name, answer, error, message): the named error and a fragment of its message; error None:
#: a well-formed but empty page, which must keep (not withdraw) what was loaded before.
LISTING_ANSWERS: list[Any] = [
    ("HTML login page", {"body": b"<html><form>Sign in</form></html>", "content_type": "text/html"}, SourceFormatError, "returned text/html, expected json"),
    ("empty body", {"body": b"", "content_type": "application/json"}, SourceFormatError, "returned an empty body"),
    ("truncated JSON", {"body": json.dumps(GOOD_PAGE).encode()[:40], "content_type": "application/json"}, SourceFormatError, "did not return valid JSON"),
    ("invalid UTF-8 JSON", {"body": b'{"contents": ["\xff\xfe"]}', "content_type": "application/json"}, SourceFormatError, "did not return UTF-8 JSON"),
    ("JSON but not a page", {"body": b'{"error": "maintenance"}', "content_type": "application/json"}, SourceFormatError, "is not an Open Referral UK services page"),
    ("huge body of nothing", {"body": b'{"contents": [], "total_pages": 1, "pad": "' + b"x" * (5 * MB) + b'"}', "content_type": "application/json"}, None, "no services"),
    ("HTTP 503 every time", {"status": 503, "body": b"down"}, SourceError, "still failing after"),
    ("redirect loop to HTML", {"status": 200, "body": b"<!doctype html><title>Moved</title>", "content_type": "text/html; charset=utf-8"}, SourceFormatError, "expected json"),
    ("deeply nested JSON", {"body": DEEP_JSON, "content_type": "application/json"}, SourceFormatError, "did not return valid JSON"),
]


@pytest.mark.parametrize(("name", "answer", "error", "message"), LISTING_ANSWERS, ids=[case_id(c) for c in LISTING_ANSWERS])
def test_a_bad_feed_listing_never_withdraws_what_was_loaded(
    name: str, answer: dict[str, Any], error: type[FinderError] | None, message: str,
    sqlite_store: Store, http_mock: Any, make_session: Any, fake_geocode: Callable[[str], tuple[float, float]],
) -> None:
    allow_robots(http_mock, FEED_HOST)
    _serve_good_feed(http_mock)
    loaded = ingest_oruk_feed(sqlite_store, make_session(), FEED, geocode=fake_geocode)
    assert loaded.ingest.added == 1
    before = listings_snapshot(sqlite_store)
    http_mock.replace(responses.GET, f"{FEED}/services", **answer)
    if error is None:
        report = ingest_oruk_feed(sqlite_store, make_session(max_retries=1), FEED, geocode=fake_geocode)
        assert report.ingest.withdrawn == 0 and not report.complete
        assert message in " ".join(report.warnings), report.warnings
    else:
        with pytest.raises(error) as caught:
            ingest_oruk_feed(sqlite_store, make_session(max_retries=1), FEED, geocode=fake_geocode)
        assert message in caught.value.detail, caught.value.detail
    assert listings_snapshot(sqlite_store) == before


SERVICE_ANSWERS: list[tuple[str, dict[str, Any], str]] = [
    ("HTML instead of the service", {"body": b"<html>oops</html>", "content_type": "text/html"}, "returned text/html, expected json"),
    ("empty service body", {"body": b"", "content_type": "application/json"}, "returned an empty body"),
    ("service is a list", {"json": [1, 2, 3]}, "expected a service object with an id"),
    ("service truncated", {"body": fixture_bytes("oruk", "service_msk.json")[:300], "content_type": "application/json"}, "did not return valid JSON"),
]


@pytest.mark.parametrize(("name", "answer", "message"), SERVICE_ANSWERS, ids=[c[0] for c in SERVICE_ANSWERS])
def test_a_bad_service_page_is_reported_and_writes_nothing(
    name: str, answer: dict[str, Any], message: str,
    sqlite_store: Store, http_mock: Any, make_session: Any, fake_geocode: Callable[[str], tuple[float, float]],
) -> None:
    allow_robots(http_mock, FEED_HOST)
    _serve_good_feed(http_mock)
    ingest_oruk_feed(sqlite_store, make_session(), FEED, geocode=fake_geocode)
    before = listings_snapshot(sqlite_store)
    http_mock.replace(responses.GET, f"{FEED}/services/svc-0001-msk", **answer)
    report = ingest_oruk_feed(sqlite_store, make_session(max_retries=0), FEED, geocode=fake_geocode)
    # A reject never stops other services; here it is the only one, so the run is refused.
    assert report.refused and report.ingest.rejected == 1
    assert message in " ".join(str(p) for p in report.ingest.problems), report.ingest.problems
    assert listings_snapshot(sqlite_store) == before


# ---------------------------------------------------------------------------
# NHS ODS epraccur files

ODS_FILES: list[tuple[str, bytes, str]] = [
    ("HTML page", b"<!DOCTYPE html><html><body>Service unavailable</body></html>", "looks like a web page"),
    ("empty", b"", "is empty: expected the NHS ODS epraccur CSV"),
    ("JSON", b'{"practices": []}', "does not have the epraccur layout"),
    ("zip without csv", b"", "zip without a .csv"),
    ("broken zip", b"PK\x03\x04" + b"\x00" * 40, "looks like a zip but cannot be opened"),
    ("binary junk", bytes(range(256)) * 100, "does not have the epraccur layout"),
    ("one truncated row", fixture_bytes("ods", "epraccur.csv").splitlines()[0][:40], "line 1 has 3 columns, expected 27"),
]


def _zip_without_csv() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "no data here")
    return buffer.getvalue()


@pytest.mark.parametrize(("name", "data", "message"), ODS_FILES, ids=[c[0] for c in ODS_FILES])
def test_a_bad_ods_file_is_refused_and_the_surgeries_stay(
    name: str, data: bytes, message: str, sqlite_store: Store, tmp_path: Any, fake_geocode: Any
) -> None:
    good = tmp_path / "epraccur.csv"
    good.write_bytes(fixture_bytes("ods", "epraccur.csv"))
    ingest_epraccur(sqlite_store, str(good), geocode=fake_geocode)
    before = listings_snapshot(sqlite_store)
    assert before[3], "the fixture file loads GP surgeries"
    bad = tmp_path / "bad.csv"
    data = _zip_without_csv() if name == "zip without csv" else data
    bad.write_bytes(data)
    with pytest.raises(SourceFormatError) as caught:
        ingest_epraccur(sqlite_store, str(bad), geocode=fake_geocode)
    assert message in caught.value.detail, caught.value.detail
    assert listings_snapshot(sqlite_store) == before
    with pytest.raises(SourceFormatError):
        parse_epraccur(data, name="bad.csv")


# ---------------------------------------------------------------------------
# The operator's JSON import

JSON_FILES: list[Any] = [
    ("empty", b"", "not valid JSON"),
    ("HTML", b"<html><body>not json</body></html>", "not valid JSON"),
    ("truncated", b'[{"name": "Ada", "locations": [', "not valid JSON"),
    ("numbers", b"[1, 2, 3]", "expected an object, got int"),
    ("object without practitioners", b'{"data": []}', "expected a JSON array of practitioner records"),
    ("invalid UTF-8", b'[{"name": "\xff"}]', "not valid JSON"),
    ("huge field", json.dumps([{"source_id": "x", "name": "N" * MB, "locations": [{"setting": "online"}]}]).encode(), "the most we keep is"),
    ("unknown keys", b'[{"source_id": "x", "name": "Ada", "locations": [{"setting": "online"}], "admin": true}]', "admin"),
    ("deeply nested array", DEEP_JSON, "not valid JSON"),
    ("deeply nested object", DEEP_OBJECT, "not valid JSON"),
]


@pytest.mark.parametrize(("name", "data", "message"), JSON_FILES, ids=[case_id(c) for c in JSON_FILES])
def test_a_bad_json_import_is_refused_and_the_store_unchanged(name: str, data: bytes, message: str, sqlite_store: Store) -> None:
    ingest(sqlite_store, items(make_record()), source="json")
    before = listings_snapshot(sqlite_store)
    report = ingest(sqlite_store, parse_json(data), source="json")
    problems = " | ".join(str(p) for p in report.problems)
    assert not report.written and message in problems, problems
    assert listings_snapshot(sqlite_store) == before


def corpus_size() -> int:
    return (
        len(HCPC_PAGES) + len(HCPC_ANSWERS) + len(ORUK_PAGE_DOCUMENTS) + len(ORUK_SERVICES)
        + len(LISTING_ANSWERS) + len(SERVICE_ANSWERS) + len(ODS_FILES) + len(JSON_FILES)
    )
