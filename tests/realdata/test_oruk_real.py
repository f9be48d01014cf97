"""`finder ingest oruk` on real Open Referral UK payloads, served from 127.0.0.1 as each feed's API.

What each real file holds (read by hand; ../shared/real-data/README.md says where each comes from):

* Hull ``/services``: a Spring-style envelope with ``totalpages: 0`` and an empty ``content``.
* Buckinghamshire ``/services`` page 1 of 2,203 (Outpost layout): two services, both with
  locations written on the service (so no ``/services/{id}`` is needed): childminder
  "Sofya Zamaraeva" (district ``HP5`` only, exact address masked, point -0.6, 51.71; phone
  under ``contacts[].phone``: 07825 001661) and "Big Top Nursery Waddesdon" (HP18 0JD,
  01296 658898). Both carry taxonomy term 21 "Childcare and early years"; only the
  childminder carries 42 "Childminders". Neither is physiotherapy.
* Bristol v3: ``/services?per_page=3`` page 1 of 292 (3 services, none about physiotherapy,
  no ``service_at_locations`` on any) and the full record of the first, "1625 Independent
  People" (HTML description, ages -1/-1, two ``service_areas``: Bristol and South Gloucestershire).
  Only that one full record was captured, so the other two answer 404 here, as a real API
  answers for a record it cannot give.
* Bristol v1: 819 list entries (818 distinct ids: one id is listed twice; one entry has an
  empty name). No taxonomy, no locations. Twelve mention physiotherapy somewhere; three say
  so in their own name.
* The ORUK validator's mock feeds: Default and Test list one service ("Community Counselling";
  Test lists it 128 times), which is not physiotherapy. Fail lists four entries with no names,
  under three ids, and has a full record for only one of them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scrapers.oruk import not_recognised_reason, physiotherapy_reason
from tests.realdata.server import FeedServer, file_answer, json_answer, real_data, serve


def oruk(*parts: str) -> Path:
    return real_data("oruk", *parts)


def load(name: str) -> Any:
    return json.loads(oruk(*name.split("/")).read_text(encoding="utf-8"))


def ingest(runner: Any, feed: FeedServer, *args: str) -> Any:
    runner.invoke(["init-db"])
    with serve(feed) as running:
        return runner.invoke(["ingest", "oruk", running.base, *args])


def stored(app: Any) -> dict[str, Any]:
    from finder.db import store_from

    with app.app_context():
        store = store_from(app)
    return {s.record.provenance.source_id: s.record for s in store.iter_practitioners()}


def test_hull_spring_envelope_with_no_services(runner: Any) -> None:
    feed = FeedServer()
    feed.add("/services", file_answer(oruk("feeds", "hull", "services-page-1.json")))
    result = ingest(runner, feed)
    assert result.exit_code == 0, result.output
    # totalpages 0 and content []: read as an empty page, not refused as "not a services page".
    assert "feed listed 0 services on 1 page(s); physiotherapy 0" in result.output
    assert feed.asked("/services?") == ["/services?page=1&per_page=50"]


def bucks() -> FeedServer:
    feed = FeedServer()
    feed.add("/services", file_answer(oruk("feeds", "buckinghamshire", "services-page-1.json")))
    return feed


def test_buckinghamshire_loads_real_postcodes_and_phones_for_a_named_term(runner: Any, app: Any) -> None:
    feed = bucks()
    # Only page 1 of the real 2,203 was captured: --max-pages 1 reads it and withdraws nothing.
    result = ingest(runner, feed, "--taxonomy", "21", "--max-pages", "1", "--no-geocode")
    assert result.exit_code == 0, result.output
    # Both services carry term 21, so both count, by taxonomy.
    assert "feed listed 2 services on 1 page(s); physiotherapy 2 (2 by taxonomy)" in result.output
    assert "loaded 2; rejected 0" in result.output
    # The listing holds the whole service (locations included): no /services/{id} was asked for.
    assert not feed.asked("/services/")
    records = stored(app)
    nursery, childminder = records["446"], records["2830"]
    assert nursery.phone == "01296 658898" and childminder.phone == "07825 001661"
    place = nursery.locations[0]
    assert (place.address, place.town, place.postcode, place.lat, place.lon) == (
        "74C High Street", "Waddesdon, Aylesbury", "HP18 0JD", 51.84582, -0.923919
    )
    assert place.wheelchair_access is True and str(place.opening_hours) == "Mon-Fri 08:00-18:00"
    # The childminder's exact address is masked: only the district HP5 and a rounded point.
    masked = childminder.locations[0]
    assert (masked.postcode, masked.town, masked.lat, masked.lon) == (None, "Chesham", 51.71, -0.6)
    assert nursery.practice_name == "Big Top Nurseries (Part of the Kindred Family)"


def test_buckinghamshire_term_names_work_too_and_nothing_else_counts(runner: Any) -> None:
    named = ingest(runner, bucks(), "--taxonomy", "childminders", "--max-pages", "1", "--no-geocode")
    # Term 42 "Childminders" is on the childminder only.
    assert "physiotherapy 1 (1 by taxonomy); skipped: 1 not physiotherapy" in named.output
    plain = ingest(runner, bucks(), "--max-pages", "1", "--no-geocode")
    # Without --taxonomy, a childminder and a nursery are not physiotherapy.
    assert plain.exit_code == 0 and "physiotherapy 0; skipped: 2 not physiotherapy" in plain.output


def bristol_v3() -> FeedServer:
    feed = FeedServer()
    feed.add("/services", file_answer(oruk("feeds", "bristol-v3", "services-page-1.json")))
    feed.add("/services/2a3483ea-8966-4f50-9dc3-7bafa1e5c623", file_answer(oruk("feeds", "bristol-v3", "service-2a3483ea.json")))
    return feed


def test_bristol_v3_real_record_loads_when_recognised(runner: Any, app: Any) -> None:
    feed = bristol_v3()
    result = ingest(runner, feed, "--all-services", "--max-pages", "1")
    # 3 listed; the one captured record is read and counts (--all-services) and loads; the
    # other two answer 404, so they are rejects with their address (never judged), and the
    # run still loads the first.
    assert result.exit_code == 0, result.output
    assert "feed listed 3 services on 1 page(s); physiotherapy 1 (1 by operator)" in result.output
    assert "loaded 1; rejected 2: 2 could not fetch: HTTP 404; placed by service areas 1" in result.output
    assert "/services/93657689-252d-5a77-de87-42ca43452b0e answered HTTP 404" in result.output
    # No service_at_locations on the record: the feed was asked once, said 404, and was not asked again.
    assert len(feed.asked("/service_at_locations")) == 1
    record = stored(app)["2a3483ea-8966-4f50-9dc3-7bafa1e5c623"]
    assert record.bio.startswith("About Us\n\n1625 Independent People works with young people")
    assert "<" not in record.bio and "Monday – Friday 9 – 4.30pm" in record.bio
    assert "Ages" not in (record.referral_notes or "")  # -1 / -1 means not said
    assert "Area served: Bristol; South Gloucestershire" in record.referral_notes
    # Placed by its service area "Bristol" (South Gloucestershire is not a place name we hold).
    [area] = record.locations
    assert area.name == "Area served: Bristol" and area.postcode is None and round(area.lat, 1) == 51.5
    assert record.phone == "0800 0354213" and record.website == "http://1625ip.co.uk"


def test_bristol_v3_without_a_rule_recognises_nothing(runner: Any) -> None:
    result = ingest(runner, bristol_v3(), "--max-pages", "1")
    # "1625 Independent People" (homelessness support) is read and is not physiotherapy; the
    # other two could not be fetched. Rejects and nothing loaded: refused (exit 1).
    assert result.exit_code == 1
    assert "physiotherapy 0; skipped: 1 not physiotherapy" in result.output
    assert "rejected 2: 2 could not fetch: HTTP 404" in result.output


def mock_feed(name: str) -> FeedServer:
    folder = oruk("examples", "validator-mocks", name)
    feed = FeedServer()
    feed.add("/services", file_answer(folder / "service_list.json"))
    full = json.loads((folder / "service_full.json").read_text(encoding="utf-8"))
    feed.add(f"/services/{full['id']}", file_answer(folder / "service_full.json"))
    feed.add("/service_at_locations", file_answer(folder / "service_at_location_list.json"))
    return feed


@pytest.mark.parametrize("name", ["V3.0-UK-Default", "V3.0-UK-Test"])
def test_validator_mocks_that_should_pass_load(runner: Any, name: str) -> None:
    feed = mock_feed(name)
    result = ingest(runner, feed)
    assert result.exit_code == 0, result.output
    # One service (Test lists the same id 128 times: read once), counselling: not physiotherapy.
    assert "feed listed 1 services on 1 page(s); physiotherapy 0; skipped: 1 not physiotherapy" in result.output
    assert "loaded 0; rejected 0" in result.output
    assert len(feed.asked("/services/")) == 1


def test_validator_default_named_by_its_term_is_rejected_for_having_no_uk_place(runner: Any) -> None:
    # Its only term is called "name"; naming it makes the service count. Its location is at
    # latitude 100, longitude 101 with postcode "ABC 1234" in the US, and its service area is a
    # sentence: nowhere in the UK to list it, so it is a reject that says so.
    result = ingest(runner, mock_feed("V3.0-UK-Default"), "--taxonomy", "name")
    assert result.exit_code == 1
    assert "physiotherapy 1 (1 by taxonomy)" in result.output and "rejected 1: 1 no place" in result.output
    assert "coordinates 100, 101 are not in the UK" in result.output and "'ABC 1234' is not a UK postcode" in result.output


def test_validator_fail_mock_is_refused_with_reasons(runner: Any) -> None:
    result = ingest(runner, mock_feed("V3.0-UK-Fail"))
    # Four nameless entries under three ids; two ids have no record at all (404).
    assert result.exit_code == 1
    assert "4 listing entries have no name (the ORUK profile requires one)" in result.output
    assert "rejected 2: 2 could not fetch: HTTP 404" in result.output
    assert "/services/b644a0d2-9e8a-4c33-9390-ae9ee93fc056 answered HTTP 404" in result.output


# ---- recognition on Bristol's 819 real v1 entries ------------------------------------------------

#: Every entry that mentions physiotherapy anywhere, and why it does or does not count.
BRISTOL_V1_VERDICTS = {
    # The service's own name says so.
    "Home Visits from Severn Physiotherapy": "the service name says 'Physiotherapy'",
    "Joint Occupational Therapy and Physiotherapy": "the service name says 'Physiotherapy'",
    "Physiotherapy": "the service name says 'Physiotherapy'",
    # Passing mentions, never physiotherapy services.
    "Bristol Nordic Walking": None,  # "loved by physiotherapists"
    "Action for M.E": None,  # "a doctor, physiotherapists, counsellors and chaplains"
    "Bradley Stoke Leisure Centre": None,  # one tenant in a list (and a link address)
    "Birchwood Medical Practice": None,  # one of the services other professionals provide there
    "Hanham Surgery": None,  # "Private Physiotherapist" among additional services
    "Sirona Services": None,  # "Musculoskeletal: including physiotherapy"
    "Southville Clinic": None,  # one of 20 therapies listed
    "University Hospitals Bristol NHS Foundation Trust Services": None,  # one outpatient service of many
}


def test_why_each_real_bristol_service_was_or_was_not_accepted() -> None:
    entries = load("feeds/bristol-v1/services-list-entries.json")
    by_name = {e.get("name"): e for e in entries}
    verdicts = {name: physiotherapy_reason(by_name[name]) for name in BRISTOL_V1_VERDICTS}
    assert verdicts == BRISTOL_V1_VERDICTS
    assert "passing credit" in not_recognised_reason(by_name["Bristol Nordic Walking"])
    assert "passing mention" in not_recognised_reason(by_name["Action for M.E"])
    accepted = [e["name"] for e in entries if physiotherapy_reason(e)]
    assert sorted(accepted) == sorted(name for name, why in BRISTOL_V1_VERDICTS.items() if why)


def test_bristol_v1_list_page_through_the_command(runner: Any) -> None:
    entries = load("feeds/bristol-v1/services-list-entries.json")
    feed = FeedServer()
    feed.add("/services", json_answer(entries))
    for entry in entries:
        # The captured list entry is all we have of each service; a v1 detail holds at least that.
        feed.add(f"/services/{entry['id']}", json_answer(entry))
    result = ingest(runner, feed)
    # A bare list is one page. 818 distinct ids (one listed twice). The nameless entry is a reject;
    # the three physiotherapy services have no location and no service area: rejects saying so;
    # the other 814 are skipped. Nothing could be loaded, so the run is refused (exit 1).
    assert "feed listed 818 services on 1 page(s); physiotherapy 3 (3 by name); skipped: 814 not physiotherapy" in result.output
    assert "loaded 0; rejected 4: 1 no name, 3 no place" in result.output
    assert result.exit_code == 1


def test_cqc_spring_envelope_is_read() -> None:
    from scrapers.oruk import parse_service_page

    # totalElements 2,999 over totalPages 1,500 of 2; "number": 1 with "first": true (1-based).
    page = parse_service_page(load("feeds/cqc/services-page-1.json"))
    assert (page.total_items, page.total_pages, page.page_number, page.last) == (2999, 1500, 1, False)
    assert page.ids == ["cf26dff0-ec9e-476e-8811-72df1114e010", "b6cb9fc9-56b6-4211-a712-ab916c7d26d1"]
