"""What the search made of the words, for pages and API alike.

* applied filters read from the words, each with the request that removes it;
* why each result matched ("Treats: stroke");
* when nothing is found, concrete alternatives, each with its own count.

Everything here works on a finished :class:`~finder.web.searching.SearchOutcome`
and the store's records; the engine is only asked again for the alternatives' counts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from finder.records import Record
from finder.search.query import CodeConcept, SearchQuery
from finder.understand import Understanding
from finder.vocab import VOCABULARIES

if TYPE_CHECKING:
    from finder.web.searching import SearchOutcome

#: How the yes/no filters read when shown as applied.
FLAG_LABELS = {
    "visits_home": "home visits",
    "wheelchair": "wheelchair access",
    "accepting": "taking new patients",
    "registered_only": "registered only",
}
#: Wider radii offered when nothing is found nearby (km).
WIDER_KM = (40.0, 80.0, 200.0)
#: How many alternatives to offer at most.
MAX_ALTERNATIVES = 6


def concepts_of(understanding: Understanding) -> tuple[CodeConcept, ...]:
    return tuple(CodeConcept(strong=c.strong, broad=c.broad) for c in understanding.concepts)


def filter_label(facet: str, codes: tuple[str, ...]) -> str:
    if not codes:
        return FLAG_LABELS.get(facet, facet.replace("_", " "))
    vocabulary = VOCABULARIES[facet]
    return " or ".join(_short(vocabulary.label_of(code)) for code in codes)


def _short(label: str) -> str:
    """'NHS (free to you)' -> 'NHS'; 'Multiple sclerosis (MS)' -> 'Multiple sclerosis'."""
    return label.split(" (", 1)[0]


@dataclass(frozen=True)
class AppliedView:
    words: str
    label: str
    remove_args: dict[str, str]  # overrides of the request's query string that remove it


def applied_filters(outcome: SearchOutcome) -> list[AppliedView]:
    understanding = outcome.understanding
    if understanding is None:
        return []
    views = []
    for applied in understanding.filters:
        views.append(AppliedView(applied.words, filter_label(applied.facet, applied.codes), {"q": understanding.without(applied.words), "page": ""}))
    return views


def concept_labels(outcome: SearchOutcome) -> list[str]:
    understanding = outcome.understanding
    if understanding is None:
        return []
    out = []
    for concept in understanding.concepts:
        out.append(", ".join(_short(VOCABULARIES[f].label_of(c)).lower() for f, c in concept.strong))
    return out


# ---------------------------------------------------------------------------
# why each result matched


def match_reasons(record: Record, outcome: SearchOutcome) -> list[str]:
    """Short reasons a listing is in the results, from its own fields."""
    reasons: list[str] = []
    understanding = outcome.understanding
    treats: list[str] = []
    offers: list[str] = []
    broad: list[str] = []
    if understanding is not None:
        for concept in understanding.concepts:
            named = False
            for facet, code in concept.strong:
                if code in _codes(record, facet):
                    named = True
                    label = _short(VOCABULARIES[facet].label_of(code))
                    target = treats if facet == "condition" else offers if facet == "treatment" else broad
                    if label not in target:
                        target.append(label)
            if not named:
                for facet, code in concept.broad:
                    if code in _codes(record, facet):
                        label = _short(VOCABULARIES[facet].label_of(code))
                        if label not in broad:
                            broad.append(label)
    if treats:
        reasons.append("Treats: " + ", ".join(treats))
    if offers:
        reasons.append("Offers: " + ", ".join(offers))
    if broad:
        reasons.append("Specialism: " + ", ".join(broad))
    for facet, codes in outcome.query.filters.items():
        have = [c for c in codes if c in _codes(record, facet)]
        if have and facet not in ("condition", "treatment", "specialism"):
            reasons.append(f"{VOCABULARIES[facet].label}: {filter_label(facet, tuple(have))}")
    if outcome.query.text:
        reasons.append(f"Mentions “{outcome.query.text}”")
    return reasons


def _codes(record: Record, facet: str) -> list[str]:
    return {
        "condition": record.conditions,
        "treatment": record.treatments,
        "specialism": record.specialisms,
        "funding": record.funding,
        "language": record.languages,
        "setting": record.settings,
        "referral_route": record.route_codes,
        "gender": [record.gender] if record.gender else [],
        "membership": record.memberships,
    }.get(facet, [])


# ---------------------------------------------------------------------------
# never a dead end


@dataclass(frozen=True)
class Alternative:
    label: str
    total: int
    args: dict[str, str]  # overrides of the request's query string

    def as_json(self, url_for_args: Any) -> dict[str, Any]:
        return {"label": self.label, "total": self.total, **url_for_args(self.args)}


def _count(search: SearchQuery, **changes: Any) -> int:
    from finder.search import query

    try:
        changed = replace(search, page=1, per_page=1, **changes)
    except Exception:  # noqa: BLE001 - an alternative that cannot be asked is simply not offered
        return 0
    return query(changed).total


def find_alternatives(outcome: SearchOutcome, max_radius_km: float) -> list[Alternative]:
    """Concrete next steps for a search that found nothing, each with how many it finds."""
    search = outcome.query
    request = outcome.request
    understanding = outcome.understanding
    found: list[Alternative] = []
    if outcome.location is not None:
        for radius in WIDER_KM:
            if search.radius_km < radius <= max_radius_km:
                total = _count(search, radius_km=radius)
                if total:
                    found.append(Alternative(f"{total} within {radius:g} km", total, {"radius_km": f"{radius:g}", "page": ""}))
                    break
    if understanding is not None:
        for applied in understanding.filters:
            filters = {f: tuple(c for c in v if not (f == applied.facet and c in applied.codes)) for f, v in search.filters.items()}
            filters = {f: v for f, v in filters.items() if v}
            # Keep what the request itself asked for.
            for facet, codes in request.filters.items():
                filters[facet] = tuple(dict.fromkeys((*filters.get(facet, ()), *codes)))
            flags = {applied.facet: getattr(request, applied.facet)} if not applied.codes and hasattr(search, applied.facet) else {}
            total = _count(search, filters=filters, **flags)
            if total:
                found.append(Alternative(f"{total} if you drop “{applied.words}”", total, {"q": understanding.without(applied.words), "page": ""}))
        if understanding.text and (understanding.filters or understanding.concepts):
            total = _count(search, text="")
            if total:
                kept = " ".join([*(f.words for f in understanding.filters), *(c.words for c in understanding.concepts)])
                found.append(Alternative(f"{total} without the words “{understanding.text}”", total, {"q": kept, "page": ""}))
        for concept in understanding.concepts:
            others = tuple(c for c in search.concepts if c.strong != concept.strong)
            if others or search.text or search.filters or search.location is not None:
                total = _count(search, concepts=others)
                if total:
                    found.append(Alternative(f"{total} if you drop “{concept.words}”", total, {"q": understanding.without(concept.words), "page": ""}))
    for facet, codes in request.filters.items():
        filters = {f: v for f, v in search.filters.items() if f != facet}
        total = _count(search, filters=filters)
        if total:
            found.append(Alternative(f"{total} without the filter “{filter_label(facet, codes)}”", total, {facet: "", "page": ""}))
    for flag in ("visits_home", "wheelchair", "accepting", "registered_only"):
        if getattr(request, flag):
            total = _count(search, **{flag: False})
            if total:
                found.append(Alternative(f"{total} without “{FLAG_LABELS[flag]}”", total, {flag: "", "page": ""}))
    if outcome.location is not None and (search.text or search.concepts):
        # Whatever they treat, with the same filters, nearby: always something to look at.
        total = _count(search, text="", concepts=())
        if total:
            kept = " ".join(f.words for f in understanding.filters) if understanding is not None else ""
            found.append(
                Alternative(f"{total} physiotherapists within {search.radius_km:g} km, whatever they treat", total, {"q": kept, "page": ""})
            )
        total = _count(search, location=None)
        if total:
            found.append(Alternative(f"{total} anywhere in the UK", total, {"near": "", "lat": "", "lon": "", "label": "", "page": ""}))
    unique: dict[str, Alternative] = {}
    for alternative in found:
        unique.setdefault(alternative.label, alternative)
    return list(unique.values())[:MAX_ALTERNATIVES]


def interpreted_json(outcome: SearchOutcome) -> dict[str, Any]:
    understanding = outcome.understanding
    body: dict[str, Any] = understanding.as_json() if understanding is not None else {}
    if outcome.dropped_words:
        body["dropped"] = outcome.dropped_words
    return body
