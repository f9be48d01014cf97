""""Report a problem with this listing": stored for operators, never shown; CSRF, size and rate limits; CLI."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from finder import reports
from finder.db import Store, store_from
from finder.errors import NotFound
from finder.models import utcnow
from tests.helpers import items, make_record
from tests.web.test_pages import text_of


def form_token(client: Any, pid: int) -> str:
    page = client.get(f"/practitioners/{pid}/report")
    assert page.status_code == 200
    return re.search(r'name="token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def send(client: Any, pid: int, token: str | None = None, **fields: str) -> Any:
    data = {"kind": "contact", "details": "The phone number is 0113 496 9999 now.", "contact": ""}
    data.update(fields)
    data["token"] = form_token(client, pid) if token is None else token
    return client.post(f"/practitioners/{pid}/report", data=data)


def test_the_profile_links_to_a_working_report_form(stored_client: Any, stored_app: Any) -> None:
    pid = stored_app.ids["Bob"]
    profile = stored_client.get(f"/practitioners/{pid}").get_data(as_text=True)
    assert f'href="/practitioners/{pid}/report">Report a problem with this listing</a>' in profile
    form = stored_client.get(f"/practitioners/{pid}/report")
    assert form.status_code == 200
    assert "Set-Cookie" not in form.headers  # no cookies: the CSRF token is a signed form field
    assert "What is wrong?" in text_of(form)


def test_a_report_is_stored_and_never_shown(stored_client: Any, stored_app: Any) -> None:
    pid = stored_app.ids["Bob"]
    response = send(stored_client, pid, details="Clinic closed in March SECRET-DETAIL", contact="me@example.org")
    assert response.status_code == 303
    thanks = stored_client.get(response.headers["Location"])
    assert "Thank you: your report was sent" in text_of(thanks)
    assert "Set-Cookie" not in response.headers
    [stored] = reports.list_reports(store_from(stored_app))
    assert (stored.practitioner_id, stored.kind, stored.contact) == (pid, "contact", "me@example.org")
    assert "SECRET-DETAIL" in stored.details
    for url in (f"/practitioners/{pid}", f"/api/v1/practitioners/{pid}", f"/practitioners/{pid}/referral.txt"):
        assert "SECRET-DETAIL" not in stored_client.get(url).get_data(as_text=True)


@pytest.mark.parametrize(
    ("token", "status", "message"),
    [("", 400, "could not be checked"), ("forged.token.value", 400, "could not be checked")],
)
def test_a_post_without_a_good_token_is_refused(
    stored_client: Any, stored_app: Any, token: str, status: int, message: str
) -> None:
    response = send(stored_client, stored_app.ids["Bob"], token=token)
    assert response.status_code == status
    assert message in text_of(response)
    assert "The phone number is 0113 496 9999 now." in response.get_data(as_text=True)  # input kept
    assert reports.list_reports(store_from(stored_app)) == []


def test_a_token_is_bound_to_its_listing_and_expires(stored_client: Any, stored_app: Any, monkeypatch: Any) -> None:
    alice, bob = stored_app.ids["Alice"], stored_app.ids["Bob"]
    response = send(stored_client, bob, token=form_token(stored_client, alice))
    assert response.status_code == 400 and "belongs to another listing" in text_of(response)
    token = form_token(stored_client, bob)
    monkeypatch.setattr("finder.web.reports.TOKEN_MAX_AGE", -1)
    response = send(stored_client, bob, token=token)
    assert response.status_code == 400 and "open too long" in text_of(response)


@pytest.mark.parametrize(
    "headers", [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}]
)
def test_a_post_from_another_site_is_refused(stored_client: Any, stored_app: Any, headers: dict[str, str]) -> None:
    pid = stored_app.ids["Bob"]
    token = form_token(stored_client, pid)
    response = stored_client.post(
        f"/practitioners/{pid}/report", data={"kind": "closed", "token": token}, headers=headers
    )
    assert response.status_code == 403
    assert reports.list_reports(store_from(stored_app)) == []
    same_site = stored_client.post(
        f"/practitioners/{pid}/report", data={"kind": "closed", "token": token}, headers={"Origin": "http://localhost"}
    )
    assert same_site.status_code == 303


def test_size_limits(stored_client: Any, stored_app: Any) -> None:
    pid = stored_app.ids["Bob"]
    response = send(stored_client, pid, details="x" * 2001)
    assert response.status_code == 400 and "at most 2,000 are allowed" in text_of(response)
    response = send(stored_client, pid, details="x" * 40_000)
    assert response.status_code == 413 and "too long" in text_of(response)
    response = send(stored_client, pid, kind="other", details="")
    assert response.status_code == 400 and "tell us what is wrong" in text_of(response)
    response = send(stored_client, pid, kind="nonsense")
    assert response.status_code == 400 and "choose what is wrong" in text_of(response)
    assert reports.list_reports(store_from(stored_app)) == []


def test_rate_limits(stored_client: Any, stored_app: Any) -> None:
    bob, alice, erin = stored_app.ids["Bob"], stored_app.ids["Alice"], stored_app.ids["Erin"]
    stored_app.config.update(REPORTS_PER_HOUR=3, REPORTS_PER_LISTING_PER_DAY=2)
    assert send(stored_client, bob).status_code == 303
    assert send(stored_client, bob).status_code == 303
    third = send(stored_client, bob)
    assert third.status_code == 429 and "already told us about this listing today" in text_of(third)
    assert send(stored_client, alice).status_code == 303
    fourth = send(stored_client, erin)
    assert fourth.status_code == 429 and "at most 3 reports an hour" in text_of(fourth)
    assert fourth.headers["Retry-After"] == "3600"
    assert len(reports.list_reports(store_from(stored_app))) == 3


def test_an_unknown_listing_has_no_form(stored_client: Any) -> None:
    assert stored_client.get("/practitioners/999999/report").status_code == 404


# ---- store functions on SQLite and PostgreSQL, and the operators' CLI -------------------


def test_reports_are_listed_and_closed(store: Store) -> None:
    from finder.ingest import ingest

    ingest(store, items(make_record()), source="csv", input_name="t")
    [pid] = [s.id for s in store.iter_practitioners()]
    now = utcnow()
    first = reports.add_report(store, pid, "closed", "", "", sender="a", now=now - timedelta(minutes=5))
    second = reports.add_report(store, pid, "other", "Wrong bio", "", sender="b", now=now)
    assert [r.id for r in reports.list_reports(store)] == [second, first]
    reports.close_report(store, first, "withdrawn")
    assert [r.id for r in reports.list_reports(store)] == [second]
    closed = [r for r in reports.list_reports(store, include_closed=True) if r.id == first][0]
    assert closed.closed_at is not None and closed.closed_note == "withdrawn"
    with pytest.raises(NotFound):
        reports.close_report(store, 99999)
    with pytest.raises(NotFound):
        reports.add_report(store, 99999, "closed", "", "", sender="a")


def test_cli_lists_and_closes_reports(stored_app: Any, runner: Any) -> None:
    store = store_from(stored_app)
    pid = stored_app.ids["Bob"]
    report_id = reports.add_report(store, pid, "registration", "Not on the register", "", sender="x")
    listed = runner.invoke(["reports", "list"])
    assert listed.exit_code == 0, listed.output
    assert f"#{report_id}" in listed.output and "Not on the register" in listed.output and "Bob Community" in listed.output
    closed = runner.invoke(["reports", "close", str(report_id), "--note", "checked: registered"])
    assert closed.exit_code == 0 and f"Closed report #{report_id}" in closed.output
    assert runner.invoke(["reports", "list"]).output.strip() == "No reports."
    assert "checked: registered" in runner.invoke(["reports", "list", "--all"]).output
    missing = runner.invoke(["reports", "close", "424242"])
    assert missing.exit_code == 1 and "No report has id 424242" in missing.output
