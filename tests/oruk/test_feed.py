"""The /oruk feed's behaviour: stable ids, withdrawn listings, the HCPC status, filters
through the site's own search, errors and CORS, and its OpenAPI document."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from finder import safety
from finder.db import store_from
from finder.ingest import ingest
from finder.oruk_taxonomy import NAMESPACE, TERMS_BY_ID, stable_id, term_id
from finder.search.indexer import build_index
from tests.helpers import items, make_record
from tests.oruk.checks import problems, require_schemas
from tests.oruk.conftest import sample_app
from tests.plugins.web import STATUS_LISTINGS, seed_store, web_records


def _small_site(tmp_path: Path, gazetteer_path: Path | None = None) -> Any:
    app = sample_app(tmp_path, gazetteer_path)
    store = store_from(app)
    store.upgrade()
    seed_store(store, web_records())
    build_index(store, app.config["INDEX_DIR"])
    return app


@pytest.fixture
def small(tmp_path: Path, gazetteer_path: Path) -> Any:
    return _small_site(tmp_path / "a", gazetteer_path)


def _services(client: Any, query: str = "") -> list[dict[str, Any]]:
    body = client.get(f"/oruk/services?per_page=100{query}").get_json()
    return body["contents"]  # type: ignore[no-any-return]


def test_ids_are_the_same_in_another_database_and_after_reloading(tmp_path: Path) -> None:
    first = _services(_small_site(tmp_path / "one").test_client())
    # A second database, loaded in the opposite order: different row ids, same published ids.
    app = sample_app(tmp_path / "two")
    store = store_from(app)
    store.upgrade()
    seed_store(store, list(reversed(web_records())))
    second = _services(app.test_client())
    assert {s["name"]: s["id"] for s in first} == {s["name"]: s["id"] for s in second}
    ids = lambda services: sorted(  # noqa: E731
        (s["id"], s["organization_id"], tuple(link["id"] for link in s.get("service_at_locations", []))) for s in services
    )
    assert ids(first) == ids(second)
    # Derived from the source and source id, as documented.
    alice = next(s for s in first if s["name"] == "Alice Neuro")
    assert alice["id"] == stable_id("service", "csv", "web-1")
    import uuid

    assert alice["id"] == str(uuid.uuid5(NAMESPACE, "service\x1fcsv\x1fweb-1"))


def test_taxonomy_ids_never_change() -> None:
    # Pinned: a directory that stored these must keep finding them.
    assert term_id("specialism", "neurological") == "9d2e971c-9b0c-521d-9c21-3da0fb7a2cde"
    assert term_id("funding", "nhs") == "a2d1277d-ced4-5a8a-b1b7-0dabbe6597bd"
    assert len(TERMS_BY_ID) == len(set(TERMS_BY_ID))


def test_a_withdrawn_listing_answers_inactive(tmp_path: Path) -> None:
    app = _small_site(tmp_path)
    client = app.test_client()
    store = store_from(app)
    before = {s["name"]: s for s in _services(client)}
    keep = [r for r in web_records() if r.name != "Bob Community"]
    report = ingest(store, items(*keep), source="csv", complete=True)
    assert report.withdrawn == 1
    build_index(store, app.config["INDEX_DIR"])
    bob = before["Bob Community"]
    response = client.get(f"/oruk/services/{bob['id']}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "inactive" and "Withdrawn from the directory" in body["alert"]
    require_schemas()
    assert problems("service", body) == []
    assert "Bob Community" not in {s["name"] for s in _services(client)}


def test_the_hcpc_status_always_travels(small: Any) -> None:
    statuses = {}
    for service in _services(small.test_client()):
        found = [a for a in service["attributes"] if a["taxonomy_term"]["taxonomy"] == "physio-finder-registration-status"]
        assert len(found) == 1, service["name"]
        statuses[service["name"].split()[0]] = (found[0]["taxonomy_term"]["term"], found[0].get("value"))
        assert "HCPC registration:" in service["accreditations"]
    # The fixtures' checks are dated relative to today (so "Registered" stays true over time).
    assert statuses["Alice"][0] == "registered" and re.fullmatch(r"PH7700001, checked \d{4}-\d\d-\d\d", statuses["Alice"][1])
    assert statuses["Carol"][0] == "lapsed" and re.fullmatch(r"PH7700003, checked \d{4}-\d\d-\d\d", statuses["Carol"][1])
    assert statuses["Dan"] == ("unchecked", "PH7700004")


# ---- H1: a listing whose registration does not allow practice ------------------------

#: When the register was last checked, in every listing of the status site, and as the alert says it.
STATUS_CHECKED = date(2026, 3, 2)
STATUS_CHECKED_TEXT = "2 March 2026"


def status_name(status: str) -> str:
    return f"Pat {status.replace('_', ' ').title().replace(' ', '')}"


def register_label(status: str) -> str:
    """The register's wording of a status as the warning quotes it ("registration lapsed")."""
    from finder.vocab import REGISTRATION_STATUSES

    label = REGISTRATION_STATUSES.label_of(status)
    return label[:1].lower() + label[1:]


@pytest.fixture(scope="module")
def status_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One real (not sample) listing of every registration status, so no other alert is said."""
    app = sample_app(tmp_path_factory.mktemp("oruk-status"))
    store = store_from(app)
    store.upgrade()
    records = [
        make_record(
            name=status_name(status),
            practice_name=f"Status Physio {n}",
            registration={"number": f"PH88000{n:02d}", "status": status}
            | ({"checked_on": STATUS_CHECKED.isoformat()} if status != "unchecked" else {}),
            provenance={"source": "csv", "source_id": f"status-{n}"},
            booking_url="https://example.org/book",
            phone="0113 496 0000",
        )
        for n, status in enumerate(STATUS_LISTINGS.values())
    ]
    seed_store(store, records)
    build_index(store, app.config["INDEX_DIR"])
    yield app
    store.dispose()


def _published(client: Any, status: str) -> dict[str, dict[str, Any]]:
    """The listing of one status as every /oruk endpoint that publishes a service says it."""
    listed = {s["name"]: s for s in _services(client)}
    service = listed[status_name(status)]
    link = service["service_at_locations"][0]["id"]
    links = client.get("/oruk/service_at_locations?per_page=100").get_json()["contents"]
    organization = client.get(f"/oruk/organizations/{service['organization_id']}").get_json()
    return {
        "/oruk/services": service,
        "/oruk/services/{id}": client.get(f"/oruk/services/{service['id']}").get_json(),
        "/oruk/service_at_locations": next(sal["service"] for sal in links if sal["id"] == link),
        "/oruk/service_at_locations/{id}": client.get(f"/oruk/service_at_locations/{link}").get_json()["service"],
        "/oruk/organizations/{id}": organization["services"][0],
    }


@pytest.mark.parametrize("status", sorted(safety.NOT_PRACTISING_STATUSES))
def test_a_listing_that_may_not_practise_is_published_inactive_with_a_warning(status_site: Any, status: str) -> None:
    client = status_site.test_client()
    published = _published(client, status)
    label = register_label(status)
    for where, service in published.items():
        # ORUK's own fields say it, for a directory that never reads our registration attribute.
        assert service["status"] == "inactive", where
        alert = service.get("alert", "")
        assert alert.startswith(f"The HCPC register showed “{label}” when we last checked on {STATUS_CHECKED_TEXT}, "), (where, alert)
        assert "so they may not practise as a physiotherapist" in alert, where
        assert "Do not book or refer" in alert, where
        assert "Check the HCPC register: https://www.hcpc-uk.org/check-the-register/" in alert, where
    # Unfiltered pages publish it (inactive, never silently gone); the filtered ones leave it out.
    filtered = {s["name"] for s in _services(client, f"&taxonomy_term_id={term_id('specialism', 'neurological')}")}
    assert status_name(status) not in filtered and status_name("registered") in filtered
    require_schemas()
    assert problems("service", published["/oruk/services/{id}"]) == []
    assert problems("service_list", client.get("/oruk/services?per_page=100").get_json()) == []


@pytest.mark.parametrize("status", ["registered", "conditions_of_practice", "unchecked"])
def test_a_listing_that_may_practise_is_published_active_without_an_alert(status_site: Any, status: str) -> None:
    client = status_site.test_client()
    for where, service in _published(client, status).items():
        assert service["status"] == "active", where
        assert "alert" not in service, (where, service.get("alert"))
    require_schemas()
    assert problems("service", _published(client, status)["/oruk/services/{id}"]) == []


def test_hours_fees_routes_and_languages_map(small: Any) -> None:
    alice = next(s for s in _services(small.test_client()) if s["name"] == "Alice Neuro")
    assert [(s["byday"], s["opens_at"], s["closes_at"]) for s in alice["schedules"]] == [("MO,TU,WE,TH,FR", "09:00:00", "17:00:00")]
    assert alice["schedules"][0]["service_at_location_id"] == alice["service_at_locations"][0]["id"]
    assert [(c["option"], c["amount"]) for c in alice["cost_options"]] == [("First appointment", 60.0), ("Follow-up appointment", 45.0)]
    assert [(lang["name"], lang["code"]) for lang in alice["languages"]] == [("English", "en"), ("Polish", "pl")]
    routes = {a["taxonomy_term"]["term"] for a in alice["attributes"] if a["taxonomy_term"]["taxonomy"] == "physio-finder-referral-route"}
    assert routes == {"self_referral", "gp", "ms_nurse"}
    assert alice["service_areas"][0]["name"] == "Home visits within 15 km of LS6 2AB"
    bob = next(s for s in _services(small.test_client()) if s["name"] == "Bob Community")
    limited = [a for a in bob["attributes"] if a["taxonomy_term"]["term"] == "self_referral"]
    assert limited[0]["value"] == "musculoskeletal"


def test_filters_go_through_the_site_search(small: Any) -> None:
    client = small.test_client()
    neuro = term_id("specialism", "neurological")
    via_feed = {s["name"] for s in _services(client, f"&taxonomy_term_id={neuro}")}
    # Filtered feeds go through the site's search, which leaves out listings whose registration
    # does not allow practice (finder.safety, hazard H1).
    expected = {
        r.name for r in web_records() if "neurological" in r.specialisms and safety.listed_by_default(r.registration.status)
    }
    assert via_feed == expected
    # Postcode + proximity in metres: the same listings as the site's search with that radius in km.
    feed = [s["name"] for s in _services(client, "&postcode=LS6+2AB&proximity=3000")]
    site = [r["name"] for r in client.get("/api/v1/search?near=LS6+2AB&radius_km=3&per_page=100").get_json()["results"]]
    assert feed == site and "Alice Neuro" in feed and "Erin Harrogate" not in feed
    text = {s["name"] for s in _services(client, "&text=hydrotherapy")}
    assert text == {r.name for r in web_records() if "hydrotherapy" in r.treatments}


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("page=0", "page"),
        ("per_page=500", "per_page"),
        ("proximity=500", "proximity"),
        ("postcode=LS6&proximity=-3", "proximity"),
        ("taxonomy_term_id=nonsense", "taxonomy_term_id"),
        (f"taxonomy_term_id={term_id('registration_status', 'registered')}", "taxonomy_term_id"),
        ("minimum_age=18", "minimum_age"),
        ("text=" + "x" * 201, "text"),
    ],
)
def test_bad_parameters_are_explained(small: Any, query: str, parameter: str) -> None:
    response = small.test_client().get(f"/oruk/services?{query}")
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert parameter in [p["name"] for p in response.get_json()["invalid_params"]]


@pytest.mark.parametrize("path", ["/oruk/services/not-a-uuid", f"/oruk/services/{stable_id('service', 'csv', 'nobody')}",
                                  "/oruk/organizations/00000000-0000-5000-8000-000000000000", "/oruk/nowhere"])
def test_unknown_ids_are_404_problems(small: Any, path: str) -> None:
    response = small.test_client().get(path)
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    assert "Traceback" not in response.get_data(as_text=True)


def test_cors_preflight(small: Any) -> None:
    response = small.test_client().options("/oruk/services", headers={"Origin": "https://directory.example", "Access-Control-Request-Method": "GET"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_openapi_is_valid_and_lists_what_we_serve(small: Any) -> None:
    from openapi_spec_validator import validate

    document = small.test_client().get("/oruk/openapi.json").get_json()
    validate(document)
    served = {
        rule.rule.removeprefix("/oruk").replace("<service_id>", "{id}").replace("<link_id>", "{id}")
        .replace("<organization_id>", "{id}").replace("<wanted>", "{id}") or "/"
        for rule in small.url_map.iter_rules()
        if rule.rule.startswith("/oruk")
    }
    assert served == set(document["paths"])
    from finder.web.oruk import UNSUPPORTED

    listed = {p["name"] for p in document["paths"]["/services"]["get"]["parameters"]}
    assert listed == {"text", "search", "taxonomy_term_id", "postcode", "proximity", "page", "per_page"}
    assert not listed & set(UNSUPPORTED)
