"""Shared pytest fixtures for the web area: a seeded site (real store, gazetteer and index),
a live server for the browser, and one Chromium per test session.

The seeded site is session-scoped and read-only: tests must not change its store.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from finder import create_app
from finder.db import store_from
from finder.ingest import SourceItem, ingest
from finder.records import Record
from tests.helpers import record_data

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'

#: Real points: LS6 (Headingley), Leeds centre, Harrogate, York, Cornwall.
LS6 = (53.8195, -1.5762)
YORK = (53.9590, -1.0815)

#: A recent registration check (within the 90 days finder.safety allows) and how pages write it.
CHECKED = date.today() - timedelta(days=10)
CHECKED_TEXT = f"{CHECKED.day} {CHECKED:%B %Y}"
#: A check years old: never shown as "Registered" (hazard H2).
STALE_CHECK = date(2022, 1, 5)

#: One listing of every registration status, around York (COPD, respiratory: apart from the Leeds MS
#: searches), by first name -> status. Every status has a search-level and a page-level test.
STATUS_LISTINGS = {
    "Rita": "registered",
    "Cora": "conditions_of_practice",
    "Sam": "suspended",
    "Lara": "lapsed",
    "Remy": "removed",
    "Nell": "not_found",
    "Uma": "unchecked",
}


def _web_record(n: int, **overrides: Any) -> Record:
    data = record_data(provenance={"source": "csv", "source_id": f"web-{n}"}, registration={"number": f"PH77{n:05d}"})
    data.update(overrides)
    return Record.model_validate(data)


def web_records() -> list[Record]:
    """A small, varied, sample-like set around Leeds (names are fictional)."""
    checked = CHECKED.isoformat()
    return [
        _web_record(
            1,
            name="Alice Neuro",
            practice_name="Headingley Neuro Physio",
            registration={"number": "PH7700001", "status": "registered", "checked_on": checked},
            specialisms=["neurological"],
            conditions=["multiple_sclerosis", "spasticity", "balance_problems"],
            treatments=["exercise_programme", "fes", "hydrotherapy"],
            locations=[{"name": "Headingley Clinic", "setting": "private_clinic", "address": "1 Otley Road", "town": "Leeds",
                        "postcode": "LS6 2AB", "lat": 53.8200, "lon": -1.5770, "wheelchair_access": True,
                        "opening_hours": "Mon to Fri 9am to 5pm"}],
            home_visits={"base_postcode": "LS6 2AB", "coverage_radius_km": 15, "lat": 53.8200, "lon": -1.5770},
            funding=["private"],
            referral_routes=[{"route": "self_referral"}, {"route": "gp"}, {"route": "ms_nurse"}],
            fee_initial_gbp=60, fee_follow_up_gbp=45, accepting_new_patients=True,
            phone="0113 496 0001", email="alice@example.org", booking_url="https://example.org/book",
            languages=["english", "polish"], memberships=["mcsp", "acpin"], gender="female",
            is_sample=True,
        ),
        _web_record(
            2,
            name="Bob Community",
            practice_name="Leeds Community Neuro Team",
            registration={"number": "PH7700002", "status": "registered", "checked_on": checked},
            specialisms=["neurological", "musculoskeletal"],
            conditions=["multiple_sclerosis", "stroke", "back_pain"],
            treatments=["exercise_programme", "home_exercise_plan"],
            locations=[{"name": "St Mary's Health Centre", "setting": "community_clinic", "address": "Cliff Road",
                        "town": "Leeds", "postcode": "LS1 4AP", "lat": 53.7990, "lon": -1.5490, "wheelchair_access": True}],
            funding=["nhs"],
            referral_routes=[{"route": "self_referral", "only_for": ["musculoskeletal"]}, {"route": "gp"},
                             {"route": "ms_nurse"}, {"route": "neurologist"}],
            nhs_waiting_weeks=8, session_limit=6,
            referral_notes="Adults with a confirmed neurological diagnosis. Include the MS type.",
            referral_email="neuro.referrals@example.nhs.uk", referral_phone="0113 496 0002",
            is_sample=True,
        ),
        _web_record(
            3,
            name="Carol Lapsed",
            practice_name="Meanwood Physio",
            registration={"number": "PH7700003", "status": "lapsed", "checked_on": checked},
            specialisms=["neurological"], conditions=["multiple_sclerosis"],
            locations=[{"setting": "private_clinic", "postcode": "LS6 4AA", "lat": 53.8320, "lon": -1.5700}],
            funding=["private"], is_sample=True,
        ),
        _web_record(
            4,
            name="Dan Unchecked",
            practice_name="Kirkstall Sports Injury",
            registration={"number": "PH7700004"},
            specialisms=["sports", "musculoskeletal"], conditions=["sports_injury", "knee_pain"],
            treatments=["manual_therapy", "massage"],
            locations=[{"setting": "sports_club", "postcode": "LS5 3AA", "lat": 53.8150, "lon": -1.6000}],
            funding=["private", "sports_club"], is_sample=True,
        ),
        _web_record(
            5,
            name="Erin Harrogate",
            practice_name="Harrogate MS Therapy Centre",
            registration={"number": "PH7700005", "status": "registered", "checked_on": checked},
            specialisms=["neurological"], conditions=["multiple_sclerosis", "fatigue"],
            treatments=["hydrotherapy", "fatigue_management"],
            locations=[{"setting": "charity_centre", "postcode": "HG1 1AA", "lat": 53.9920, "lon": -1.5410, "wheelchair_access": True}],
            funding=["charity"], referral_routes=[{"route": "self_referral"}], is_sample=True,
        ),
        _web_record(
            6,
            name=f"Mallory {XSS}",
            practice_name=f"Practice {XSS}",
            bio=f"Bio {XSS}",
            referral_notes=f"Notes {XSS}",
            fees_note=f"Fees {XSS}",
            registration={"number": "PH7700006", "status": "registered", "checked_on": checked},
            specialisms=["neurological"], conditions=["multiple_sclerosis"],
            locations=[{"name": f"Clinic {XSS}", "setting": "private_clinic", "address": f"1 {XSS} Street",
                        "town": "Leeds", "postcode": "LS6 3AA", "lat": 53.8250, "lon": -1.5800,
                        "opening_hours": f"Hours {XSS}"}],
            funding=["private"], is_sample=True,
        ),
        _web_record(
            7,
            name="Fay Online",
            practice_name="Telephysio UK",
            registration={"number": "PH7700007", "status": "registered", "checked_on": checked},
            specialisms=["neurological", "vestibular"], conditions=["multiple_sclerosis", "dizziness"],
            locations=[{"setting": "online"}],
            funding=["private"], is_sample=True,
        ),
        *[
            _web_record(
                200 + i,
                name=f"{first} {status.replace('_', ' ').title().replace(' ', '')}",
                practice_name=f"York Chest Clinic {i}",
                registration={"number": f"PH77002{i:02d}", "status": status}
                | ({"checked_on": checked} if status != "unchecked" else {}),
                specialisms=["respiratory"], conditions=["copd"],
                locations=[{"setting": "private_clinic", "postcode": "YO1 7HH", "lat": YORK[0] + i * 0.001, "lon": YORK[1]}],
                funding=["private"], phone="01904 000000", booking_url="https://example.org/book",
                referral_routes=[{"route": "self_referral"}], is_sample=True,
            )
            for i, (first, status) in enumerate(STATUS_LISTINGS.items())
        ],
        _web_record(
            300,
            name="Stan Stale",
            practice_name="York Old Check Physio",
            registration={"number": "PH7700300", "status": "registered", "checked_on": STALE_CHECK.isoformat()},
            specialisms=["respiratory"], conditions=["copd"],
            locations=[{"setting": "private_clinic", "postcode": "YO1 7HH", "lat": YORK[0] - 0.002, "lon": YORK[1]}],
            funding=["private"], is_sample=True,
        ),
        _web_record(
            301,
            name="Nora Nhs",
            practice_name="York NHS Physiotherapy",
            registration={"number": "PH7700301", "status": "registered", "checked_on": checked},
            specialisms=["musculoskeletal", "neurological"], conditions=["back_pain", "multiple_sclerosis"],
            locations=[{"setting": "hospital", "postcode": "YO31 8HE", "lat": YORK[0] + 0.01, "lon": YORK[1] - 0.01}],
            funding=["nhs"], phone="01904 000001",
            # Hazard H3: self-referral for anything except MS, which needs a GP or MS nurse.
            referral_routes=[{"route": "self_referral", "not_for": ["multiple_sclerosis"]}, {"route": "gp"}, {"route": "ms_nurse"}],
            is_sample=True,
        ),
        _web_record(
            302,
            name="Mick Msk",
            practice_name="York MSK Service",
            registration={"number": "PH7700302", "status": "registered", "checked_on": checked},
            specialisms=["musculoskeletal", "neurological"], conditions=["back_pain", "multiple_sclerosis"],
            locations=[{"setting": "hospital", "postcode": "YO31 8HE", "lat": YORK[0] + 0.011, "lon": YORK[1] - 0.01}],
            funding=["nhs"],
            # Hazard H3: self-referral for musculoskeletal problems only.
            referral_routes=[{"route": "self_referral", "only_for": ["musculoskeletal"]}, {"route": "gp"}],
            is_sample=True,
        ),
        *[
            _web_record(
                100 + i,
                name=f"Grace Leeds {i:02d}",
                practice_name=f"Leeds Physio {i:02d}",
                registration={"number": f"PH77001{i:02d}", "status": "registered", "checked_on": checked},
                specialisms=["musculoskeletal"], conditions=["back_pain", "neck_pain"],
                locations=[{"setting": "private_clinic", "postcode": "LS2 9AA", "lat": 53.80 + i * 0.002, "lon": -1.55 - i * 0.002}],
                funding=["private"], is_sample=True,
            )
            for i in range(25)
        ],
    ]


def seed_store(store: Any, records: list[Record]) -> None:
    items = [SourceItem(row=i + 2, record=r) for i, r in enumerate(records)]
    report = ingest(store, items, source="csv", input_name="web fixture")
    assert report.written, report.problems


@dataclass
class WebSite:
    app: Any
    ids: dict[str, int]  # practitioner name (first word) -> id

    def client(self) -> Any:
        return self.app.test_client()


@pytest.fixture(scope="session")
def web_site(tmp_path_factory: pytest.TempPathFactory, gazetteer_path: Path) -> Iterator[WebSite]:
    """A seeded site: real store (SQLite), the test gazetteer and a real index. Read-only."""
    from finder.search.indexer import build_index

    instance = tmp_path_factory.mktemp("web-site")
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(instance),
            "DATABASE_URL": f"sqlite:///{instance / 'finder.db'}",
            "GAZETTEER_PATH": str(gazetteer_path),
            "INDEX_DIR": str(instance / "index"),
            "RATELIMIT_ENABLED": False,
            "SECRET_KEY": "test",
        }
    )
    store = store_from(app)
    store.upgrade()
    seed_store(store, web_records())
    build_index(store, app.config["INDEX_DIR"])
    ids = {s.record.name.split()[0]: s.id for s in store.iter_practitioners()}
    yield WebSite(app=app, ids=ids)
    store.dispose()


@pytest.fixture
def web_client(web_site: WebSite) -> Any:
    return web_site.client()


@dataclass
class LiveServer:
    url: str
    site: WebSite


@pytest.fixture(scope="session")
def live_server(web_site: WebSite) -> Iterator[LiveServer]:
    """The seeded site served over HTTP on a free port, in a background thread."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, web_site.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", site=web_site)
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One Debian Chromium for the whole session (never `playwright install`)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser tab (own cookies and cache) at a desktop size."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def artifacts_dir() -> Path:
    """Where browser tests save screenshots (git-ignored)."""
    path = Path(__file__).resolve().parents[2] / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
