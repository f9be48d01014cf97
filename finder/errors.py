"""Named domain errors.

Each carries a message written for the person who caused it: what was wrong and
what is allowed. The web layer turns them into problem+json / page messages and
the CLI into ``click.ClickException``; nothing else should catch them broadly.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class FinderError(Exception):
    """Base class for errors a user or operator can cause and fix."""

    #: HTTP status the web layer uses for this error.
    status = 400
    title = "Bad request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidValue(FinderError):
    """A value outside a closed vocabulary, or of the wrong shape."""

    title = "Invalid value"


class InvalidParameters(InvalidValue):
    """One or more bad request parameters (search page and API): each named, with the reason.

    ``params`` is a list of (parameter name, reason) pairs; the API returns them as
    ``invalid_params`` and the page shows each next to the form.
    """

    title = "Invalid search parameters"

    def __init__(self, params: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{name}: {reason}" for name, reason in params))
        self.params = params


class InvalidPostcode(FinderError):
    """Text that is not shaped like a UK postcode."""

    title = "Invalid postcode"


class LocationError(FinderError):
    """Base for place/postcode resolution failures (422 on the API)."""

    status = 422
    title = "Location not found"


class UnknownPostcode(LocationError):
    """A well-formed postcode that is not in the gazetteer."""

    title = "Unknown postcode"


class UnknownPlace(LocationError):
    title = "Unknown place"


class UnsupportedArea(LocationError):
    """A postcode from an area our offline data does not cover (Northern Ireland)."""

    title = "Area not covered"


@dataclass(frozen=True)
class PlaceCandidate:
    label: str
    lat: float
    lon: float
    detail: str = ""


class AmbiguousPlace(LocationError):
    """A place name that matches several places; carries the candidates to choose from."""

    title = "Ambiguous place"

    def __init__(self, detail: str, candidates: list[PlaceCandidate]) -> None:
        super().__init__(detail)
        self.candidates = candidates


class GazetteerMissing(FinderError):
    status = 503
    title = "Gazetteer not built"


class IndexMissing(FinderError):
    status = 503
    title = "Search index not built"


class IndexDamaged(IndexMissing):
    """A search index build whose files do not match its checksum manifest (refused, never served)."""

    title = "Search index damaged"


class GazetteerDamaged(GazetteerMissing):
    """A gazetteer file that does not match its checksum, or that SQLite cannot read."""

    title = "Gazetteer damaged"


class DiskFull(FinderError):
    """A write ran out of space; names the path and about how much is needed (never any data)."""

    status = 507
    title = "Disk full"


class IndexBusy(FinderError):
    """Another `finder index build` or `update` is running on the same index directory."""

    status = 503
    title = "Search index busy"


class NotFound(FinderError):
    status = 404
    title = "Not found"


@dataclass
class Problem:
    """One thing wrong with one input row (or the file as a whole when row is None)."""

    row: int | None
    column: str | None
    message: str
    unit: str = "row"

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"{self.unit} {self.row}")
        if self.column:
            where.append(f"column {self.column}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


@dataclass
class InvalidRecord(FinderError):
    """A record that failed validation; ``problems`` lists each reason."""

    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__("; ".join(str(p) for p in self.problems) or "invalid record")


class SourceError(FinderError):
    """A remote source (register, feed, file) could not be read as documented."""

    status = 502
    title = "Source unavailable"


class FetchFailed(SourceError):
    """The source did not answer usefully, even after the polite retries."""

    title = "Fetch failed"


class RobotsDisallowed(SourceError):
    """The site's robots.txt asks crawlers like ours not to fetch this path."""

    title = "Disallowed by robots.txt"


class SourceFormatError(SourceError):
    """The source answered, but not in the shape its documentation describes."""

    title = "Unexpected source format"
