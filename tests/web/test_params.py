"""The one request parser shared by the search page and the API."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from finder.errors import InvalidParameters
from finder.web.params import MissingSearch, parse_search_args, require_what_or_where


def parse(query: list[tuple[str, str]] | dict[str, str]) -> object:
    return parse_search_args(MultiDict(query))


def test_values_are_typed_and_trimmed() -> None:
    req = parse(
        [("q", "  multiple sclerosis "), ("near", " LS6 "), ("radius_km", "10"), ("page", "2"), ("per_page", "50"),
         ("visits_home", "on"), ("registered_only", "true"), ("accepting", ""), ("specialism", "neurological"),
         ("specialism", "vestibular"), ("specialism", "neurological"), ("funding", ""), ("sort", "Distance")]
    )
    assert req.text == "multiple sclerosis"
    assert req.near == "LS6"
    assert req.radius_km == 10.0
    assert (req.page, req.per_page) == (2, 50)
    assert req.visits_home and req.registered_only and not req.accepting
    assert req.filters == {"specialism": ("neurological", "vestibular")}
    assert req.sort == "distance"


def test_unknown_parameters_are_ignored() -> None:
    req = parse({"near": "LS6", "utm_source": "x", "colour": "blue"})
    assert req.near == "LS6"


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("radius_km", "abc", "not a number"),
        ("radius_km", "nan", "not a number"),
        ("page", "two", "whole number"),
        ("page", "1.5", "whole number"),
        ("per_page", "lots", "whole number"),
        ("visits_home", "maybe", "true or false"),
        ("lat", "north", "not a number"),
        ("lat", "91", "outside -90..90"),
        ("lon", "-200", "outside -180..180"),
    ],
)
def test_junk_values_name_the_parameter(name: str, value: str, words: str) -> None:
    args = {"near": "LS6", name: value}
    if name in ("lat", "lon"):
        args.update({"lat": "53.8", "lon": "-1.5", name: value})
    with pytest.raises(InvalidParameters) as caught:
        parse(args)
    names = [n for n, _ in caught.value.params]
    assert name in names
    assert words in dict(caught.value.params)[name]


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(InvalidParameters) as caught:
        parse({"radius_km": "far", "page": "x", "wheelchair": "perhaps"})
    assert [n for n, _ in caught.value.params] == ["radius_km", "page", "wheelchair"]


def test_lat_needs_lon() -> None:
    with pytest.raises(InvalidParameters) as caught:
        parse({"lat": "53.8"})
    assert caught.value.params[0][0] == "lon"


def test_overlong_text_is_refused() -> None:
    with pytest.raises(InvalidParameters) as caught:
        parse({"q": "x" * 201})
    assert "at most 200" in caught.value.params[0][1]


def test_empty_search_needs_what_or_where() -> None:
    with pytest.raises(MissingSearch) as caught:
        require_what_or_where(parse({"specialism": "neurological"}))
    assert "where" in caught.value.detail and "what" in caught.value.detail
    require_what_or_where(parse({"q": "balance"}))
    require_what_or_where(parse({"lat": "53.8", "lon": "-1.5"}))


def test_a_chosen_point_wins_until_the_place_box_is_changed() -> None:
    chosen = parse({"near": "St Ives, Cornwall", "lat": "50.21", "lon": "-5.48", "label": "St Ives, Cornwall"})
    assert chosen.uses_point
    retyped = parse({"near": "Leeds", "lat": "50.21", "lon": "-5.48", "label": "St Ives, Cornwall"})
    assert not retyped.uses_point
    api_style = parse({"lat": "50.21", "lon": "-5.48"})
    assert api_style.uses_point


def test_as_args_round_trips() -> None:
    original = [("q", "ms"), ("near", "LS6"), ("radius_km", "10"), ("specialism", "neurological"),
                ("specialism", "vestibular"), ("visits_home", "true"), ("page", "3")]
    req = parse(original)
    again = parse(list(req.as_args().items(multi=True)))
    assert again == req
    assert req.as_args(page="").get("page") is None
