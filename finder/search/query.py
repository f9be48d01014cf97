"""SearchQuery -> SearchResults: text + filters + geo + facets.

INTERFACE CONTRACT (shared by finder.search, finder.web and the API; change only
together): the dataclasses below and ``query()``'s signature.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np

from finder.errors import InvalidParameters
from finder.geo import Location
from finder.safety import ReferralContext, max_check_age_days, referral_context
from finder.spelling import edit_distance

#: Facets that filter by vocabulary codes (OR within one facet, AND across facets).
#: Keys are vocabulary names from finder.vocab.
FACETS: tuple[str, ...] = (
    "specialism",
    "condition",
    "treatment",
    "setting",
    "funding",
    "referral_route",
    "language",
    "gender",
    "membership",
)

SORTS = ("auto", "distance", "relevance", "name", "nhs_wait", "fee")

#: What each order means (one place: the search page's choices, the API guide and OpenAPI use it).
SORT_HELP = {
    "auto": "distance when a place is given, else relevance",
    "distance": "nearest first",
    "relevance": "best match first",
    "name": "by name, A to Z",
    "nhs_wait": "shortest NHS waiting time first (listings that state none come last)",
    "fee": "lowest fee for a first appointment first (listings that state none come last)",
}


@dataclass(frozen=True)
class CodeConcept:
    """A condition or treatment the searcher means, as vocabulary codes.

    A listing matches when it has one of ``strong`` (it names the condition) or
    of ``broad`` (it has the broad specialism); ``strong`` ones rank first.
    Several concepts combine with AND, like words. Query understanding
    (finder.understand) makes these from phrases; the engine never sees words.
    """

    strong: tuple[tuple[str, str], ...]  # (facet, code)
    broad: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SearchQuery:
    text: str = ""
    location: Location | None = None
    radius_km: float = 25.0
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    visits_home: bool = False  # only practitioners whose home-visit area covers the location
    registered_only: bool = False  # only PRACTISING_STATUSES
    accepting: bool = False  # only accepting new patients
    wheelchair: bool = False  # only with a wheelchair-accessible location
    # Listings whose registration does not allow practice (finder.safety) are left
    # out unless asked for: the caller then shows them with a warning.
    include_not_practising: bool = False
    sort: str = "auto"  # auto: distance when a location is given, else relevance
    page: int = 1
    per_page: int = 20
    concepts: tuple[CodeConcept, ...] = ()  # conditions / treatments meant (see CodeConcept)
    #: List everything that passes the filters, with neither text nor a place
    #: (directory feeds filter by taxonomy alone); the search page never sets it.
    browse: bool = False

    def __post_init__(self) -> None:
        # Validation lives in one place: validate() below (InvalidParameters naming each parameter).
        validate(self)

    def referral_context(self) -> ReferralContext:
        """What this search says the person needs (finder.safety): specialism and condition
        filters, conditions the words were read as (concepts), and conditions named in the text."""
        filters = {facet: tuple(codes) for facet, codes in self.filters.items()}
        meant = [code for concept in self.concepts for facet, code in concept.strong if facet == "condition"]
        if meant:
            filters["condition"] = tuple(dict.fromkeys((*filters.get("condition", ()), *meant)))
        return referral_context(self.text, filters)


@dataclass(frozen=True)
class Hit:
    id: int
    score: float
    distance_km: float | None  # to the nearest location (None without a search location or for online-only)
    visits_you: bool = False  # the search point lies inside their home-visit coverage
    location_index: int | None = None  # which of the record's locations is nearest


@dataclass
class SearchResults:
    query: SearchQuery
    total: int
    hits: list[Hit]
    facets: dict[str, dict[str, int]]  # facet -> code -> count (own filter left out); booleans under "flags"
    suggestion: str | None = None  # spelling suggestion when the text found nothing
    needs_input: bool = False  # neither text nor location: "tell us where or what"
    #: With a place: online services anywhere that pass every other filter. They are not
    #: "within X km" of anything, so they are not in the results; pages offer them separately.
    online_anywhere: int = 0

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.per_page))




# ---------------------------------------------------------------------------
# validation: the one place every SearchQuery value is checked

#: Longest search text accepted (a search box, not a document).
MAX_TEXT_LENGTH = 200
MAX_PER_PAGE = 100
#: Deepest result reachable by paging: refine the search instead.
MAX_DEPTH = 10_000
DEFAULT_MAX_RADIUS_KM = 200.0


def max_radius_km() -> float:
    """SEARCH_MAX_RADIUS_KM of the current app, else the default."""
    from flask import current_app, has_app_context

    if has_app_context():
        return float(current_app.config.get("SEARCH_MAX_RADIUS_KM", DEFAULT_MAX_RADIUS_KM))
    return DEFAULT_MAX_RADIUS_KM


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate(search: SearchQuery) -> None:
    """Raise InvalidParameters naming every bad value and what is allowed; normalise filters."""
    from finder.vocab import VOCABULARIES

    problems: list[tuple[str, str]] = []
    if not isinstance(search.text, str):
        problems.append(("text", "must be text"))
    elif len(search.text) > MAX_TEXT_LENGTH:
        problems.append(
            ("text", f"is {len(search.text):,} characters long; at most {MAX_TEXT_LENGTH} are allowed — use a few words")
        )
    if search.location is not None and not (
        hasattr(search.location, "lat") and hasattr(search.location, "lon")
    ):
        problems.append(("location", "must be a resolved place (a postcode, place name or lat/lon)"))
    limit = max_radius_km()
    radius = search.radius_km
    if isinstance(radius, bool) or not isinstance(radius, int | float) or not math.isfinite(radius):
        problems.append(("radius_km", f"must be a number of kilometres, more than 0 and at most {limit:g}"))
    elif not 0 < radius <= limit:
        problems.append(("radius_km", f"must be more than 0 and at most {limit:g} km (got {radius!r})"))  # !r: 200.0001 must not read as 200
    if not isinstance(search.filters, dict):
        problems.append(("filters", f"must map facet names ({', '.join(FACETS)}) to lists of codes"))
    else:
        normalised: dict[str, tuple[str, ...]] = {}
        for facet, values in search.filters.items():
            if facet not in FACETS:
                problems.append((str(facet)[:40], f"is not a filter we know; filters are: {', '.join(FACETS)}"))
                continue
            vocabulary = VOCABULARIES[facet]
            if isinstance(values, str):
                values = (values,)
            if not isinstance(values, list | tuple | set | frozenset):
                problems.append((facet, f"must be a list of codes from: {vocabulary.allowed()}"))
                continue
            codes: list[str] = []
            unknown: list[str] = []
            for value in values:
                if not isinstance(value, str) or value not in vocabulary:
                    unknown.append(str(value)[:40])
                elif value not in codes:
                    codes.append(value)
            if unknown:
                # One message per filter, however many bad values: 5,000 of them must not
                # turn a 100 kB request into megabytes of repeated vocabulary.
                shown = ", ".join(f"'{u}'" for u in unknown[:5])
                if len(unknown) > 5:
                    shown += f" and {len(unknown) - 5:,} more"
                verb = "is" if len(unknown) == 1 else "are"
                problems.append((facet, f"{shown} {verb} not one of: {vocabulary.allowed()}"))
            if codes:
                normalised[facet] = tuple(codes)
        if not problems:
            object.__setattr__(search, "filters", normalised)
    if not isinstance(search.concepts, tuple) or not all(isinstance(c, CodeConcept) for c in search.concepts):
        problems.append(("concepts", "must be a tuple of CodeConcept"))
    else:
        for concept in search.concepts:
            for facet, code in (*concept.strong, *concept.broad):
                if facet not in FACETS or code not in VOCABULARIES[facet]:
                    problems.append(("concepts", f"'{facet}:{code}' is not a vocabulary code"))
    for flag in ("visits_home", "registered_only", "accepting", "wheelchair", "include_not_practising", "browse"):
        if not isinstance(getattr(search, flag), bool):
            problems.append((flag, "must be true or false"))
    if search.sort not in SORTS:
        problems.append(("sort", f"'{str(search.sort)[:40]}' is not one of: {', '.join(SORTS)}"))
    if not _is_int(search.per_page) or not 1 <= search.per_page <= MAX_PER_PAGE:
        problems.append(("per_page", f"must be a whole number from 1 to {MAX_PER_PAGE}"))
    if not _is_int(search.page) or search.page < 1:
        problems.append(("page", "must be a whole number from 1"))
    elif _is_int(search.per_page) and 1 <= search.per_page <= MAX_PER_PAGE and search.page * search.per_page > MAX_DEPTH:
        deepest = MAX_DEPTH // search.per_page
        problems.append(
            ("page", f"is too deep: at most page {deepest} with {search.per_page} per page; narrow the search instead")
        )
    if problems:
        raise InvalidParameters(problems)


# ---------------------------------------------------------------------------
# the query


def empty_facets() -> dict[str, dict[str, int]]:
    from finder.vocab import VOCABULARIES

    facets = {name: dict.fromkeys(VOCABULARIES[name], 0) for name in FACETS}
    facets["flags"] = dict.fromkeys(FLAG_NAMES, 0)
    return facets


#: Boolean filters, as counted under facets["flags"].
FLAG_NAMES = ("visits_home", "registered", "accepting", "wheelchair")


def _index_of_app() -> Any:
    from flask import current_app

    from finder.search.searcher import EXTENSION_KEY

    try:
        return current_app.extensions[EXTENSION_KEY]
    except KeyError:
        raise RuntimeError("finder.search.init_app(app) was not called") from None


# What a search means (the rules pages, API and tests rely on):
#
# * Text: words, never query syntax. Every word (or synonym group, or "quoted
#   phrase") must match (AND) somewhere: names (a word of 3+ letters also
#   matches as the start of a name: "whitt" -> Whittaker), specialism /
#   condition / treatment / membership labels, bio, practice, places. English
#   stems, accents folded, synonyms from data/synonyms.txt. Nothing found ->
#   ``suggestion`` (a corrected text that does find something), if any.
# * Location: hits have a location within radius_km (distance_km = nearest
#   one) or a home-visit area covering the point (visits_you; distance_km to
#   their base when no location is in range). Online services are not near
#   anywhere: with a location a listing is in the results only through a place
#   in range or a home visit; 'online' then means "in the area, and also
#   offers online sessions", so its count never exceeds the total and ticking
#   it never grows the list. ``online_anywhere`` counts online services
#   anywhere that pass the other filters (the page links to them as a search
#   without a place). Without text or a place, setting=online alone is a valid
#   search (the whole online list, small). A setting filter means "a location
#   of that kind in range"; distance_km is then to the nearest such location.
# * Filters: OR within a facet, AND across facets. visits_home with a location
#   means "visits you", without one "offers home visits". registered_only uses
#   PRACTISING_STATUSES. Withdrawn listings are never in the index.
# * Registration (finder.safety, hazard H1): listings the register says may not
#   practise (suspended, lapsed, removed, not found) are left out of hits and
#   counts unless include_not_practising is set.
# * Referral routes (finder.safety, hazard H3): the referral_route filter and its
#   counts use the routes that apply to what was searched (specialism and
#   condition filters, conditions named in the text): a self-referral "only for
#   musculoskeletal" is not "I can refer myself" without that context, and one
#   "not for multiple sclerosis" is not it for someone searching for MS.
# * Facet counts: for the current query with the facet's own filter left out;
#   flags likewise. Neither text nor location -> needs_input, no hits.
# * Order: sort 'auto' is distance with a location, else relevance; ties by
#   relevance, then distance, then id, so paging is stable.


def query(search: SearchQuery, *, index: Any = None) -> SearchResults:
    """Run a search: text (Whoosh) + filters + distance (numpy), with facet counts."""
    from finder.search.analysis import parse_text

    # SearchQuery validated itself when it was made (__post_init__).
    handle = index if index is not None else _index_of_app()
    with handle.snapshot() as snap:
        concepts = parse_text(search.text, snap.synonyms) if search.text.strip() else []
        asked = concepts or search.concepts or search.filters or search.visits_home or search.accepting or search.wheelchair or search.browse
        if not asked and search.location is None:
            # Neither what nor where: ask, rather than list the whole directory.
            return SearchResults(query=search, total=0, hits=[], facets=empty_facets(), needs_input=True)
        return _run(snap, search, concepts)


def _online_only(search: SearchQuery) -> bool:
    """setting=online and nothing else to narrow by place: the (short) list of online services."""
    return search.filters.get("setting", ()) == ("online",)


#: A byte lane of a uint64 sum counts up to 255 ones without carrying into the next.
_LANE_ROWS = 255
#: Rows unpacked at a time (8 bytes per facet byte per row): bounds the memory a large count takes.
_BLOCK_ROWS = _LANE_ROWS * 64


def _count_bits(matrix: np.ndarray) -> np.ndarray:
    """For a (rows x bytes) uint8 matrix: how many rows have each bit set (bytes*8 counts).

    Every bit is unpacked to a byte, and each run of up to 255 rows summed as uint64
    words: eight byte-wide counters per word, added at once without carries.
    """
    rows, width = matrix.shape
    if rows <= _LANE_ROWS:
        words = np.unpackbits(matrix, axis=1, bitorder="little").view(np.uint64)
        return np.add.reduce(words, axis=0, dtype=np.uint64).view(np.uint8).astype(np.int64)  # type: ignore[no-any-return]
    counts = np.zeros(width * 8, dtype=np.int64)
    for start in range(0, rows, _BLOCK_ROWS):
        words = np.unpackbits(matrix[start : start + _BLOCK_ROWS], axis=1, bitorder="little").view(np.uint64)
        full = len(words) - len(words) % _LANE_ROWS
        if full:
            runs = np.add.reduce(words[:full].reshape(-1, _LANE_ROWS, width), axis=1, dtype=np.uint64)
            counts += np.add.reduce(runs.view(np.uint8), axis=0, dtype=np.int64)
        if full < len(words):
            counts += np.add.reduce(words[full:], axis=0, dtype=np.uint64).view(np.uint8)
    return counts


def count_plan(snap: Any, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """For the active filters ``names`` (in order): a table from the set of filters a
    candidate fails (bit i: filter i) to its group, and each group's byte mask over
    the facet matrix's columns.

    Group 0 (fails nothing) counts in every column; a candidate failing only the
    filter of facet F counts in F's columns (or only a flag's bit); a candidate
    failing a filter that is never left out (registration) or two filters
    or more counts nowhere.
    """
    width = snap.matrix.shape[1]
    masks = [np.full(width, 0xFF, dtype=np.uint8)]
    lut = np.full(1 << len(names), -1, dtype=np.intp)
    lut[0] = 0
    for i, name in enumerate(names):
        mask = np.zeros(width, dtype=np.uint8)
        if name in snap.facet_offset:
            start = snap.facet_offset[name] // 8
            mask[start : start + snap.bits[name].dtype.itemsize] = 0xFF
        elif name.startswith("flag:"):
            mask[snap.flag_column] = 1 << snap.flag_bit[name[5:]]
        else:
            continue
        lut[1 << i] = len(masks)
        masks.append(mask)
    masks.append(np.zeros(width, dtype=np.uint8))
    lut[lut < 0] = len(masks) - 1
    return lut, np.stack(masks)


def _run(snap: Any, search: SearchQuery, concepts: list[Any]) -> SearchResults:
    from finder.search.searcher import intersect, lookup

    location = search.location
    text_docs = text_scores = None
    scores: np.ndarray | None = None  # text scores of the candidate rows (None: no text)
    if concepts:
        text_docs, text_scores = intersect([snap.concept(c) for c in concepts])

    online_bit = snap.online_setting_bit
    setting_filter = search.filters.get("setting", ())
    online_chosen = "online" in setting_filter
    if location is not None:
        prefer = 0
        for code in setting_filter:
            if code in snap.bit_of["setting"] and code != "online":
                prefer |= 1 << snap.bit_of["setting"][code]
        # With a setting filter (a place of that kind in range) someone who only
        # visits the point can neither match nor be counted anywhere: skip them.
        beyond = not prefer or online_chosen or search.visits_home
        # Without home visits beyond the radius (and so without a visits_home filter), only the
        # listings passing every filter count "visits you" or show it: checked for those alone, below.
        visits_later = not beyond
        geo = snap.near(
            float(location.lat), float(location.lon), float(search.radius_km),
            prefer_settings=prefer, home_visits_beyond=beyond,
        )
        # Online services have no place: only those with a place in range (or
        # visiting the point) are candidates; the rest are counted apart.
        rows, distance, location_index, visits_you = geo.rows, geo.distance, geo.location_index, geo.visits_you
        settings = geo.settings.astype(snap.bits["setting"].dtype, copy=False)
        if text_docs is not None and text_scores is not None:
            rows, scores, keep = lookup(text_docs, rows, np.zeros(len(rows), dtype=np.float64), text_scores)
            distance, location_index, settings = distance[keep], location_index[keep], settings[keep]
            if visits_you is not None:
                visits_you = visits_you[keep]
    else:
        if text_docs is not None and text_scores is not None:
            rows, scores = text_docs, text_scores
        elif _online_only(search) and not search.concepts:
            # No text and no place: the (short) list of online services (see _online_only).
            rows = snap.online_rows
        else:
            # What without where or words: conditions or filters read from the text.
            rows = np.flatnonzero(snap.alive)
        distance = visits_you = location_index = None
        settings = None
        visits_later = False

    # ---- conditions meant (CodeConcept): keep listings with one, rank those naming it first ----
    tier: np.ndarray | None = None
    if search.concepts:
        keep, tier = concept_match(snap, search.concepts, rows)
        rows, tier = rows[keep], tier[keep]
        if scores is not None:
            scores = scores[keep]
        if distance is not None and location_index is not None:
            distance, location_index = distance[keep], location_index[keep]
        if visits_you is not None:
            visits_you = visits_you[keep]
        if settings is not None:
            settings = settings[keep]

    # ---- every facet's bits and the flags of the candidates, one byte row each ----
    n = len(rows)
    # "Registered" counts only checks recent enough to say so (hazard H2), as of today.
    registered_of_row, day_matrix = snap.registered_now(fresh_since(), date.today().toordinal())
    matrix = day_matrix.take(rows, axis=0)  # take: far quicker than [rows] for 2-D rows
    if settings is not None:
        # The settings of the places in range; online services have no place, so their
        # 'online' bit comes from the listing.
        if snap.online_setting_bit:
            settings |= matrix[:, snap.setting_column] & np.uint8(snap.online_setting_bit)
        matrix[:, snap.setting_column] = settings
    # The routes that apply to what was searched, not every route listed.
    routes = route_values(snap, rows, _referral_context(search))
    route_column = snap.facet_offset["referral_route"] // 8
    if routes.dtype.itemsize == 1:
        matrix[:, route_column] = routes
    else:
        matrix[:, route_column : route_column + routes.dtype.itemsize] = (
            routes.astype(routes.dtype.newbyteorder("<"), copy=False).view(np.uint8).reshape(n, routes.dtype.itemsize)
        )
    if visits_you is not None:
        # "visits home" means "visits you" when there is a location
        flag_byte = matrix[:, snap.flag_column]  # a view: changed in place
        visits_bit = snap.flag_bit["visits_home"]
        flag_byte &= np.uint8(0xFF ^ (1 << visits_bit))
        flag_byte |= visits_you.view(np.uint8) << np.uint8(visits_bit)

    # ---- filters: which candidates fail each active filter ----
    names: list[str] = []
    fails: list[np.ndarray] = []
    for facet, codes in search.filters.items():
        bit_of = snap.bit_of[facet]
        wanted = 0
        for code in codes:
            if code in bit_of:
                wanted |= 1 << bit_of[code]
        names.append(facet)
        if facet == "setting" and settings is not None:
            fails.append((settings & np.uint8(wanted)) == 0)
        elif facet == "referral_route":
            fails.append((routes & routes.dtype.type(wanted)) == 0)
        else:
            # from the candidates' rows of the facet matrix (already read)
            start = snap.facet_offset[facet] // 8
            width = snap.bits[facet].dtype.itemsize
            hit: np.ndarray | None = None
            for i, byte in enumerate(wanted.to_bytes(width, "little")):
                if byte:  # only the bytes holding a wanted code
                    found = matrix[:, start + i] & np.uint8(byte)
                    hit = found if hit is None else (hit | found)
            fails.append(hit == 0 if hit is not None else np.ones(n, dtype=bool))
    if not search.include_not_practising:
        names.append("registration")
        fails.append((matrix[:, snap.flag_column] & np.uint8(1 << snap.not_practising_bit)) != 0)
    for flag, on in (
        ("visits_home", search.visits_home),
        ("registered", search.registered_only),
        ("accepting", search.accepting),
        ("wheelchair", search.wheelchair),
    ):
        if on:
            if flag == "visits_home" and visits_you is not None:
                values = visits_you
            elif flag == "registered":
                values = registered_of_row[rows]
            else:
                values = snap.flags[flag][rows]
            names.append("flag:" + flag)
            fails.append(~values)

    # ---- total and facet counts: each facet counted with its own filter left out ----
    # One pass: a candidate passing every filter counts in every column; one failing
    # only facet F's filter counts in F's columns only (F's count with F left out);
    # any other candidate counts nowhere. count_plan gives each candidate its byte
    # mask from the set of filters it fails.
    if fails:
        failed = np.packbits(np.array(fails), axis=0, bitorder="little")  # bit i: fails filter i
        code = failed[0] if len(fails) <= 8 else failed[0] | (failed[1].astype(np.uint16) << np.uint16(8))
        plan_key = tuple(names)
        plan = snap.count_plans.get(plan_key)
        if plan is None:
            plan = snap.count_plans[plan_key] = count_plan(snap, names)
        lut, column_masks = plan
        group = lut[code]
        selected = (group == 0).nonzero()[0]
        counted = matrix & column_masks.take(group, axis=0)
    else:
        selected = np.arange(n)
        counted = matrix
    total = len(selected)
    visits_selected: np.ndarray | None = None
    if visits_later and location is not None:
        # Only the rows passing every filter count the flag column's "visits home" bit (see
        # count_plan): "visits you" for those.
        visits_selected = snap.visits_you_at(float(location.lat), float(location.lon), rows.take(selected))
        flag_byte = counted[:, snap.flag_column]  # a view: changed in place
        visits_bit = snap.flag_bit["visits_home"]
        flag_byte[selected] = (flag_byte[selected] & np.uint8(0xFF ^ (1 << visits_bit))) | (
            visits_selected.view(np.uint8) << np.uint8(visits_bit)
        )
    bits = _count_bits(counted[:, : snap.used_width]).tolist()  # not the padding
    facets: dict[str, dict[str, int]] = {
        facet: dict(zip(codes, bits[offset : offset + len(codes)], strict=True)) for facet, codes, offset in snap.facet_slices
    }
    facets["flags"] = {flag: bits[snap.flag_offset + snap.flag_bit[flag]] for flag in FLAG_NAMES}
    if not snap.codes_current:
        # Vocabulary codes added since the build are shown with 0.
        from finder.vocab import VOCABULARIES

        for facet in FACETS:
            for code in VOCABULARIES[facet]:
                facets[facet].setdefault(code, 0)

    # ---- order and page ----
    sort = search.sort
    if sort == "auto" or (sort == "distance" and location is None):
        sort = "distance" if location is not None else "relevance"
    pid = snap.pid[rows[selected]]
    # Naming the condition outranks any amount of text score; text breaks ties within a tier.
    # (None: neither text nor conditions, every match score 0.)
    sel_scores = scores[selected] if scores is not None else None
    sel_tier = tier[selected] if tier is not None else None
    sel_match: np.ndarray | None = None
    if sel_tier is not None:
        sel_match = sel_tier * TIER_WEIGHT + sel_scores if sel_scores is not None else sel_tier * TIER_WEIGHT
    elif sel_scores is not None:
        sel_match = sel_scores
    sel_distance = distance[selected] if distance is not None else None
    blend = search.sort == "auto" and location is not None and bool(concepts or search.concepts)
    keys: tuple[np.ndarray, ...]
    if blend and sel_distance is not None:
        zeros = np.zeros(len(selected))
        keys = (
            pid,
            sel_distance,
            -blended(
                sel_tier if sel_tier is not None else zeros,
                sel_scores if sel_scores is not None else zeros,
                sel_distance,
                float(search.radius_km),
            ),
        )
    else:
        # A key that is the same for every row (no distance, no match score) orders nothing: left out.
        near = (sel_distance,) if sel_distance is not None else ()
        best = (-sel_match,) if sel_match is not None else ()
        if sort == "distance":
            keys = (pid, *best, *near)
        elif sort == "relevance":
            keys = (pid, *near, *best)
        elif sort in ("nhs_wait", "fee"):
            column = snap.nhs_wait if sort == "nhs_wait" else snap.fee
            value = column[rows[selected]]
            keys = (pid, *near, *best, np.where(np.isnan(value), np.inf, value))
        else:
            keys = (pid, *near, snap.name_rank[rows[selected]])
    start = (search.page - 1) * search.per_page
    stop = start + search.per_page
    order = _top(keys, stop)[start:stop]

    # Convert whole columns at once: per-hit numpy scalar conversions cost more than the search.
    chosen = selected[order]
    ids = pid[order].tolist()
    count = len(ids)
    hit_scores = sel_match[order].round(4).tolist() if sel_match is not None else [0.0] * count
    if distance is not None and location_index is not None:
        near_km = distance[chosen]
        finite = np.isfinite(near_km)
        hit_distances = [d if ok else None for d, ok in zip(near_km.round(3).tolist(), finite.tolist(), strict=True)]
        if visits_you is not None:
            hit_visits = visits_you[chosen].tolist()
        else:
            hit_visits = visits_selected[order].tolist() if visits_selected is not None else [False] * count
        hit_locations = [i if i >= 0 else None for i in location_index[chosen].tolist()]
    else:
        hit_distances = hit_locations = [None] * count
        hit_visits = [False] * count
    # Hit(id, score, distance_km, visits_you, location_index)
    hits = list(map(Hit, ids, hit_scores, hit_distances, hit_visits, hit_locations))

    suggestion = None
    if concepts and text_docs is not None and not len(text_docs):
        suggestion = suggest(snap, search.text, concepts)
    online_anywhere = 0
    if location is not None and online_bit:
        # Does not depend on the place, so it is cached per text and filters.
        key = (
            tuple(c.key for c in concepts),
            search.concepts,
            tuple(sorted((f, v) for f, v in search.filters.items() if f != "setting")),
            search.registered_only,
            search.accepting,
            search.wheelchair,
            search.include_not_practising,
        )
        online_anywhere = snap.remember(("online", key), lambda: _online_anywhere(snap, search, text_docs))
    return SearchResults(
        query=search, total=total, hits=hits, facets=facets, suggestion=suggestion, online_anywhere=online_anywhere
    )


#: Score of one matched concept tier, above any text score.
TIER_WEIGHT = 1000.0
#: Weights of a listing naming the concept (strong) and of one with only the broad specialism.
STRONG_TIER = 2.0
BROAD_TIER = 1.0


def concept_match(snap: Any, concepts: tuple[CodeConcept, ...], rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows matching every concept, tier of each row: STRONG_TIER / BROAD_TIER summed over concepts)."""
    keep = np.ones(len(rows), dtype=bool)
    tier = np.zeros(len(rows), dtype=np.float64)

    def having(pairs: tuple[tuple[str, str], ...]) -> np.ndarray:
        found = np.zeros(len(rows), dtype=bool)
        wanted: dict[str, int] = {}
        for facet, code in pairs:
            bit = snap.bit_of[facet].get(code)
            if bit is not None:
                wanted[facet] = wanted.get(facet, 0) | (1 << bit)
        for facet, bits in wanted.items():
            values = snap.bits[facet][rows]
            found |= (values & values.dtype.type(bits)) != 0
        return found

    for concept in concepts:
        strong = having(concept.strong)
        broad = having(concept.broad) & ~strong if concept.broad else np.zeros(len(rows), dtype=bool)
        keep &= strong | broad
        tier += strong * STRONG_TIER + broad * BROAD_TIER
    return keep, tier


def blended(tier: np.ndarray, scores: np.ndarray, distance: np.ndarray, radius_km: float) -> np.ndarray:
    """The default order with a place and something asked: how well it matches, then how near.

    A listing naming the condition (a tier up) beats one that does not at any
    distance within the radius; within a tier, text score (up to half a tier)
    and nearness (up to a whole tier across the radius) trade off.
    """
    top = float(scores.max()) if len(scores) else 0.0
    text = scores / top if top > 0 else np.zeros(len(scores))
    near = np.where(np.isfinite(distance), distance, radius_km * 4) / max(radius_km, 1e-9)
    return tier + 0.5 * text - near


def _online_anywhere(snap: Any, search: SearchQuery, text_docs: np.ndarray | None) -> int:
    """Online services anywhere that pass every filter but the setting (and home
    visits, which the caller handles): the count shown next to 'online'."""
    rows = snap.online_rows
    if not len(rows):
        return 0
    if text_docs is not None:
        pos = np.searchsorted(text_docs, rows)
        np.minimum(pos, max(len(text_docs) - 1, 0), out=pos)
        rows = rows[text_docs[pos] == rows] if len(text_docs) else rows[:0]
    mask = concept_match(snap, search.concepts, rows)[0] if search.concepts else np.ones(len(rows), dtype=bool)
    if not search.include_not_practising:
        mask &= ~snap.flags["not_practising"][rows]
    for facet, codes in search.filters.items():
        if facet == "setting":
            continue
        bit_of = snap.bit_of[facet]
        wanted = sum(1 << bit_of[c] for c in codes if c in bit_of)
        if facet == "referral_route":
            values = route_values(snap, rows, search.referral_context())
        else:
            values = snap.bits[facet][rows]
        mask &= (values & values.dtype.type(wanted)) != 0
    if search.registered_only:
        mask &= registered_now(snap, rows)
    for flag, on in (("accepting", search.accepting), ("wheelchair", search.wheelchair)):
        if on:
            mask &= snap.flags[flag][rows]
    return int(mask.sum())


def registered_now(snap: Any, rows: np.ndarray) -> np.ndarray:
    """Per row: registered to practise *and* checked recently enough to be shown as "Registered"
    (finder.safety.registration_display, hazard H2). The age is measured today, so it is
    computed here from the check date in the index, not fixed when the index was built."""
    return snap.registered_now(fresh_since(), date.today().toordinal())[0][rows]  # type: ignore[no-any-return]


def fresh_since() -> int:
    """The oldest registration check (a date ordinal) recent enough to show "Registered" today."""
    return (date.today() - timedelta(days=max_check_age_days())).toordinal()


#: search.referral_context() by what it depends on (text, specialism and condition filters,
#: conditions meant): a pure function, asked on every search.
_CONTEXTS: dict[tuple[object, ...], ReferralContext] = {}
_CONTEXTS_SIZE = 1024


def _referral_context(search: SearchQuery) -> ReferralContext:
    key = (search.text, search.filters.get("specialism"), search.filters.get("condition"), search.concepts)
    found = _CONTEXTS.get(key)
    if found is None:
        if len(_CONTEXTS) >= _CONTEXTS_SIZE:
            _CONTEXTS.clear()
        found = _CONTEXTS[key] = search.referral_context()
    return found


def route_values(snap: Any, rows: np.ndarray, context: ReferralContext) -> np.ndarray:
    """Per candidate row, the referral routes (as facet bits) that apply in this context.

    The vectorised form of finder.safety.route_applies over the index's route
    arrays, computed for every row once per context (kept per build); an index
    without them (older format) falls back to every listed route.
    """
    if snap.route_groups is None or snap.route_excl is None:
        return snap.bits["referral_route"][rows]  # type: ignore[no-any-return]
    # keyed by plain tuples (quicker to hash and compare than the dataclass)
    key = ("routes", context.specialisms, context.conditions)
    every_row = snap.remember_array(key, lambda: _routes_of_every_row(snap, context))
    return every_row.take(rows)  # type: ignore[no-any-return]


def _routes_of_every_row(snap: Any, context: ReferralContext) -> np.ndarray:
    raw = snap.bits["referral_route"]
    spec_bit = snap.bit_of["specialism"]
    cond_bit = snap.bit_of["condition"]
    group_mask = sum(1 << spec_bit[g] for g in context.groups if g in spec_bit)
    cond_mask = sum(1 << cond_bit[c] for c in context.conditions if c in cond_bit)
    every = sum(1 << bit for bit in snap.bit_of["specialism"].values())
    out = np.zeros(len(raw), dtype=raw.dtype)
    for code, bit in snap.bit_of["referral_route"].items():
        if code not in snap.route_groups:
            continue
        groups = snap.route_groups[code]
        ok = groups != 0
        if group_mask:
            ok &= (groups & groups.dtype.type(group_mask)) != 0
        else:
            ok &= groups == groups.dtype.type(every)
        if cond_mask:
            excluded = snap.route_excl[code]
            ok &= (excluded & excluded.dtype.type(cond_mask)) != excluded.dtype.type(cond_mask)
        out[ok] |= raw.dtype.type(1 << bit)
    return out


def _top(keys: tuple[np.ndarray, ...], k: int) -> np.ndarray:
    """Indices of the first k by lexicographic keys (last key primary), deterministic."""
    primary = keys[-1]
    n = len(primary)
    if n > 4 * k + 64:
        # Partial selection on the primary key, keeping every tie at the boundary.
        threshold = np.partition(primary, k - 1)[k - 1] if k <= n else None
        if threshold is not None:
            candidates = (primary <= threshold).nonzero()[0]
            order = np.lexsort(tuple(key[candidates] for key in keys))
            return candidates[order]
    return np.lexsort(keys)


# ---------------------------------------------------------------------------
# spelling


def _correct(word: str, words: list[str], counts: dict[str, int]) -> str | None:
    """The most used known word within two edits (one for short words)."""
    import bisect

    limit = 1 if len(word) <= 4 else 2
    best: tuple[int, int, str] | None = None
    # Same first letter: typos rarely hit it, and it bounds the scan.
    start = bisect.bisect_left(words, word[0])
    stop = bisect.bisect_left(words, chr(ord(word[0]) + 1))
    for candidate in words[start:stop]:
        if abs(len(candidate) - len(word)) > limit or candidate == word:
            continue
        d = edit_distance(word, candidate, limit)
        if d <= limit:
            key = (d, -counts.get(candidate, 0), candidate)
            if best is None or key < best:
                best = key
    return best[2] if best else None


def suggest(snap: Any, text: str, concepts: list[Any]) -> str | None:
    """A corrected search text that finds something, or None."""
    import re

    from finder.search.analysis import TOKEN_PATTERN, fold, parse_text
    from finder.search.searcher import intersect

    words, counts = snap.spelling()
    known = set(words)
    changed = False

    def replace(match: re.Match[str]) -> str:
        nonlocal changed
        word = match.group(0)
        folded = fold(word)
        if folded in known or not folded.isalpha() or len(folded) < 3:
            return word
        corrected = _correct(folded, words, counts)
        if corrected is None:
            return word
        changed = True
        return corrected

    suggestion = re.sub(TOKEN_PATTERN, replace, text).strip()
    if not changed:
        return None
    fixed = parse_text(suggestion, snap.synonyms)
    if not fixed:
        return None
    docs, _ = intersect([snap.concept(c) for c in fixed])
    return suggestion if len(docs) else None
