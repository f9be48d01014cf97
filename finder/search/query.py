"""SearchQuery -> SearchResults: text + filters + geo + facets.

INTERFACE CONTRACT (shared by finder.search, finder.web and the API; change only
together): the dataclasses below and ``query()``'s signature.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from finder.errors import InvalidParameters
from finder.geo import Location

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

SORTS = ("auto", "distance", "relevance", "name")


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
    sort: str = "auto"  # auto: distance when a location is given, else relevance
    page: int = 1
    per_page: int = 20
    #: List everything that passes the filters, with neither text nor a place
    #: (directory feeds filter by taxonomy alone); the search page never sets it.
    browse: bool = False

    def __post_init__(self) -> None:
        # Validation lives in one place: validate() below (InvalidParameters naming each parameter).
        validate(self)


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
        problems.append(("radius_km", f"must be more than 0 and at most {limit:g} km (got {radius:g})"))
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
    for flag in ("visits_home", "registered_only", "accepting", "wheelchair", "browse"):
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
#   their base when no location is in range). Online-only services have no
#   place: with a location they appear only when the 'online' setting is
#   chosen (distance_km None, after the placed ones), and the count next to
#   'online' counts them wherever they are. A setting filter means "a location
#   of that kind in range"; distance_km is then to the nearest such location.
# * Filters: OR within a facet, AND across facets. visits_home with a location
#   means "visits you", without one "offers home visits". registered_only uses
#   PRACTISING_STATUSES. Withdrawn listings are never in the index.
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
        if not concepts and search.location is None and not search.browse:
            # Neither what nor where: ask, rather than list the whole directory.
            return SearchResults(query=search, total=0, hits=[], facets=empty_facets(), needs_input=True)
        return _run(snap, search, concepts)


_BIT_TABLE = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1, bitorder="little").astype(np.int64)


def _count_bits(matrix: np.ndarray) -> np.ndarray:
    """For a (rows x bytes) uint8 matrix: how many rows have each bit set (bytes*8 counts)."""
    rows, width = matrix.shape
    if not rows:
        return np.zeros(width * 8, dtype=np.int64)
    if rows < 600:
        return np.unpackbits(matrix, axis=1, bitorder="little").sum(axis=0, dtype=np.int64)
    # Histograms of byte values (256 bins per column) instead of unpacking every
    # bit; the bit counts are then a small matrix product. Measured: one bincount
    # over all columns is quickest up to a few thousand rows, then one per column.
    if rows < 4000:
        codes = matrix.astype(np.int32)
        codes += np.arange(width, dtype=np.int32) * 256
        histogram = np.bincount(codes.ravel(), minlength=width * 256).reshape(width, 256)
        return (histogram @ _BIT_TABLE).ravel()
    counts = np.empty(width * 8, dtype=np.int64)
    for column in range(width):
        counts[column * 8 : column * 8 + 8] = np.bincount(matrix[:, column], minlength=256) @ _BIT_TABLE
    return counts


def _run(snap: Any, search: SearchQuery, concepts: list[Any]) -> SearchResults:
    from finder.search.searcher import intersect, lookup

    location = search.location
    text_docs = text_scores = None
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
        geo = snap.near(
            float(location.lat), float(location.lon), float(search.radius_km),
            prefer_settings=prefer, home_visits_beyond=beyond,
        )
        if geo.preferred_distance is not None and geo.preferred_index is not None:
            # Distances to the locations of the chosen setting(s), where they have one in range.
            has = ~np.isnan(geo.preferred_distance)
            geo.distance[has] = geo.preferred_distance[has]
            geo.location_index[has] = geo.preferred_index[has]
        # Online services have no place: candidates everywhere, shown only when
        # 'online' is chosen, and always counted under the setting 'online'.
        online = snap.online_rows[:0]
        if online_chosen:
            online = snap.online_rows
            if len(online) and len(geo.rows):
                pos = np.searchsorted(geo.rows, online)
                np.minimum(pos, len(geo.rows) - 1, out=pos)
                online = online[geo.rows[pos] != online]
        extra = len(online)
        rows = np.concatenate([geo.rows, online]) if extra else geo.rows
        distance = np.concatenate([geo.distance, np.full(extra, np.inf)]) if extra else geo.distance
        visits_you = np.concatenate([geo.visits_you, np.zeros(extra, dtype=bool)]) if extra else geo.visits_you
        location_index = (
            np.concatenate([geo.location_index, np.full(extra, -1, dtype=np.int64)]) if extra else geo.location_index
        )
        placed = geo.in_range | geo.visits_you
        if extra:
            placed = np.concatenate([placed, np.zeros(extra, dtype=bool)])
        settings = geo.settings.astype(snap.bits["setting"].dtype)
        if extra:
            settings = np.concatenate([settings, np.zeros(extra, dtype=settings.dtype)])
        is_online = snap.flags["online"][rows]
        if online_bit:
            settings[is_online] |= settings.dtype.type(online_bit)
        scores = np.zeros(len(rows), dtype=np.float64)
        if text_docs is not None and text_scores is not None:
            rows, scores, keep = lookup(text_docs, rows, scores, text_scores)
            distance, visits_you, location_index = distance[keep], visits_you[keep], location_index[keep]
            placed, settings, is_online = placed[keep], settings[keep], is_online[keep]
    elif text_docs is None or text_scores is None:
        # browse: every live listing, in index order (ties then fall to the id).
        rows = np.flatnonzero(snap.alive)
        scores = np.zeros(len(rows), dtype=np.float64)
        distance = visits_you = location_index = placed = None
        settings = None
        is_online = snap.flags["online"][rows]
    else:
        rows, scores = text_docs, text_scores
        distance = visits_you = location_index = placed = None
        settings = None
        is_online = snap.flags["online"][rows]

    # ---- filters: one boolean per active filter, over the candidate rows ----
    filters: dict[str, np.ndarray] = {}
    for facet, codes in search.filters.items():
        bit_of = snap.bit_of[facet]
        wanted = 0
        for code in codes:
            if code in bit_of:
                wanted |= 1 << bit_of[code]
        values = settings if facet == "setting" and settings is not None else snap.bits[facet][rows]
        filters[facet] = (values & values.dtype.type(wanted)) != 0
    chosen_flags = {
        "visits_home": search.visits_home,
        "registered": search.registered_only,
        "accepting": search.accepting,
        "wheelchair": search.wheelchair,
    }
    for flag, on in chosen_flags.items():
        if on:
            values = visits_you if flag == "visits_home" and visits_you is not None else snap.flags[flag][rows]
            filters["flag:" + flag] = values
    if placed is not None:
        # In the area (a location in range, or they visit you) — or online, when online is asked for.
        filters["area"] = (placed | is_online) if online_chosen else placed

    def combined(leave_out: str | None) -> np.ndarray | None:
        mask = None
        for name, values in filters.items():
            if name != leave_out:
                mask = values.copy() if mask is None else (mask & values)
        return mask

    result_mask = combined(None)
    total = int(result_mask.sum()) if result_mask is not None else len(rows)

    # ---- facet counts: each facet counted with its own filter left out ----
    matrix = snap.matrix[rows]
    if settings is not None:
        matrix[:, snap.setting_column] = settings  # the settings of the places in range
    if visits_you is not None:
        # "visits home" means "visits you" when there is a location
        flag_byte = matrix[:, snap.flag_column]
        flag_byte &= np.uint8(0xFF ^ (1 << snap.flag_bit["visits_home"]))
        flag_byte |= visits_you.astype(np.uint8) << np.uint8(snap.flag_bit["visits_home"])
        matrix[:, snap.flag_column] = flag_byte
    counted: dict[str, np.ndarray] = {}

    def counts_for(leave_out: str | None) -> np.ndarray:
        key = leave_out if leave_out in filters else ""
        found = counted.get(key)
        if found is None:
            mask = result_mask if not key else combined(key)
            found = counted[key] = _count_bits(matrix if mask is None else matrix[mask])
        return found

    facets: dict[str, dict[str, int]] = {}
    for facet in FACETS:
        codes = snap.codes[facet]
        if facet == "setting" and placed is not None:
            # Every other filter, in the area or online: online services count under 'online' anywhere.
            mask = placed | is_online
            for name, values in filters.items():
                if name not in ("setting", "area"):
                    mask &= values
            bits = _count_bits(matrix[mask])
            if not online_chosen and online_bit and not search.visits_home:
                # Online services count wherever they are; the number does not depend
                # on the place, so it is cached per text and filters.
                key = (
                    tuple(c.key for c in concepts),
                    tuple(sorted((f, v) for f, v in search.filters.items() if f != "setting")),
                    search.registered_only,
                    search.accepting,
                    search.wheelchair,
                )
                bits[snap.facet_offset["setting"] + snap.bit_of["setting"]["online"]] = snap.remember(
                    ("online", key), lambda: _online_anywhere(snap, search, text_docs)
                )
        else:
            bits = counts_for(facet)
        offset = snap.facet_offset[facet]
        facets[facet] = dict(zip(codes, bits[offset : offset + len(codes)].tolist(), strict=True))
    facets["flags"] = {
        flag: int(counts_for("flag:" + flag)[snap.flag_offset + snap.flag_bit[flag]]) for flag in FLAG_NAMES
    }
    if not snap.codes_current:
        # Vocabulary codes added since the build are shown with 0.
        from finder.vocab import VOCABULARIES

        for facet in FACETS:
            for code in VOCABULARIES[facet]:
                facets[facet].setdefault(code, 0)

    # ---- order and page ----
    selected = np.flatnonzero(result_mask) if result_mask is not None else np.arange(len(rows))
    sort = search.sort
    if sort == "auto" or (sort == "distance" and location is None):
        sort = "distance" if location is not None else "relevance"
    pid = snap.pid[rows[selected]]
    sel_scores = scores[selected]
    sel_distance = distance[selected] if distance is not None else np.zeros(len(selected))
    if sort == "distance":
        keys = (pid, -sel_scores, sel_distance)
    elif sort == "relevance":
        keys = (pid, sel_distance, -sel_scores)
    else:
        keys = (pid, sel_distance, snap.name_rank[rows[selected]])
    start = (search.page - 1) * search.per_page
    stop = start + search.per_page
    order = _top(keys, stop)[start:stop]

    # Convert whole columns at once: per-hit numpy scalar conversions cost more than the search.
    chosen = selected[order]
    ids = pid[order].tolist()
    hit_scores = np.round(sel_scores[order], 4).tolist()
    if distance is not None and visits_you is not None and location_index is not None:
        near_km = distance[chosen]
        finite = np.isfinite(near_km)
        hit_distances = [d if ok else None for d, ok in zip(np.round(near_km, 3).tolist(), finite.tolist(), strict=True)]
        hit_visits = visits_you[chosen].tolist()
        hit_locations = [i if i >= 0 else None for i in location_index[chosen].tolist()]
    else:
        hit_distances = hit_locations = [None] * len(ids)
        hit_visits = [False] * len(ids)
    hits = [
        Hit(id=i, score=sc, distance_km=d, visits_you=v, location_index=loc)
        for i, sc, d, v, loc in zip(ids, hit_scores, hit_distances, hit_visits, hit_locations, strict=True)
    ]

    suggestion = None
    if concepts and text_docs is not None and not len(text_docs):
        suggestion = suggest(snap, search.text, concepts)
    return SearchResults(query=search, total=total, hits=hits, facets=facets, suggestion=suggestion)


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
    mask = np.ones(len(rows), dtype=bool)
    for facet, codes in search.filters.items():
        if facet == "setting":
            continue
        bit_of = snap.bit_of[facet]
        wanted = sum(1 << bit_of[c] for c in codes if c in bit_of)
        values = snap.bits[facet][rows]
        mask &= (values & values.dtype.type(wanted)) != 0
    for flag, on in (("registered", search.registered_only), ("accepting", search.accepting), ("wheelchair", search.wheelchair)):
        if on:
            mask &= snap.flags[flag][rows]
    return int(mask.sum())


def _top(keys: tuple[np.ndarray, ...], k: int) -> np.ndarray:
    """Indices of the first k by lexicographic keys (last key primary), deterministic."""
    primary = keys[-1]
    n = len(primary)
    if n > 4 * k + 64:
        # Partial selection on the primary key, keeping every tie at the boundary.
        threshold = np.partition(primary, k - 1)[k - 1] if k <= n else None
        if threshold is not None:
            candidates = np.flatnonzero(primary <= threshold)
            order = np.lexsort(tuple(key[candidates] for key in keys))
            return candidates[order]
    return np.lexsort(keys)


# ---------------------------------------------------------------------------
# spelling


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Edits (insert, delete, substitute, swap two neighbours) from a to b; limit+1 when over."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                value = min(value, before[j - 2] + 1)
            current.append(value)
        if min(current) > limit:
            return limit + 1
        before, previous = previous, current
    return previous[-1]


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
        d = _edit_distance(word, candidate, limit)
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
