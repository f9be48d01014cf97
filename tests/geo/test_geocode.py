"""The geocoder chain: what people type resolves, or fails with a message that helps."""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import responses

from finder import create_app
from finder.errors import (
    AmbiguousPlace,
    FinderError,
    GazetteerMissing,
    InvalidPostcode,
    InvalidValue,
    UnknownPlace,
    UnknownPostcode,
    UnsupportedArea,
)
from finder.geo import Location
from finder.geo.distance import distance_km
from finder.geo.gazetteer import Gazetteer, build_gazetteer
from finder.geo.geocode import (
    MAX_LOCATION_LENGTH,
    Geocoder,
    OnlineGeocoders,
    embedded_postcode,
    geocoder_from,
)

HEADINGLEY = (53.8195, -1.5762)
HARROGATE = (53.99078, -1.5373)


@pytest.mark.parametrize(
    ("text", "label", "precision", "near", "within_km"),
    [
        ("SW1A 1AA", "SW1A 1AA", "postcode", (51.501009, -0.141588), 0.001),
        ("sw1a1aa", "SW1A 1AA", "postcode", (51.501009, -0.141588), 0.001),
        ("EH1 1YZ", "EH1 1YZ", "postcode", (55.9533, -3.1883), 1.5),
        ("LS6", "LS6", "outcode", HEADINGLEY, 3.0),
        ("ls6", "LS6", "outcode", HEADINGLEY, 3.0),
        ("LS6 2", "LS6 2", "sector", HEADINGLEY, 3.0),
        ("CF10 1EP", "CF10 1EP", "postcode", (51.4816, -3.1791), 1.5),
        ("Harrogate", "Harrogate, North Yorkshire", "place", HARROGATE, 0.1),
        ("harrogate", "Harrogate, North Yorkshire", "place", HARROGATE, 0.1),
        ("  HARROGATE ", "Harrogate, North Yorkshire", "place", HARROGATE, 0.1),
        ("Harrogate\u200b", "Harrogate, North Yorkshire", "place", HARROGATE, 0.1),  # pasted zero-width space
        ("Llandudno", "Llandudno, Conwy", "place", (53.32498, -3.83148), 0.1),
        ("51.5,-0.12", "51.50000, -0.12000", "point", (51.5, -0.12), 0.001),
        ("51.5, -0.12", "51.50000, -0.12000", "point", (51.5, -0.12), 0.001),
        ("51.5N 0.12W", "51.50000, -0.12000", "point", (51.5, -0.12), 0.001),
        ("LS", "LS (Leeds postcode area)", "area", (53.82, -1.55), 10),
        ("12 Otley Road, Leeds LS6 2AB", "LS6 2AB", "postcode", HEADINGLEY, 2.0),
        ("Leeds, UK", "Leeds, West Yorkshire", "place", (53.79648, -1.54785), 0.1),
        ("St Ives, Cornwall", "St Ives, Cornwall (TR26)", "place", (50.20861, -5.4875), 0.1),
        ("St Ives, Cambridgeshire (PE27)", "St Ives, Cambridgeshire (PE27)", "place", (52.33251, -0.07656), 0.1),
        ("Bishops Stortford", "Bishop's Stortford, Hertfordshire", "place", (51.87113, 0.15868), 0.1),
        ("bishop's stortford", "Bishop's Stortford, Hertfordshire", "place", (51.87113, 0.15868), 0.1),
        ("Belfast", "Belfast, Northern Ireland", "place", (54.59682, -5.92541), 0.1),
    ],
)
def test_resolves(
    geocoder: Geocoder, text: str, label: str, precision: str, near: tuple[float, float], within_km: float
) -> None:
    location = geocoder.resolve(text)
    assert isinstance(location, Location)
    assert location.label == label
    assert location.precision == precision
    assert distance_km(location.lat, location.lon, *near) <= within_km


def test_a_much_bigger_namesake_wins_outright(geocoder: Geocoder) -> None:
    # Warrington, Cheshire (172,000) over a Buckinghamshire hamlet of the same name
    location = geocoder.resolve("Warrington")
    assert location.label.startswith("Warrington, ")
    assert distance_km(location.lat, location.lon, 53.39254, -2.58024) < 0.1


def test_sources_are_named(geocoder: Geocoder) -> None:
    assert geocoder.resolve("SW1A 1AA").source == "codepoint"
    assert geocoder.resolve("Harrogate").source == "geonames"
    assert geocoder.resolve("53.8,-1.55").source == "latlon"


def test_st_ives_asks_which_one(geocoder: Geocoder) -> None:
    with pytest.raises(AmbiguousPlace) as caught:
        geocoder.resolve("St Ives")
    candidates = caught.value.candidates
    assert [c.label for c in candidates] == ["St Ives, Cambridgeshire (PE27)", "St Ives, Cornwall (TR26)"]
    assert "Which did you mean?" in caught.value.detail
    assert caught.value.status == 422
    cornwall = candidates[1]
    assert distance_km(cornwall.lat, cornwall.lon, 50.2086, -5.4875) < 1
    assert "England" in cornwall.detail and "5,410" in cornwall.detail
    # choosing a candidate by its label resolves to exactly that place
    for candidate in candidates:
        chosen = geocoder.resolve(candidate.label)
        assert (chosen.lat, chosen.lon) == (candidate.lat, candidate.lon)
    with pytest.raises(AmbiguousPlace):
        geocoder.resolve("saint ives")


@pytest.mark.parametrize(
    ("text", "error", "says"),
    [
        ("ZZ1 1ZZ", InvalidPostcode, "there is no postcode area ZZ"),
        ("LS6 2AC", InvalidPostcode, "is not a UK postcode"),
        ("LS99 9ZZ", UnknownPostcode, "LS99 9ZZ is a valid format but not a known postcode"),
        ("LS6 7", UnknownPostcode, "district LS6 has sectors LS6 1, LS6 2"),
        ("LS31", UnknownPostcode, "LS31 is not a known postcode district"),
        ("BT1 1AA", UnsupportedArea, "Northern Ireland postcode"),
        ("BT7", UnsupportedArea, "covers Great Britain only"),
        ("hello", UnknownPlace, "We could not find 'hello'"),
        ("hi", UnknownPlace, "We could not find 'hi'"),
        ("", InvalidValue, "enter where to search"),
        ("   \n\t ", InvalidValue, "enter where to search"),
        ("x" * 10_240, InvalidValue, f"10,240 characters long; the most we accept is {MAX_LOCATION_LENGTH}"),
        ("Leeds\x00", InvalidValue, "control characters"),
        ("-0.12, 51.5", InvalidValue, "give latitude first: 51.5, -0.12"),
        ("95, 10", InvalidValue, "latitude runs from -90 to 90"),
        ("48.85, 2.35", UnsupportedArea, "outside the UK"),
        ("YO1 7HH", UnknownPostcode, "run `finder geo build`"),
    ],
)
def test_fails_clearly(geocoder: Geocoder, text: str, error: type[FinderError], says: str) -> None:
    with pytest.raises(error) as caught:
        geocoder.resolve(text)
    assert says in caught.value.detail
    assert caught.value.detail == str(caught.value)
    assert 400 <= caught.value.status < 500


def test_not_text_is_refused(geocoder: Geocoder) -> None:
    with pytest.raises(InvalidValue, match="expected the location as text"):
        geocoder.resolve(None)  # type: ignore[arg-type]


def test_misspellings_get_a_suggestion(geocoder: Geocoder) -> None:
    with pytest.raises(UnknownPlace, match="Did you mean Harrogate"):
        geocoder.resolve("Harogate")


def test_embedded_postcodes() -> None:
    assert embedded_postcode("Flat 2, 12 Otley Road, Leeds, LS6 2AB") == "LS6 2AB"
    assert embedded_postcode("ls62ab") == "LS6 2AB"
    assert embedded_postcode("Otley Road, Leeds") is None


def test_many_threads_share_one_geocoder(geocoder: Geocoder) -> None:
    texts = ["SW1A 1AA", "LS6", "Harrogate", "LS6 2", "51.5,-0.12", "EH1 1YZ", "Llandudno", "CF10 1EP"] * 25
    expected = [geocoder.resolve(t) for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(geocoder.resolve, texts)) == expected


# ---- the Flask app --------------------------------------------------------------------------


def test_the_app_starts_before_the_gazetteer_is_built(tmp_path: Path, gazetteer_path: Path) -> None:
    missing = tmp_path / "instance" / "gazetteer.sqlite"
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "t"})
    geocoder = geocoder_from(app)
    assert Path(app.config["GAZETTEER_PATH"]) == missing
    assert geocoder.resolve("51.5,-0.12").precision == "point"  # needs no gazetteer
    with pytest.raises(GazetteerMissing) as caught:
        geocoder.resolve("LS6")
    assert "run `finder geo build`" in caught.value.detail and caught.value.status == 503
    shutil.copyfile(gazetteer_path, missing)  # built after the app started: no restart needed
    assert geocoder.resolve("LS6").label == "LS6"
    geocoder.close()


def test_a_rebuilt_gazetteer_is_picked_up(tmp_path: Path, gazetteer_path: Path, few_places: None) -> None:
    path = tmp_path / "gazetteer.sqlite"
    shutil.copyfile(gazetteer_path, path)
    geocoder = Geocoder(path)
    geocoder.RECHECK_SECONDS = 0.0
    assert geocoder.resolve("LS6").label == "LS6"
    build_gazetteer(path, areas=["hg"])  # replaced under the running geocoder
    with pytest.raises(UnknownPostcode, match="not built with"):
        geocoder.resolve("LS6")
    assert geocoder.resolve("HG1").label == "HG1"
    geocoder.close()


# ---- online geocoders (mocked: tests never touch the network) ----------------------------------

NOMINATIM = "https://nominatim.test.invalid/search"
POSTCODE_API = "https://postcodes.test.invalid/postcodes/{postcode}"


def _online(gazetteer: Gazetteer) -> Geocoder:
    return Geocoder(
        gazetteer,
        online=OnlineGeocoders(
            nominatim_domain="nominatim.test.invalid",
            postcode_api_url=POSTCODE_API,
            contact="ops@physio-finder.example",
            rate_limit_per_second=1000.0,
            timeout_seconds=2.0,
        ),
    )


def test_online_geocoders_are_never_called_when_switched_off(gazetteer_path: Path) -> None:
    config: dict[str, Any] = {"GAZETTEER_PATH": str(gazetteer_path), "ONLINE_GEOCODING": False}
    geocoder = Geocoder.from_config(config)
    assert geocoder.online is None
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        # nothing registered: any request would fail the test with ConnectionError
        with pytest.raises(UnsupportedArea):
            geocoder.resolve("BT1 1AA")
        with pytest.raises(UnknownPlace):
            geocoder.resolve("Nowhereville")
        with pytest.raises(UnknownPostcode):
            geocoder.resolve("LS99 9ZZ")
        assert len(mocked.calls) == 0
    geocoder.close()


def test_from_config_switches_online_on(gazetteer_path: Path) -> None:
    geocoder = Geocoder.from_config(
        {
            "GAZETTEER_PATH": str(gazetteer_path),
            "ONLINE_GEOCODING": True,
            "NOMINATIM_DOMAIN": "nominatim.test.invalid",
            "POSTCODE_API_URL": POSTCODE_API,
            "HTTP_CONTACT": "ops@physio-finder.example",
            "HTTP_RATE_LIMIT_PER_SECOND": 2.0,
        }
    )
    assert geocoder.online is not None
    assert geocoder.online.user_agent.endswith("(+ops@physio-finder.example)")
    assert geocoder.online.min_interval == 0.5
    geocoder.close()


@responses.activate
def test_northern_ireland_postcodes_through_the_postcode_api(gazetteer: Gazetteer) -> None:
    responses.get(
        "https://postcodes.test.invalid/postcodes/BT1%201AA",
        json={"status": 200, "result": {"postcode": "BT1 1AA", "latitude": 54.6005, "longitude": -5.9265}},
    )
    geocoder = _online(gazetteer)
    location = geocoder.resolve("bt11aa")
    assert location == Location("BT1 1AA", 54.6005, -5.9265, "postcode", "postcodes_api")
    request = responses.calls[0].request
    assert "PhysioFinder/" in request.headers["User-Agent"]
    assert "ops@physio-finder.example" in request.headers["User-Agent"]
    assert geocoder.resolve("BT1 1AA") == location
    assert len(responses.calls) == 1  # answered from the cache the second time
    geocoder.close()


@responses.activate
def test_the_postcode_api_not_knowing_a_postcode(gazetteer: Gazetteer) -> None:
    responses.get("https://postcodes.test.invalid/postcodes/BT99%209ZZ", status=404, json={"status": 404})
    responses.get("https://postcodes.test.invalid/postcodes/LS99%209ZZ", status=404, json={"status": 404})
    responses.get("https://postcodes.test.invalid/postcodes/BT2%202BB", status=500)
    geocoder = _online(gazetteer)
    with pytest.raises(UnknownPostcode, match="BT99 9ZZ is a valid format but not a known postcode"):
        geocoder.resolve("BT99 9ZZ")
    with pytest.raises(UnknownPostcode, match="LS99 9ZZ is a valid format but not a known postcode"):
        geocoder.resolve("LS99 9ZZ")  # offline miss, asked online, still unknown
    with pytest.raises(UnsupportedArea, match="could not be reached"):
        geocoder.resolve("BT2 2BB")
    geocoder.close()


@responses.activate
def test_offline_answers_need_no_network_even_when_online_is_on(gazetteer: Gazetteer) -> None:
    geocoder = _online(gazetteer)
    assert geocoder.resolve("SW1A 1AA").source == "codepoint"
    assert geocoder.resolve("Harrogate").source == "geonames"
    assert len(responses.calls) == 0
    geocoder.close()


@responses.activate
def test_unknown_places_go_to_nominatim(gazetteer: Gazetteer) -> None:
    responses.get(
        NOMINATIM,
        json=[
            {
                "lat": "53.8196",
                "lon": "-1.5766",
                "display_name": "Headingley, Leeds, West Yorkshire, England, LS6, United Kingdom",
                "boundingbox": ["53.80", "53.83", "-1.60", "-1.56"],
            }
        ],
    )
    geocoder = _online(gazetteer)
    # A neighbourhood in our localities table never needs the network ...
    assert geocoder.resolve("Headingley").source == "localities"
    assert len(responses.calls) == 0
    # ... a street we do not hold goes online.
    location = geocoder.resolve("Headingley Lane")
    assert location.source == "nominatim" and location.precision == "place"
    assert location.label == "Headingley, Leeds"
    assert distance_km(location.lat, location.lon, *HEADINGLEY) < 0.5
    request = responses.calls[0].request
    query = parse_qs(urlparse(request.url).query)
    assert query["q"] == ["Headingley Lane"]
    assert query["countrycodes"] == ["gb"]
    assert "ops@physio-finder.example" in request.headers["User-Agent"]
    geocoder.close()


@responses.activate
def test_nominatim_finding_nothing_or_failing(gazetteer: Gazetteer) -> None:
    responses.get(NOMINATIM, json=[])
    geocoder = _online(gazetteer)
    with pytest.raises(UnknownPlace, match="We could not find 'Nowhereville'"):
        geocoder.resolve("Nowhereville")
    responses.replace(responses.GET, NOMINATIM, status=503)
    with pytest.raises(UnknownPlace, match="could not be reached"):
        geocoder.resolve("Elsewhereton")
    geocoder.close()


def test_the_test_suite_is_offline() -> None:
    # belt and braces for the online tests above: no proxy or real service configured
    assert "physio-finder" not in os.environ.get("FINDER_NOMINATIM_DOMAIN", "")
