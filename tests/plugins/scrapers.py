"""Shared pytest fixtures for the scrapers area (owned by that area's tests).

Other areas may use:

* ``http_mock``: a ``responses`` mock (no request reaches the network);
* ``make_session(**overrides)``: a PoliteSession whose sleeps and clock are fake
  (``fake_clock.sleeps`` records every wait), robots.txt included;
* ``allow_robots(mock, "https://host")``: serve an allow-all robots.txt;
* ``fake_geocode``: a postcode lookup over a few fixture postcodes;
* ``gp_surgeries_loaded``: the fixture epraccur file loaded into ``store``
  (open, closed, dormant and proposed practices, codes Z99901-Z99907).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import responses

from finder.errors import UnknownPostcode

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CONTACT = "tests@example.org"

#: Coordinates for the postcodes the fixture files use (approximate, for tests only).
FIXTURE_POSTCODES: dict[str, tuple[float, float]] = {
    "LS6 2AB": (53.8195, -1.5762),
    "HG1 1AA": (53.9921, -1.5418),
    "LS21 3AA": (53.9055, -1.6920),
    "LS1 4AA": (53.7960, -1.5470),
    "LS2 7AA": (53.8040, -1.5530),
    "LS10 1AA": (53.7840, -1.5340),
    "LS1 5AA": (53.7950, -1.5490),
    "LS7 3AA": (53.8230, -1.5350),
    "LS9 7AA": (53.8000, -1.5100),
    "LS11 0AA": (53.7770, -1.5720),
}


def fixture_path(source: str, name: str) -> Path:
    return FIXTURES / source / name


def fixture_bytes(source: str, name: str) -> bytes:
    return fixture_path(source, name).read_bytes()


class FakeClock:
    """Monotonic and wall clock in one; ``sleep`` moves it on and records the wait."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def http_mock() -> Iterator[responses.RequestsMock]:
    """Every HTTP request in the test must be answered by a registered response."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def allow_robots(mock: responses.RequestsMock, host: str, body: str = "User-agent: *\nDisallow:\n") -> None:
    mock.add(responses.GET, f"{host.rstrip('/')}/robots.txt", body=body, content_type="text/plain")


@pytest.fixture
def make_session(fake_clock: FakeClock) -> Iterator[Callable[..., Any]]:
    """Build a PoliteSession with a fake clock (no real waiting) for the test."""
    from scrapers.http import PoliteSession

    made: list[PoliteSession] = []

    def build(**overrides: Any) -> PoliteSession:
        settings: dict[str, Any] = {
            "contact": CONTACT,
            "sleep": fake_clock.sleep,
            "clock": fake_clock,
            "wall_clock": fake_clock,
        }
        settings.update(overrides)
        session = PoliteSession(**settings)
        made.append(session)
        return session

    yield build
    for session in made:
        session.close()


@pytest.fixture
def fake_geocode() -> Callable[[str], tuple[float, float]]:
    def lookup(postcode: str) -> tuple[float, float]:
        try:
            return FIXTURE_POSTCODES[postcode]
        except KeyError:
            raise UnknownPostcode(f"{postcode} is not in the gazetteer") from None

    return lookup


@pytest.fixture
def gp_surgeries_loaded(store: Any, fake_geocode: Callable[[str], tuple[float, float]]) -> Any:
    """The fixture epraccur file loaded into the store (report returned)."""
    from finder.sites import load_gp_surgeries
    from scrapers.nhs_ods import parse_epraccur

    parsed = parse_epraccur(fixture_bytes("ods", "epraccur.csv"), name="epraccur.csv")
    return load_gp_surgeries(store, parsed, input_name="epraccur.csv", geocode=fake_geocode)
