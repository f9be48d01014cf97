"""HCPC register: reading the detail page, and `finder verify-registrations` on a real store."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
import requests
import responses
from sqlalchemy import select, text

from finder.db import Store
from finder.ingest import ingest
from finder.models import IngestRun, RegistrationCheck, utcnow
from finder.registration import names_match, verify_registrations
from scrapers.hcpc import HcpcRegister, parse_register_page, register_url, status_from_register
from tests.helpers import items, make_record
from tests.plugins.scrapers import allow_robots, fixture_bytes

REGISTER_HOST = "https://register.example.org"
TEMPLATE = f"{REGISTER_HOST}/check-the-register/professional-registration-detail/?query={{number}}&profession=PH"
TODAY = date(2026, 11, 27)


def page(name: str) -> bytes:
    return fixture_bytes("hcpc", name)


# ---- the page parser ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "number", "status", "name", "period_to"),
    [
        ("registered.html", "PH990001", "registered", "Ada Example", date(2028, 2, 28)),
        ("registered_other_layout.html", "PH990001", "registered", "Ada Example", date(2028, 2, 28)),
        ("conditions_of_practice.html", "PH990002", "conditions_of_practice", "Bryn Sample", date(2028, 2, 28)),
        ("suspended.html", "PH990003", "suspended", "Cerys Placeholder", date(2028, 2, 28)),
        ("lapsed.html", "PH990004", "lapsed", "Dev Fictional", date(2024, 2, 28)),
        ("removed.html", "PH990005", "removed", "Efa Madeup", None),
        ("caution.html", "PH990006", "registered", "Femi Invented", date(2028, 2, 28)),
        ("not_found.html", "PH990009", "not_found", None, None),
    ],
)
def test_recognised_pages(fixture: str, number: str, status: str, name: str | None, period_to: date | None) -> None:
    check = parse_register_page(page(fixture), number=number, url="u", today=TODAY)
    assert (check.status, check.register_name, check.period_to) == (status, name, period_to)
    assert check.recognised and check.source_url == "u"


def test_the_detail_page_gives_period_area_and_data_stamp() -> None:
    check = parse_register_page(page("registered.html"), number="ph 990001", today=TODAY)
    assert check.number == "PH990001"
    assert (check.period_from, check.location, check.data_valid_on) == (date(2026, 3, 1), "Leeds", "27/11/2026 09:00:00")
    assert check.register_status == "Registered" and check.reason is None


def test_a_caution_is_registered_but_noted_for_review() -> None:
    check = parse_register_page(page("caution.html"), number="PH990006", today=TODAY)
    assert check.status == "registered" and "caution" in (check.reason or "")


@pytest.mark.parametrize(
    ("fixture", "number", "reason"),
    [
        ("changed_shape.html", "PH990001", "has no 'registration number' or 'status' field"),
        ("challenge.html", "PH990001", "page title 'Just a moment...'"),
        ("truncated.html", "PH990001", "truncated HTML"),
        ("unknown_status.html", "PH990008", "a status we do not know: 'Registered (annotated entry)'"),
        ("registered.html", "PH990002", "shows number 'PH990001', not PH990002"),
    ],
)
def test_pages_we_do_not_recognise_are_unchecked_with_the_reason(fixture: str, number: str, reason: str) -> None:
    check = parse_register_page(page(fixture), number=number, today=TODAY)
    assert check.status == "unchecked" and not check.recognised
    assert reason in (check.reason or "")


@pytest.mark.parametrize("body", [b"", b"   ", b"Registered", b"\x89PNG\r\n\x1a\n\x00\x00"])
def test_empty_or_non_html_bodies_are_unchecked(body: bytes) -> None:
    assert parse_register_page(body, number="PH1").status == "unchecked"


@pytest.mark.parametrize(
    ("shown", "code"),
    [
        ("Registered", "registered"),
        ("  registered ", "registered"),
        ("Registered - Conditions of practice apply", "conditions_of_practice"),
        ("Interim conditions of practice order", "conditions_of_practice"),
        ("Suspended", "suspended"),
        ("Interim suspension order", "suspended"),
        ("Lapsed", "lapsed"),
        ("Struck off", "removed"),
        ("Removed (voluntary removal)", "removed"),
        ("Registered (annotated entry)", None),
        ("Not registered", None),
        ("Pending", None),
    ],
)
def test_register_status_words(shown: str, code: str | None) -> None:
    assert status_from_register(shown)[0] == code


def test_a_registered_period_that_has_ended_is_flagged() -> None:
    check = parse_register_page(page("registered.html"), number="PH990001", today=date(2028, 3, 1))
    assert check.status == "registered" and "period ended on 28/02/2028" in (check.reason or "")


@pytest.mark.parametrize(
    ("ours", "register", "ok"),
    [
        ("Ada Example", "Ada Example", True),
        ("Ada Example", "EXAMPLE, Ada", True),
        ("Dr Ada Example MCSP", "Ada B Example", True),
        ("A. Example", "Ada Example", True),
        ("Siân Ní Bhriain (example)", "Sian Ni Bhriain", True),
        ("Mary-Jane O'Neill", "Mary-Jane O'Neill", True),
        ("Ada Example", "Ada Other", False),
        ("Ada Example", "Bea Example", False),
        ("Ada Example", None, False),
    ],
)
def test_name_matching(ours: str, register: str | None, ok: bool) -> None:
    assert names_match(ours, register)[0] is ok


def test_the_register_url_template_needs_a_number_slot() -> None:
    assert register_url(TEMPLATE, "PH1").endswith("?query=PH1&profession=PH")
    with pytest.raises(ValueError, match="must contain {number}"):
        register_url("https://example.org/register", "PH1")


# ---- verify-registrations on a store -----------------------------------------------

PEOPLE = [
    # (source id, our name, number, register fixture)
    ("p-ada", "Ada Example", "PH990001", "registered.html"),
    ("p-bryn", "Bryn Sample", "PH990002", "conditions_of_practice.html"),
    ("p-cerys", "Cerys Placeholder", "PH990003", "suspended.html"),
    ("p-dev", "Dev Fictional", "PH990004", "lapsed.html"),
    ("p-gwen", "Gwen Jones", "PH990007", "name_mismatch.html"),
    ("p-ivo", "Ivo Nobody", "PH990009", "not_found.html"),
]


def seed(store: Store, *, sample: bool = False) -> dict[str, int]:
    records = [
        make_record(name=name, registration={"number": number}, provenance={"source": "csv", "source_id": sid}, is_sample=sample)
        for sid, name, number, _ in PEOPLE
    ]
    ingest(store, items(*records), source="csv")
    return {s.record.registration.number: s.id for s in store.iter_practitioners()}


def serve_register(mock: Any, pages: dict[str, Any] | None = None) -> None:
    allow_robots(mock, REGISTER_HOST, body="User-agent: *\nDisallow: /check-the-register/register-results/\n")
    for _, _, number, fixture in PEOPLE:
        answers = (pages or {}).get(number, [page(fixture)])
        for answer in answers:
            if isinstance(answer, dict):
                mock.add(responses.GET, register_url(TEMPLATE, number), **answer)
            else:
                mock.add(responses.GET, register_url(TEMPLATE, number), body=answer, content_type="text/html; charset=utf-8")


def registration_of(store: Store, pid: int) -> Any:
    stored = store.get(pid)
    assert stored is not None
    return stored.record.registration


def test_verify_updates_statuses_dates_and_flags(store: Store, http_mock: Any, make_session: Any) -> None:
    ids = seed(store)
    before = {pid: store.get(pid).updated_at for pid in ids.values()}
    serve_register(http_mock)
    register = HcpcRegister(make_session(), TEMPLATE)
    report = verify_registrations(store, lambda n: register.check(n, today=TODAY), today=TODAY)

    assert (report.due, report.checked, report.changed, report.failed) == (6, 6, 6, 0)
    assert report.statuses == {"registered": 1, "conditions_of_practice": 1, "suspended": 1, "lapsed": 1, "unchecked": 1, "not_found": 1}
    ada = registration_of(store, ids["PH990001"])
    assert (ada.status, ada.checked_on, ada.period_to, ada.register_name, ada.needs_review) == (
        "registered", TODAY, date(2028, 2, 28), "Ada Example", None
    )
    assert ada.is_practising
    assert registration_of(store, ids["PH990002"]).status == "conditions_of_practice"
    assert registration_of(store, ids["PH990003"]).status == "suspended"
    dev = registration_of(store, ids["PH990004"])
    assert (dev.status, dev.period_to) == ("lapsed", date(2024, 2, 28))
    # The register's name for PH990007 is someone else's: not accepted, flagged.
    gwen = registration_of(store, ids["PH990007"])
    assert gwen.status == "unchecked" and not gwen.is_practising
    assert "Gwen Somebody-Else" in gwen.needs_review and "not 'Gwen Jones'" in gwen.needs_review
    ivo = registration_of(store, ids["PH990009"])
    assert ivo.status == "not_found" and ivo.checked_on == TODAY and "not found" in ivo.needs_review
    assert report.needs_review == 2
    for pid in ids.values():
        assert store.get(pid).updated_at > before[pid]
    with store.reader() as session:
        evidence = session.scalars(select(RegistrationCheck).order_by(RegistrationCheck.id)).all()
        run = session.get(IngestRun, report.run_id)
    assert len(evidence) == 6 and all(e.changed for e in evidence)
    assert evidence[0].data_valid_on == "27/11/2026 09:00:00" and evidence[0].source_url == register_url(TEMPLATE, "PH990001")
    assert (run.source, run.status, run.read, run.updated, run.rejected) == ("hcpc", "completed", 6, 6, 0)
    assert store.registration_checks(ids["PH990001"])[0].outcome == "registered"


def test_a_second_run_checks_nobody_and_writes_nothing(store: Store, http_mock: Any, make_session: Any) -> None:
    seed(store)
    serve_register(http_mock)
    register = HcpcRegister(make_session(), TEMPLATE)
    verify_registrations(store, lambda n: register.check(n, today=TODAY), today=TODAY)
    snapshot = _snapshot(store)
    calls = len(http_mock.calls)
    again = verify_registrations(store, lambda n: register.check(n, today=TODAY), today=TODAY + timedelta(days=5))
    assert (again.due, again.checked, again.changed) == (0, 0, 0)
    assert len(http_mock.calls) == calls
    assert _snapshot(store) == snapshot


def test_rechecking_the_same_day_reports_unchanged(store: Store, http_mock: Any, make_session: Any) -> None:
    seed(store)
    serve_register(http_mock)
    register = HcpcRegister(make_session(), TEMPLATE)
    verify_registrations(store, lambda n: register.check(n, today=TODAY), today=TODAY)
    snapshot = _snapshot(store)
    again = verify_registrations(store, lambda n: register.check(n, today=TODAY), older_than_days=0, today=TODAY)
    assert (again.checked, again.changed, again.unchanged) == (6, 0, 6)
    assert _snapshot(store) == snapshot


def _snapshot(store: Store) -> list[Any]:
    with store.engine.connect() as connection:
        return connection.execute(text("select * from practitioners order by id")).all()


def test_an_unrecognised_page_keeps_the_stored_status_and_logs_why(
    store: Store, http_mock: Any, make_session: Any, caplog: Any
) -> None:
    ids = seed(store)
    serve_register(http_mock)
    register = HcpcRegister(make_session(), TEMPLATE)
    earlier = TODAY - timedelta(days=40)
    verify_registrations(store, lambda n: register.check(n, today=earlier), today=earlier)
    before = _snapshot(store)

    http_mock.replace(responses.GET, register_url(TEMPLATE, "PH990001"), body=page("changed_shape.html"), content_type="text/html")
    report = verify_registrations(store, lambda n: register.check(n, today=TODAY), numbers=["PH990001"], today=TODAY)
    assert (report.checked, report.failed, report.changed) == (1, 1, 0)
    assert "layout may have changed" in report.problems[0]
    assert "layout may have changed" in caplog.text
    assert _snapshot(store) == before
    ada = registration_of(store, ids["PH990001"])
    assert (ada.status, ada.checked_on) == ("registered", earlier)  # never silently upgraded or wiped
    latest = store.registration_checks(ids["PH990001"])[0]
    assert latest.outcome == "unchecked" and not latest.changed and "layout may have changed" in latest.reason


def test_429_then_500_then_success(store: Store, http_mock: Any, make_session: Any, fake_clock: Any) -> None:
    ids = seed(store)
    serve_register(
        http_mock,
        {"PH990001": [{"status": 429, "headers": {"Retry-After": "9"}}, {"status": 500}, page("registered.html")]},
    )
    register = HcpcRegister(make_session(), TEMPLATE)
    report = verify_registrations(store, lambda n: register.check(n, today=TODAY), today=TODAY)
    assert report.failed == 0 and registration_of(store, ids["PH990001"]).status == "registered"
    assert 9 in fake_clock.sleeps


def test_a_timeout_counts_as_failed_and_changes_nothing(store: Store, http_mock: Any, make_session: Any) -> None:
    ids = seed(store)
    serve_register(http_mock, {"PH990001": [{"body": requests.exceptions.ReadTimeout("slow")}]})
    register = HcpcRegister(make_session(max_retries=1), TEMPLATE)
    report = verify_registrations(store, lambda n: register.check(n, today=TODAY), today=TODAY)
    assert report.failed == 1 and report.checked == 6
    assert "could not fetch the register page" in report.problems[0]
    ada = registration_of(store, ids["PH990001"])
    assert (ada.status, ada.checked_on) == ("unchecked", None)
    # Resumable: the failed one is still due next run, the others are not.
    again = verify_registrations(store, lambda n: register.check(n, today=TODAY), today=TODAY)
    assert again.due == 1


def test_robots_disallow_stops_the_run_and_writes_no_status(store: Store, http_mock: Any, make_session: Any) -> None:
    seed(store)
    before = _snapshot(store)
    allow_robots(http_mock, REGISTER_HOST, body="User-agent: *\nDisallow: /check-the-register/\n")
    register = HcpcRegister(make_session(), TEMPLATE)
    report = verify_registrations(store, register.check, today=TODAY)
    assert report.stopped and "robots.txt does not allow crawlers" in report.stopped
    assert "stopped early" in report.summary()
    assert _snapshot(store) == before
    with store.reader() as session:
        assert session.scalars(select(IngestRun)).all()[-1].status == "failed"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"body": b"", "content_type": "text/html"}, "returned an empty body"),
        ({"json": {"status": "Registered"}}, "returned application/json, expected html"),
        ({"body": page("truncated.html"), "content_type": "text/html"}, "truncated HTML"),
        ({"status": 404}, "HTTP 404 (not found)"),
    ],
)
def test_bad_register_answers_change_nothing(store: Store, http_mock: Any, make_session: Any, answer: dict[str, Any], reason: str) -> None:
    seed(store)
    before = _snapshot(store)
    serve_register(http_mock, {number: [answer] for _, _, number, _ in PEOPLE})
    register = HcpcRegister(make_session(), TEMPLATE)
    report = verify_registrations(store, lambda n: register.check(n, today=TODAY), today=TODAY)
    # Five failures in a row: the register looks broken. An empty body is a stand-in page,
    # and three of those in a row stop the run sooner.
    assert report.failed == (3 if "empty" in reason else 5) and report.stopped
    assert reason in report.problems[0]
    assert _snapshot(store) == before


def test_a_run_of_failures_stops_early(store: Store) -> None:
    seed(store)
    from finder.errors import FetchFailed

    def down(number: str) -> Any:
        raise FetchFailed(f"{number}: HTTP 503, still failing after 5 attempts")

    report = verify_registrations(store, down, today=TODAY)
    # A 503 after every retry is an error page in front of the register: three in a row stop the run.
    assert report.checked == 3 and report.failed == 3
    assert report.stopped and "answered 3 checks in a row with an error page" in report.stopped

    def unknown(number: str) -> Any:
        raise FetchFailed(f"{number}: could not connect (ConnectionError), still failing after 5 attempts")

    report = verify_registrations(store, unknown, today=TODAY)
    assert report.checked == 5 and report.stopped and "5 checks in a row failed" in report.stopped


def test_limit_and_never_checked_first(store: Store, http_mock: Any, make_session: Any) -> None:
    ids = seed(store)
    serve_register(http_mock)
    register = HcpcRegister(make_session(), TEMPLATE)
    first = verify_registrations(store, lambda n: register.check(n, today=TODAY), limit=2, today=TODAY)
    assert first.checked == 2
    second = verify_registrations(store, lambda n: register.check(n, today=TODAY), limit=10, today=TODAY)
    assert second.checked == 4  # the remaining never-checked ones; the first two are not due
    assert all(registration_of(store, pid).checked_on == TODAY for pid in ids.values())


def test_fictional_sample_listings_are_left_alone(store: Store) -> None:
    seed(store, sample=True)

    def must_not_be_called(number: str) -> Any:
        raise AssertionError("a fictional number was looked up on the real register")

    report = verify_registrations(store, must_not_be_called, today=TODAY)
    assert (report.due, report.skipped_sample) == (0, 6)
    assert "fictional sample" in report.summary()


def test_withdrawn_listings_are_not_checked(store: Store) -> None:
    seed(store)
    ingest(store, items(make_record(provenance={"source": "csv", "source_id": "p-ada"}, name="Ada Example", registration={"number": "PH990001"})), source="csv", complete=True)
    seen: list[str] = []

    def record(number: str) -> Any:
        seen.append(number)
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError):
        verify_registrations(store, record, today=TODAY)
    assert seen == ["PH990001"]  # withdrawn ones (all but Ada) never reach the lookup
    with store.reader() as session:
        assert session.scalars(select(IngestRun).where(IngestRun.source == "hcpc")).one().status == "interrupted"


# ---- the command ---------------------------------------------------------------------


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {
        **app_config,
        "HTTP_CONTACT": "tests@example.org",
        "HTTP_RATE_LIMIT_PER_SECOND": 1000,
        "HCPC_REGISTER_URL": TEMPLATE,
    }


def test_the_command_checks_and_prints_a_summary(runner: Any, app: Any, http_mock: Any) -> None:
    runner.invoke(["init-db"])
    store: Store = app.extensions["finder.store"]
    ids = seed(store)
    serve_register(http_mock)
    result = runner.invoke(["verify-registrations", "--older-than-days", "30", "--limit", "10"])
    assert result.exit_code == 0, result.output
    assert "checked 6 of 6 due: changed 6, unchanged 0, failed 0" in result.output
    assert "2 flagged for review" in result.output
    today = utcnow().date()
    assert registration_of(store, ids["PH990003"]).checked_on == today
    assert registration_of(store, ids["PH990003"]).status == "suspended"


def test_the_command_explains_a_missing_contact(runner: Any, app: Any) -> None:
    app.config["HTTP_CONTACT"] = ""
    runner.invoke(["init-db"])
    result = runner.invoke(["verify-registrations"])
    assert result.exit_code == 1 and "FINDER_HTTP_CONTACT" in result.output
    assert "Traceback" not in result.output


def test_the_command_help_shows_an_example(runner: Any) -> None:
    for command in (["verify-registrations"], ["ingest", "ods"], ["ingest", "oruk"]):
        result = runner.invoke([*command, "--help"])
        assert "Example:" in result.output, command


# ---- a register that pushes back ---------------------------------------------------------

LOGIN_PAGE = b"""<!DOCTYPE html><html><head><title>Sign in</title></head><body>
<form method="post" action="/login"><label>Email <input name="email"></label>
<label>Password <input type="password" name="password"></label><button>Sign in</button></form></body></html>"""
ERROR_PAGE = b"""<!DOCTYPE html><html><head><title>Service Unavailable</title></head>
<body><h1>Service Unavailable</h1><p>The server is temporarily unable to service your request.</p></body></html>"""


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (page("challenge.html"), "a bot-challenge ('checking your browser') page"),
        (b"<html><head><title>Attention Required! | Cloudflare</title></head><body>Checking your browser before accessing</body></html>",
         "a bot-challenge ('checking your browser') page"),
        (LOGIN_PAGE, "a login page"),
        (ERROR_PAGE, "an error page"),
        (b"", "an empty page"),
    ],
)
def test_stand_in_pages_are_could_not_check(body: bytes, kind: str) -> None:
    check = parse_register_page(body, number="PH990001", today=TODAY)
    assert check.status == "unchecked" and check.blocked == kind and not check.recognised


def test_real_register_pages_are_never_taken_for_stand_ins() -> None:
    for fixture in ("registered.html", "not_found.html", "lapsed.html", "removed.html"):
        assert parse_register_page(page(fixture), number="PH990001", today=TODAY).blocked is None, fixture


def test_a_challenge_keeps_every_status_and_stops_the_run_with_one_message(
    store: Store, http_mock: Any, make_session: Any
) -> None:
    seed(store)
    # First check everyone properly, so there are stored statuses to keep.
    serve_register(http_mock)
    register = HcpcRegister(make_session(), TEMPLATE)
    verify_registrations(store, lambda n: register.check(n, today=TODAY), today=TODAY)
    before = _snapshot(store)
    for _, _, number, _ in PEOPLE:
        http_mock.replace(responses.GET, register_url(TEMPLATE, number), body=page("challenge.html"), content_type="text/html")
    later = TODAY + timedelta(days=40)
    report = verify_registrations(store, lambda n: register.check(n, today=later), today=later)
    # Three challenge pages in a row, then stop: the other three are never asked for.
    assert (report.checked, report.failed, report.blocked) == (3, 3, 3)
    assert report.stopped and report.stopped.startswith(
        "the HCPC register answered 3 checks in a row with a bot-challenge ('checking your browser') page"
    )
    assert "no stored status was changed" in report.stopped and "try again after" in report.stopped
    assert _snapshot(store) == before


def test_a_challenge_behind_an_error_status_is_not_retried(store: Store, http_mock: Any, make_session: Any) -> None:
    seed(store)
    allow_robots(http_mock, REGISTER_HOST)
    challenge = page("challenge.html")
    for _, _, number, _ in PEOPLE:
        http_mock.add(responses.GET, register_url(TEMPLATE, number), body=challenge, status=503, content_type="text/html")
    register = HcpcRegister(make_session(), TEMPLATE)
    report = verify_registrations(store, lambda n: register.check(n, today=TODAY), today=TODAY)
    asked = [c for c in http_mock.calls if "professional-registration-detail" in c.request.url]
    assert len(asked) == 3  # one request per number, no retries into the wall, and only three numbers
    assert report.stopped and "bot-challenge" in report.stopped


@pytest.mark.parametrize(
    ("status", "period_to", "shown"),
    [
        ("registered", date(2028, 2, 28), True),
        ("registered", None, True),
        ("registered", TODAY, True),
        ("registered", TODAY - timedelta(days=1), False),  # the period the register showed has ended
        ("conditions_of_practice", date(2028, 2, 28), True),
        ("conditions_of_practice", date(2024, 2, 28), False),
        ("lapsed", date(2028, 2, 28), False),
        ("unchecked", None, False),
        (None, None, False),
    ],
)
def test_a_registration_past_its_end_date_is_not_shown_as_registered(status: str | None, period_to: date | None, shown: bool) -> None:
    from finder.registration import is_shown_as_registered

    assert is_shown_as_registered(status, period_to, today=TODAY) is shown
