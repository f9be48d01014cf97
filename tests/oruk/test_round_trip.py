"""Round trip: `finder ingest oruk http://127.0.0.1:<port>/oruk` into a second, empty
store recreates every sample listing the HCPC register allows to practise, with every
field the mapping carries equal. The others are published as ``status: inactive``
(hazard H1), and the importer skips inactive services, as it does any feed's.

Proves our feed and our importer agree (finder.web.oruk_map out, scrapers.oruk in).
Not carried (documented in the README's mapping table): gender, session limit,
booking link, HCPC register name and period, and the wording of referral and fee
notes (the importer composes its own from application_process, waiting time and
cost options).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from finder import safety
from finder.db import store_from
from finder.records import Record
from tests.oruk.conftest import SampleSite, sample_app

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


@pytest.fixture(scope="module")
def feed_url(sample_site: SampleSite) -> Iterator[str]:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, sample_site.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="oruk-feed", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/oruk"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def carried(record: Record) -> dict[str, Any]:
    """The fields the ORUK mapping carries, as comparable values."""
    home = record.home_visits
    reg = record.registration
    return {
        "name": record.name,
        "practice_name": record.practice_name,
        "bio": record.bio,
        "languages": record.languages,
        "memberships": record.memberships,
        "registration": (reg.number, reg.status, reg.checked_on),
        "specialisms": record.specialisms,
        "conditions": record.conditions,
        "treatments": record.treatments,
        "locations": [
            (loc.name, loc.setting, loc.address, loc.town, loc.postcode, loc.lat, loc.lon, loc.ods_code,
             loc.wheelchair_access, loc.parking, loc.opening_hours, loc.phone)
            for loc in record.locations
        ],
        "home_visits": None if home is None else (
            home.base_postcode, home.coverage_radius_km, round(home.lat or 0, 4), round(home.lon or 0, 4)
        ),
        "funding": record.funding,
        "referral_routes": [(r.route, tuple(r.only_for)) for r in record.referral_routes],
        "referral_email": record.referral_email,
        "referral_phone": record.referral_phone,
        "nhs_waiting_weeks": record.nhs_waiting_weeks,
        "fees": (record.fee_initial_gbp, record.fee_follow_up_gbp),
        "accepting_new_patients": record.accepting_new_patients,
        "phone": record.phone,
        "email": record.email,
        "website": record.website,
        "last_verified_on": record.provenance.last_verified_on,
        "is_sample": record.is_sample,
    }


def test_ingesting_our_own_feed_recreates_every_listing_that_may_practise(
    sample_site: SampleSite, feed_url: str, tmp_path: Path, gazetteer_path: Path
) -> None:
    from finder.web.oruk_map import service_id

    # Loopback only: no need to pace ourselves.
    second = sample_app(
        tmp_path / "second", gazetteer_path, HTTP_CONTACT="tests@example.org", HTTP_RATE_LIMIT_PER_SECOND=100_000, HTTP_MAX_RETRIES=0
    )
    store = store_from(second)
    store.upgrade()
    assert store.count() == 0
    from finder.cli import main

    # --no-geocode: the feed gives every place's coordinates; the sample was loaded without
    # looking up home-visit bases, and the copy must not invent them either.
    result = second.test_cli_runner().invoke(main, ["ingest", "oruk", feed_url, "--no-geocode"])
    assert result.exit_code == 0, result.output

    # Which listings may practise, from the stored statuses (not from the feed).
    listings = list(sample_site.store.iter_practitioners())
    barred = {service_id(s) for s in listings if safety.is_not_practising(s.record.registration.status)}
    assert len(listings) == 2000 and 0 < len(barred) < 2000
    # Every listing that may not practise was skipped for being inactive, and nothing else was.
    assert f"added {2000 - len(barred)}, " in result.output, result.output
    assert f"; skipped: {len(barred)} not active\n" in result.output, result.output

    originals = {service_id(s): carried(s.record) for s in listings if service_id(s) not in barred}
    copies = {s.record.provenance.source_id: carried(s.record) for s in store.iter_practitioners()}
    assert len(originals) == 2000 - len(barred) and set(copies) == set(originals)
    differences = {
        sid: {field: (value, copies[sid][field]) for field, value in original.items() if copies[sid][field] != value}
        for sid, original in originals.items()
    }
    differences = {sid: diff for sid, diff in differences.items() if diff}
    assert not differences, (len(differences), list(differences.items())[:3])
    # The copy's provenance says where it came from: the feed, and our service ids.
    assert {s.record.provenance.source for s in store.iter_practitioners()} == {f"oruk:{feed_url.split('/')[2]}"}
