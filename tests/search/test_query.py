"""Queries: validation, needs-input, filters, facet counts, distance, home visits, paging."""

from __future__ import annotations

import pytest

from finder.errors import InvalidValue
from finder.search import FACETS, SearchQuery
from tests.plugins.search import listing, load, north_of_origin, origin

# ---- validation: one place, clear messages ----------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "parameter", "allowed"),
    [
        ({"radius_km": 0}, "radius_km", "200"),
        ({"radius_km": -5}, "radius_km", "200"),
        ({"radius_km": 200.5}, "radius_km", "200"),
        ({"radius_km": float("nan")}, "radius_km", "200"),
        ({"per_page": 0}, "per_page", "100"),
        ({"per_page": 101}, "per_page", "100"),
        ({"page": 0}, "page", "from 1"),
        ({"page": 100_000}, "page", "at most page 500"),
        ({"sort": "cheapest"}, "sort", "auto, distance, relevance, name, nhs_wait, fee"),
        ({"filters": {"colour": ("red",)}}, "colour", "specialism"),
        ({"filters": {"specialism": ("neurology",)}}, "specialism", "neurological"),
        ({"filters": {"setting": ("moon_base",)}}, "setting", "private_clinic"),
        ({"visits_home": "yes"}, "visits_home", "true or false"),
    ],
)
def test_bad_values_name_the_parameter_and_what_is_allowed(kwargs, parameter, allowed):
    with pytest.raises(InvalidValue) as error:
        SearchQuery(text="ms", **kwargs)
    assert parameter in error.value.detail
    assert allowed in error.value.detail


def test_every_problem_is_reported_at_once():
    with pytest.raises(InvalidValue) as error:
        SearchQuery(text="ms", radius_km=0, per_page=500)
    assert [name for name, _ in error.value.params] == ["radius_km", "per_page"]


def test_radius_limit_follows_the_app_setting(app):
    app.config["SEARCH_MAX_RADIUS_KM"] = 50
    with app.app_context():
        SearchQuery(text="ms", radius_km=50)
        with pytest.raises(InvalidValue, match="at most 50"):
            SearchQuery(text="ms", radius_km=60)


def test_neither_text_nor_location_asks_for_input(seeded_index):
    results = seeded_index.search()
    assert results.needs_input and results.total == 0 and results.hits == []
    assert set(results.facets) == set(FACETS) | {"flags"}


# ---- location: radius, order, home visits, online ----------------------------------


def test_distance_order_and_radius_edge(seeded_index):
    results = seeded_index.search(location=origin(), radius_km=25, per_page=100)
    keys = seeded_index.keys(results)
    # 24.9 km is in, 25.1 km is out; the home visitor (base 40 km away, covers 45 km) visits you
    assert keys == ["zoe", "smith", "patel", "fes", "edge_in", "visitor"]
    distances = [h.distance_km for h in results.hits]
    assert distances == sorted(distances)
    assert distances[:5] == pytest.approx([1.0, 5.0, 8.0, 12.0, 24.9], abs=1e-6)
    assert "edge_out" not in keys and "far" not in keys


@pytest.mark.parametrize(("radius", "inside"), [(24.9, True), (24.899, False), (25.1, True)])
def test_radius_boundary_is_inclusive(seeded_index, radius, inside):
    keys = seeded_index.keys(seeded_index.search(location=origin(), radius_km=radius, per_page=100))
    assert ("edge_in" in keys) is inside


def test_home_visit_coverage_counts_even_beyond_the_radius(seeded_index):
    results = seeded_index.search(location=origin(), radius_km=5, per_page=100)
    hits = {seeded_index.keys(results)[i]: hit for i, hit in enumerate(results.hits)}
    visitor = hits["visitor"]
    assert visitor.visits_you is True
    assert visitor.distance_km == pytest.approx(40.0, abs=1e-6)  # to their home-visit base
    assert visitor.location_index is None  # no location of theirs in range
    assert hits["zoe"].visits_you is False and hits["zoe"].location_index == 0


def test_home_visits_not_covering_the_point_do_not_match(seeded_index):
    # 90 km north: the visitor's base is 50 km away, beyond their 45 km coverage.
    from finder.geo import Location

    lat, lon = north_of_origin(90)
    far_point = Location("north", lat, lon, "point", "latlon")
    keys = seeded_index.keys(seeded_index.search(location=far_point, radius_km=10, per_page=100))
    assert "visitor" not in keys


def test_visits_home_keeps_only_those_who_visit_you(seeded_index):
    results = seeded_index.search(location=origin(), radius_km=25, visits_home=True)
    assert seeded_index.keys(results) == ["visitor"]
    assert results.facets["flags"]["visits_home"] == 1


def test_nearest_location_wins(seeded_index):
    # Gareth has a hospital 12 km away and a clinic 30 km away.
    results = seeded_index.search(text="gareth", location=origin(), radius_km=50)
    assert results.hits[0].distance_km == pytest.approx(12.0, abs=1e-6)
    assert results.hits[0].location_index == 0


def test_setting_filter_applies_to_the_locations_in_range(seeded_index):
    # Gareth's community clinic is 30 km away: not a community clinic "near you" at 25 km.
    near = seeded_index.search(location=origin(), radius_km=25, filters={"setting": ("community_clinic",)})
    assert near.total == 0
    wider = seeded_index.search(location=origin(), radius_km=35, filters={"setting": ("community_clinic",)})
    assert seeded_index.keys(wider) == ["fes"]
    assert wider.hits[0].distance_km == pytest.approx(30.0, abs=1e-6)
    assert wider.facets["setting"]["hospital"] == 1  # counted with the setting filter left out


def test_online_services_are_not_within_any_distance(seeded_index):
    """Online services have no place: a search near a point never lists them as "within X km";
    their number anywhere is reported apart, and setting=online alone lists them all."""
    plain = seeded_index.search(text="ms", location=origin(), radius_km=25, per_page=100)
    assert "online" not in seeded_index.keys(plain)
    assert plain.facets["setting"]["online"] <= plain.total
    assert plain.online_anywhere == 1  # Olive Online, offered as a search without a place
    online = seeded_index.search(text="ms", location=origin(), radius_km=25, filters={"setting": ("online",)})
    assert "online" not in seeded_index.keys(online)  # ticking 'online' never grows the list
    assert online.total <= plain.total
    # without a location, online services are ordinary results; setting=online alone is a search
    assert "online" in seeded_index.keys(seeded_index.search(text="fatigue"))
    everywhere = seeded_index.search(filters={"setting": ("online",)})
    assert not everywhere.needs_input and seeded_index.keys(everywhere) == ["online"]


def test_facet_counts_never_exceed_the_total_with_a_place(seeded_index):
    results = seeded_index.search(location=origin(), radius_km=25, per_page=100)
    for facet in ("setting", "funding", "specialism"):
        for code, count in results.facets[facet].items():
            assert count <= results.total, (facet, code)


def test_sort_by_shortest_nhs_wait_and_lowest_fee(sqlite_store, tmp_path):
    from tests.plugins.search import make_seeded

    listings = [
        ("slow", listing("slow", km=1.0, nhs_waiting_weeks=18, fee_initial_gbp=40, funding=["nhs"])),
        ("quick", listing("quick", km=9.0, nhs_waiting_weeks=2, fee_initial_gbp=95, funding=["nhs"])),
        ("unstated", listing("unstated", km=2.0)),
        ("middle", listing("middle", km=5.0, nhs_waiting_weeks=6, fee_initial_gbp=60)),
    ]
    seeded = make_seeded(sqlite_store, tmp_path / "index", listings)
    try:
        by_wait = seeded.search(location=origin(), radius_km=25, sort="nhs_wait")
        assert seeded.keys(by_wait) == ["quick", "middle", "slow", "unstated"]  # not stated: last
        by_fee = seeded.search(location=origin(), radius_km=25, sort="fee")
        assert seeded.keys(by_fee) == ["slow", "middle", "quick", "unstated"]
        nearest = seeded.search(location=origin(), radius_km=25, sort="distance")
        assert seeded.keys(nearest) == ["slow", "unstated", "middle", "quick"]
    finally:
        seeded.index.close()


def test_withdrawn_practitioners_are_never_returned(seeded_index):
    from finder.ingest import ingest
    from tests.helpers import items
    from tests.plugins.search import seed_listings

    keep = [record for key, record in seed_listings() if key != "smith"]
    report = ingest(seeded_index.store, items(*keep), source="test", complete=True)
    assert report.withdrawn == 1
    seeded_index.rebuild()
    assert "smith" not in seeded_index.keys(seeded_index.search(location=origin(), radius_km=25, per_page=100))
    assert seeded_index.search(text="ann smith").total == 0


# ---- filters and facet counts -----------------------------------------------------


def test_filters_or_within_a_facet_and_across_facets(seeded_index):
    near = {"location": origin(), "radius_km": 25, "per_page": 100}
    assert set(seeded_index.keys(seeded_index.search(filters={"funding": ("nhs",)}, **near))) == {"zoe", "fes", "edge_in"}
    either = seeded_index.search(filters={"funding": ("nhs", "insurance")}, **near)
    assert set(seeded_index.keys(either)) == {"zoe", "fes", "edge_in", "patel"}
    both = seeded_index.search(filters={"funding": ("nhs", "insurance"), "specialism": ("sports",)}, **near)
    assert seeded_index.keys(both) == ["patel"]


def test_facet_counts_leave_their_own_filter_out(seeded_index):
    results = seeded_index.search(
        location=origin(), radius_km=25, per_page=100, filters={"specialism": ("neurological",), "funding": ("nhs",)}
    )
    assert set(seeded_index.keys(results)) == {"zoe", "fes", "edge_in"}
    # specialism counts: among everyone NHS-funded nearby (zoe, fes, edge_in) -> all neurological
    assert results.facets["specialism"]["neurological"] == 3
    assert results.facets["specialism"]["musculoskeletal"] == 0
    # funding counts: among neurological nearby (zoe, fes, edge_in, visitor)
    assert results.facets["funding"] == {
        "nhs": 3, "private": 1, "charity": 1, "occupational_health": 0, "sports_club": 0, "insurance": 0
    }
    # other facets: counted over the results themselves
    assert results.facets["condition"]["multiple_sclerosis"] == 1
    assert results.facets["setting"]["hospital"] == 1
    assert results.facets["flags"]["wheelchair"] == 1  # Gareth's hospital
    for facet in FACETS:
        assert set(results.facets[facet]) >= set(__import__("finder.vocab", fromlist=["VOCABULARIES"]).VOCABULARIES[facet])


def test_flag_counts_leave_their_own_filter_out(seeded_index):
    results = seeded_index.search(location=origin(), radius_km=25, accepting=True)
    assert seeded_index.keys(results) == ["zoe"]
    assert results.facets["flags"]["accepting"] == 1
    registered = seeded_index.search(location=origin(), radius_km=25, registered_only=True, per_page=100)
    assert seeded_index.keys(registered) == ["zoe"]  # the only checked, practising registration
    assert registered.facets["flags"]["registered"] == 1
    assert registered.facets["flags"]["accepting"] == 1


def test_wheelchair_filter(seeded_index):
    results = seeded_index.search(location=origin(), radius_km=25, wheelchair=True)
    assert seeded_index.keys(results) == ["fes"]


# ---- order and paging -------------------------------------------------------------


def test_relevance_order_without_location(seeded_index):
    results = seeded_index.search(text="multiple sclerosis", per_page=100)
    keys = seeded_index.keys(results)
    # Only those who name MS themselves: the specialism label is indexed by its name only,
    # so "Neurological (MS, stroke, ...)" is not text that matches (edge_in, edge_out, fes).
    names_ms = {"zoe", "visitor", "online", "far"}
    assert set(keys) == names_ms
    scores = [h.score for h in results.hits]
    assert len(scores) == 4 and scores == sorted(scores, reverse=True)
    assert scores[0] > scores[-1]
    assert all(h.distance_km is None for h in results.hits)


def test_sort_by_name(seeded_index):
    results = seeded_index.search(location=origin(), radius_km=25, sort="name", per_page=100)
    names = [p.record.name for p in seeded_index.store.get_many([h.id for h in results.hits])]
    # Everyone within 25 km, by name (not by distance: Zoë is the nearest).
    assert names == ["Ann Smith", "Edith Inside", "Gareth Evans", "Harriet Homevisit", "Priya Patel", "Zoë Whittaker"]
    assert names == sorted(names, key=str.lower)


def test_pagination_is_stable_and_complete(sqlite_store, tmp_path):
    from tests.plugins.search import make_seeded

    # 45 listings at exactly the same place: every order decision is a tie.
    same_place = [(f"p{i:02d}", listing(f"p{i:02d}", km=3.0, name=f"Same Place {i:02d}")) for i in range(45)]
    seeded = make_seeded(sqlite_store, tmp_path / "index", same_place)
    try:
        pages = [
            seeded.search(location=origin(), radius_km=10, page=page, per_page=20) for page in (1, 2, 3, 4)
        ]
        ids = [h.id for p in pages for h in p.hits]
        assert len(ids) == 45 and len(set(ids)) == 45
        assert ids == sorted(ids)  # ties broken by id
        assert pages[0].pages == 3 and pages[3].hits == [] and pages[3].total == 45
        again = seeded.search(location=origin(), radius_km=10, page=2, per_page=20)
        assert [h.id for h in again.hits] == [h.id for h in pages[1].hits]
    finally:
        seeded.index.close()


def test_query_uses_the_app_index(app, seeded_index):
    from finder import search

    app.config["INDEX_DIR"] = str(seeded_index.index_dir)
    search.init_app(app)
    with app.app_context():
        results = search.query(SearchQuery(text="zoe"))
    assert results.total == 1
    search.index_of(app).close()


def test_missing_index_is_a_clear_error(app):
    from finder import search
    from finder.errors import IndexMissing

    with app.app_context(), pytest.raises(IndexMissing, match="finder index build"):
        search.query(SearchQuery(text="ms"))


def test_load_helper_keeps_ids_in_order(sqlite_store):
    ids = load(sqlite_store, [listing("a"), listing("b")])
    assert ids == sorted(ids)


def test_setting_filter_with_home_visits(seeded_index):
    from tests.plugins.search import north_of_origin

    load(
        seeded_index.store,
        [
            listing(
                "both",
                km=6.0,
                name="Bea Both",
                home_visits={"base_postcode": "LS1 1AA", "coverage_radius_km": 10,
                             "lat": north_of_origin(6.0)[0], "lon": north_of_origin(6.0)[1]},
            )
        ],
    )
    seeded_index.rebuild()
    results = seeded_index.search(
        location=origin(), radius_km=25, filters={"setting": ("private_clinic",)}, per_page=100
    )
    listed = seeded_index.store.get_many([h.id for h in results.hits])
    names = {p.record.name: h for p, h in zip(listed, results.hits, strict=True)}
    # Harriet only visits (no clinic in range): not a private clinic near you
    assert "Harriet Homevisit" not in names
    assert names["Bea Both"].visits_you is True and names["Bea Both"].distance_km == pytest.approx(6.0, abs=1e-6)
    assert results.facets["flags"]["visits_home"] == 1
    everyone = seeded_index.search(location=origin(), radius_km=25, per_page=100)
    assert everyone.facets["setting"]["private_clinic"] == results.total
