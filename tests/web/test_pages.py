"""Pages that read the store directly: practitioner, referral summary, about, errors, headers."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from finder.db import store_from
from finder.ingest import SourceItem, ingest
from tests.plugins.web import CHECKED_TEXT, XSS, web_records

BANNER = "This directory is showing FICTIONAL sample practitioners for demonstration. They are not real people."


def text_of(response: Any) -> str:
    """Visible text, roughly: tags dropped, entities decoded, spaces squashed."""
    body = response.get_data(as_text=True)
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


def test_practitioner_page_has_what_a_patient_needs(stored_client: Any, stored_app: Any) -> None:
    response = stored_client.get(f"/practitioners/{stored_app.ids['Alice']}")
    assert response.status_code == 200
    text = text_of(response)
    for expected in [
        "Alice Neuro",
        f"Registered with the HCPC (checked {CHECKED_TEXT})",
        "PH7700001",
        "Check PH7700001 yourself on the HCPC register",
        "Multiple sclerosis (MS)",
        "FES (functional electrical stimulation)",
        "1 Otley Road",
        "Monday 9:00 to 17:00",
        "Home visits within 15 km of LS6 2AB",
        "First appointment £60; Follow-up £45",
        "You can refer yourself: for all conditions",
        "MS nurse referral: for all conditions",
        "0113 496 0001",
        "Polish",
        "MCSP: Member of the Chartered Society of Physiotherapy",
        "Accepting new patients",
        "Imported into Physio Finder on",
        "Fictional sample record",
    ]:
        assert expected in text, expected
    body = response.get_data(as_text=True)
    assert 'href="https://www.hcpc-uk.org/check-the-register/"' in body


def test_hcpc_link_follows_config(stored_app: Any) -> None:
    stored_app.config["HCPC_CHECK_URL"] = "https://register.example/check"
    response = stored_app.test_client().get(f"/practitioners/{stored_app.ids['Alice']}")
    assert 'href="https://register.example/check"' in response.get_data(as_text=True)


@pytest.mark.parametrize(("name", "shown"), [("Carol", f"Registration lapsed (checked {CHECKED_TEXT}): not registered to practise"),
                                              ("Dan", "HCPC registration not yet checked")])
def test_non_practising_never_shown_as_registered(stored_client: Any, stored_app: Any, name: str, shown: str) -> None:
    text = text_of(stored_client.get(f"/practitioners/{stored_app.ids[name]}"))
    assert shown in text
    assert "Registered with the HCPC" not in text


def test_nhs_service_shows_waiting_time_and_scoped_routes(stored_client: Any, stored_app: Any) -> None:
    text = text_of(stored_client.get(f"/practitioners/{stored_app.ids['Bob']}"))
    assert "About 8 weeks" in text
    assert "Up to 6 sessions" in text
    assert "You can refer yourself: only for Musculoskeletal (joints, back, muscles)" in text
    assert "Neurologist referral: for all conditions" in text


@pytest.mark.parametrize("path", ["/practitioners/{id}", "/practitioners/{id}/referral", "/practitioners/{id}/referral.txt"])
def test_stored_markup_is_escaped(stored_client: Any, stored_app: Any, path: str) -> None:
    response = stored_client.get(path.format(id=stored_app.ids["Mallory"]))
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    if path.endswith(".txt"):
        assert response.mimetype == "text/plain"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert XSS in body  # plain text is not HTML: shown as typed
        return
    assert "<script>alert" not in body
    assert "<img src=x" not in body
    assert html.escape(XSS, quote=False) in body or "&lt;script&gt;" in body
    assert "Mallory" in text_of(response)


def test_referral_summary_for_gps(stored_client: Any, stored_app: Any) -> None:
    pid = stored_app.ids["Bob"]
    page = stored_client.get(f"/practitioners/{pid}/referral")
    assert page.status_code == 200
    text = text_of(page)
    for expected in ["Referral summary", "Who may refer", "GP referral: for all conditions",
                     "neuro.referrals@example.nhs.uk", "0113 496 0002", "Adults with a confirmed neurological diagnosis",
                     "NHS waiting time: about 8 weeks (date not known: ask the service for today's wait). Up to 6 sessions",
                     "What to include", "NHS number",
                     "FICTIONAL sample record"]:
        assert expected in text, expected
    assert f'/practitioners/{pid}/referral.txt' in page.get_data(as_text=True)
    plain = stored_client.get(f"/practitioners/{pid}/referral.txt")
    assert plain.status_code == 200
    assert plain.mimetype == "text/plain"
    assert plain.mimetype_params.get("charset") == "utf-8"
    body = plain.get_data(as_text=True)
    assert body.startswith("REFERRAL SUMMARY: Bob Community, Leeds Community Neuro Team")
    assert "- You can refer yourself: only for Musculoskeletal (joints, back, muscles)" in body
    assert "- Email: neuro.referrals@example.nhs.uk" in body
    assert "NOT A REAL PERSON" in body
    assert "<" not in body


def test_plain_text_referral_summary_keeps_every_referral_fact(stored_client: Any, stored_app: Any) -> None:
    """What a GP pastes into a referral letter: who may refer (and for what), how, and the criteria."""
    body = stored_client.get(f"/practitioners/{stored_app.ids['Bob']}/referral.txt").get_data(as_text=True)
    assert (
        "WHO MAY REFER\n"
        "- You can refer yourself: only for Musculoskeletal (joints, back, muscles)\n"
        "- GP referral: for all conditions\n"
        "- MS nurse referral: for all conditions\n"
        "- Neurologist referral: for all conditions\n"
    ) in body
    assert "HOW TO REFER\n- Email: neuro.referrals@example.nhs.uk\n- Phone: 0113 496 0002\n" in body
    assert "CRITERIA AND NOTES\nAdults with a confirmed neurological diagnosis. Include the MS type.\n" in body
    # The wait carries when the service said it (hazard H4, a stale waiting time).
    assert re.search(r"NHS WAIT:    about 8 weeks \([^)\n]+\); up to 6 sessions\n", body)
    # Each fact once, in the order a letter needs them.
    sections = ["WHO MAY REFER", "HOW TO REFER", "CRITERIA AND NOTES", "NHS WAIT:", "WHERE", "WHAT TO INCLUDE"]
    assert [body.count(s) for s in sections] == [1] * len(sections)
    assert [body.index(s) for s in sections] == sorted(body.index(s) for s in sections)


def test_print_stylesheet_exists(stored_client: Any) -> None:
    css = stored_client.get("/static/site.css")
    assert css.status_code == 200
    assert "@media print" in css.get_data(as_text=True)
    css.close()


def test_about_page_attributions(stored_client: Any) -> None:
    response = stored_client.get("/about")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    text = text_of(response)
    assert "Contains OS data © Crown copyright and database right" in text
    assert "OS Code-Point Open" in text
    assert "Contains Royal Mail data © Royal Mail copyright and database right" in text
    assert "Contains National Statistics data © Crown copyright and database right" in text
    assert "GeoNames" in text and "CC BY 4.0" in text
    assert 'href="https://creativecommons.org/licenses/by/4.0/"' in body
    assert 'href="https://www.geonames.org/"' in body
    assert "protected title" in text.lower()
    assert "Only people registered with the HCPC may use them" in text
    assert "Last refreshed: " in text and "not yet" not in text.split("Last refreshed:")[1][:12]
    assert f"{len(web_records())} listings" in text


@pytest.mark.parametrize("path", ["/", "/about", "/api", "/practitioners/{id}", "/practitioners/{id}/referral", "/nope"])
def test_banner_on_every_page_while_sample_records_exist(stored_client: Any, stored_app: Any, path: str) -> None:
    response = stored_client.get(path.format(id=stored_app.ids["Alice"]))
    assert BANNER in text_of(response)


def test_no_banner_without_sample_records(app: Any) -> None:
    store = store_from(app)
    store.upgrade()
    real = [r.model_copy(update={"is_sample": False}) for r in web_records()[:2]]
    ingest(store, [SourceItem(row=2 + i, record=r) for i, r in enumerate(real)], source="csv")
    for path in ["/", "/about"]:
        assert BANNER not in text_of(app.test_client().get(path))


@pytest.mark.parametrize("path", ["/practitioners/999999", "/practitioners/99999999999999999999", "/practitioners/abc", "/nope"])
def test_unknown_pages_are_friendly_404s(stored_client: Any, path: str) -> None:
    response = stored_client.get(path)
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Traceback" not in response.get_data(as_text=True)
    assert "Search for a physiotherapist" in text_of(response)


def test_withdrawn_listing_says_so(stored_app: Any) -> None:
    store = store_from(stored_app)
    keep = [r for r in web_records() if not r.name.startswith("Carol")]
    ingest(store, [SourceItem(row=2 + i, record=r) for i, r in enumerate(keep)], source="csv", complete=True)
    client = stored_app.test_client()
    response = client.get(f"/practitioners/{stored_app.ids['Carol']}")
    assert response.status_code == 410
    assert "no longer listed" in text_of(response)
    api = client.get(f"/api/v1/practitioners/{stored_app.ids['Carol']}")
    assert api.status_code == 410
    assert api.mimetype == "application/problem+json"


def test_security_headers_on_every_response(stored_client: Any, stored_app: Any) -> None:
    for path in ["/", "/about", f"/practitioners/{stored_app.ids['Alice']}", "/nope", "/api/v1/vocabularies", "/static/site.css"]:
        response = stored_client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["X-Frame-Options"] == "DENY"
        response.close()


def test_no_inline_script_or_style_in_pages(stored_client: Any, stored_app: Any) -> None:
    for path in ["/", "/search", "/about", "/api", f"/practitioners/{stored_app.ids['Alice']}",
                 f"/practitioners/{stored_app.ids['Alice']}/referral"]:
        body = stored_client.get(path).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", body), path
        assert " style=" not in body and "<style" not in body, path
        assert not re.search(r"\son[a-z]+=", body), path


def test_pages_revalidate_with_etags(stored_client: Any) -> None:
    first = stored_client.get("/about")
    assert first.headers["Cache-Control"] == "private, no-cache"
    again = stored_client.get("/about", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_unexpected_errors_are_logged_not_shown(stored_app: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    store = store_from(stored_app)

    def broken(_id: int, **_: Any) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(store, "get", broken)
    client = stored_app.test_client()
    page = client.get("/practitioners/1")
    assert page.status_code == 500
    assert "secret internal detail" not in page.get_data(as_text=True)
    assert "Sorry, something went wrong" in text_of(page)
    api = client.get("/api/v1/practitioners/1")
    assert api.status_code == 500
    assert api.mimetype == "application/problem+json"
    assert "secret internal detail" not in api.get_data(as_text=True)
    assert "secret internal detail" in caplog.text


def test_store_not_set_up_is_a_clear_503(app: Any) -> None:
    # The tables do not exist yet (no `finder init-db`): a clear message, not a traceback.
    client = app.test_client()
    assert client.get("/").status_code == 200
    response = client.get("/practitioners/1")
    assert response.status_code == 503
    assert "not available" in text_of(response)


def test_gp_surgery_location_shows_the_nhs_record(app: Any) -> None:
    from finder.models import GpSurgery
    from tests.helpers import make_record

    store = store_from(app)
    store.upgrade()
    with store.session() as session:
        session.add(
            GpSurgery(ods_code="B86001", name="THE HEADINGLEY SURGERY", address_lines=["1 OTLEY ROAD", "LEEDS"],
                      postcode="LS6 2AB", phone="0113 496 0999", status_code="A", status="open", content_hash="x")
        )
    record = make_record(locations=[{"setting": "gp_surgery", "postcode": "LS6 2AB", "lat": 53.82, "lon": -1.57, "ods_code": "b86001"}])
    ingest(store, [SourceItem(row=2, record=record)], source="csv")
    pid = next(store.iter_practitioners()).id
    text = text_of(app.test_client().get(f"/practitioners/{pid}"))
    assert "NHS record for this GP surgery" in text
    assert "NHS code B86001" in text
    assert "0113 496 0999" in text
    assert "LS6 2AB" in text


def test_rate_limited_page_is_friendly(stored_app: Any) -> None:
    from werkzeug.exceptions import TooManyRequests

    @stored_app.get("/_limited")
    def limited() -> None:
        raise TooManyRequests(retry_after=60)

    response = stored_app.test_client().get("/_limited")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "60"
    assert "Please wait a minute and try again" in text_of(response)
