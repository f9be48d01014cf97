"""The data-quality report: `finder sources report` and the counts on the about page."""

from __future__ import annotations

import json
from typing import Any

from finder.data_quality import sources_report
from finder.db import Store, store_from
from scrapers.nhs_ods import ingest_epraccur
from scrapers.oruk import ingest_oruk_feed
from tests.plugins.scrapers import fixture_path
from tests.scrapers.test_oruk import FEED, SOURCE, serve_feed


def load_two_sources(store: Store, http_mock: Any, make_session: Any, fake_geocode: Any) -> None:
    # The fixture practice file: 6 GP practices (Z99907's postcode IV99 9ZZ is not in the
    # fixture gazetteer, so it has no coordinates), 1 walk-in centre skipped.
    ingest_epraccur(store, str(fixture_path("ods", "epraccur_bad_rows.csv")), geocode=fake_geocode, partial=True)
    ingest_epraccur(store, str(fixture_path("ods", "epraccur.csv")), geocode=fake_geocode)
    # The fixture feed with one service that has no usable place: 2 loaded, 1 rejected.
    serve_feed(http_mock, details={"svc-0002-neuro": "service_bad_postcode.json"})
    ingest_oruk_feed(store, make_session(), FEED, geocode=fake_geocode)


def test_the_report_per_source(store: Store, http_mock: Any, make_session: Any, fake_geocode: Any) -> None:
    load_two_sources(store, http_mock, make_session, fake_geocode)
    by_source = {s.source: s for s in sources_report(store)}
    assert set(by_source) == {"ods", SOURCE}
    feed = by_source[SOURCE]
    assert feed.counts["added"] == 2 and feed.counts["rejected"] == 1 and feed.counts["skipped"] == 2
    assert feed.reject_reasons == [("no place", 1)] and feed.live == 2
    assert feed.notes["recognised by taxonomy"] == 3
    ods = by_source["ods"]
    # The last ODS run is the clean file: 6 practices, of which Z99904 moved back from LS6 2AC.
    assert ods.live == 6 and ods.counts["rejected"] == 0 and ods.without_coordinates == 1
    assert ods.last_status == "completed"


def test_the_command_and_the_about_page(
    runner: Any, app: Any, client: Any, http_mock: Any, make_session: Any, fake_geocode: Any
) -> None:
    runner.invoke(["init-db"])
    with app.app_context():
        store = store_from(app)
    empty = runner.invoke(["sources", "report"])
    assert empty.exit_code == 0 and "No source has run yet" in empty.output
    load_two_sources(store, http_mock, make_session, fake_geocode)
    result = runner.invoke(["sources", "report"])
    assert result.exit_code == 0, result.output
    assert f"{SOURCE}  (last run" in result.output and "top reject reasons: 1 × no place" in result.output
    assert "live listings: 6; without coordinates: 1" in result.output
    as_json = json.loads(runner.invoke(["sources", "report", "--json"]).output)
    assert {s["source"] for s in as_json} == {"ods", SOURCE}
    page = client.get("/about").get_data(as_text=True)
    assert "Data quality by source" in page and SOURCE in page
