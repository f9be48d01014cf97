"""HTML pages: search and results, practitioner, referral summary (+ plain text), about, API guide.

Every page works without JavaScript (plain GET forms and links). Problems a
person can fix are shown above the form with their input kept; everything else
goes through finder.web.errors.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from flask import Blueprint, Response, current_app, render_template, request, url_for
from markupsafe import Markup, escape

from finder import safety
from finder.db import store_from
from finder.errors import AmbiguousPlace, FinderError, InvalidParameters, LocationError
from finder.models import StoredPractitioner
from finder.search.query import FACETS, SORT_HELP
from finder.vocab import VOCABULARIES
from finder.web import present
from finder.web.links import id_url_maker
from finder.web.params import (
    FLAGS,
    PARAMETERS,
    MissingSearch,
    SearchRequest,
    parse_search_args,
    previous_page,
    require_what_or_where,
    without_controls,
)
from finder.web.searching import SearchOutcome, load_practitioner, run_search
from finder.web.svgmap import Pin, results_map
from finder.web.timing import stage

bp = Blueprint("pages", __name__)

RADIUS_CHOICES_KM = (2, 5, 10, 25, 50, 100, 200)
PER_PAGE_CHOICES = (10, 20, 50, 100)

#: Facets in the order the filter panel shows them, with the question each answers.
FILTER_FACETS: tuple[tuple[str, str], ...] = (
    ("specialism", "Specialism"),
    ("condition", "Condition"),
    ("setting", "Where you are seen"),
    ("funding", "How it is paid for"),
    ("referral_route", "How to be referred"),
    ("treatment", "Treatment"),
    ("language", "Language spoken"),
    ("gender", "Gender of the physiotherapist"),
    ("membership", "Professional membership"),
)

FLAG_LABELS = {
    "visits_home": "Visits my home",
    "registered_only": "Registered with the HCPC only",
    "accepting": "Accepting new patients",
    "wheelchair": "Wheelchair access",
}

SORT_LABELS = {
    "auto": "Best order",
    "distance": "Nearest first",
    "relevance": "Best match first",
    "nhs_wait": "Shortest NHS wait",
    "fee": "Lowest fee",
    "name": "Name (A to Z)",
}


@dataclass
class FormState:
    """What the search form shows: the person's own input, even when it was not valid."""

    q: str = ""
    near: str = ""
    lat: str = ""
    lon: str = ""
    label: str = ""
    radius_km: str = ""
    sort: str = ""
    per_page: str = ""
    filters: dict[str, list[str]] = field(default_factory=dict)
    flags: dict[str, bool] = field(default_factory=dict)

    @classmethod
    def from_args(cls, args: Any) -> FormState:
        def one(name: str) -> str:
            return without_controls(args.get(name) or "").strip()[:200]  # never echo a NUL into the page

        state = cls(
            q=one("q"),
            near=one("near"),
            radius_km=one("radius_km"),
            sort=one("sort"),
            per_page=one("per_page"),
            filters={facet: [v for v in args.getlist(facet) if v] for facet in FACETS},
            flags={flag: one(flag).lower() in ("1", "true", "yes", "on", "y", "t") for flag in FLAGS},
        )
        # A place picked from the "which did you mean" list travels as lat/lon + its label.
        if one("lat") and one("lon"):
            state.lat, state.lon, state.label = one("lat"), one("lon"), one("label")
            if not state.near:
                state.near = state.label
        return state

    def checked(self, facet: str, code: str) -> bool:
        return code in self.filters.get(facet, [])

    def radius_options(self, default: int) -> list[tuple[str, str]]:
        options = [(str(km), present.miles_text(km)) for km in RADIUS_CHOICES_KM]
        current = self.radius_km or str(default)
        if current not in [value for value, _ in options]:
            # Keep what the person asked for, even an odd or invalid value, so the form shows it.
            options.append((current, f"{current} km"))
        return options

    @property
    def current_radius(self) -> str:
        return self.radius_km or str(current_app.config.get("SEARCH_DEFAULT_RADIUS_KM", 25))

    @property
    def filter_count(self) -> int:
        return sum(len(v) for v in self.filters.values()) + sum(self.flags.values())


@dataclass
class FacetOption:
    code: str
    label: str
    count: int | None
    checked: bool


@functools.lru_cache(maxsize=4096)
def _checkbox_parts(facet: str, code: str, label: str) -> tuple[str, str]:
    """The escaped, unchanging parts of one filter checkbox (vocabulary codes and labels)."""
    field_id = escape(f"f-{facet}-{code}")
    head = f'<li><input type="checkbox" id="{field_id}" name="{escape(facet)}" value="{escape(code)}" form="search-form"'
    label_start = f'>\n<label for="{field_id}">{escape(label)}'
    return head, label_start


def checkbox_items(facet: str, options: list[FacetOption]) -> Markup:
    """A filter group's checkboxes as list items, each label with its count.

    Built here rather than by a template loop: a results page shows about 150 of them, and
    Jinja's per-value work on them was half the page's rendering. Every value is escaped
    (``_checkbox_parts``); a count is an int. tests/web/test_search_pages.py pins the markup.
    """
    items = []
    for o in options:
        head, label_start = _checkbox_parts(facet, o.code, o.label)
        checked = " checked" if o.checked else ""
        count = f' <span class="count">({int(o.count)})</span>' if o.count is not None else ""
        items.append(f"{head}{checked}{label_start}{count}</label></li>")
    return Markup("\n".join(items))  # noqa: S704 - every value above is escaped or an int


def facet_options(form: FormState, facets: dict[str, dict[str, int]] | None) -> list[tuple[str, str, list[FacetOption]]]:
    """Filter groups: values with results (or already ticked), each with its count."""
    groups = []
    for facet, question in FILTER_FACETS:
        vocab = VOCABULARIES[facet]
        counts = (facets or {}).get(facet)
        options = []
        for code, label in vocab.terms.items():
            count = None if counts is None else counts.get(code, 0)
            checked = form.checked(facet, code)
            if checked or counts is None or count:
                options.append(FacetOption(code, label, count, checked))
        if counts is None and facet not in ("specialism", "setting", "funding", "referral_route"):
            continue  # before a search: only the main questions, without counts
        if options:
            groups.append((facet, question, options))
    return groups


#: The search engine counts the registered-only switch under "registered".
FLAG_COUNT_KEYS = {"registered_only": "registered"}


def flag_options(form: FormState, facets: dict[str, dict[str, int]] | None) -> list[FacetOption]:
    counts = (facets or {}).get("flags", {})
    return [
        FacetOption(
            flag,
            FLAG_LABELS[flag],
            counts.get(FLAG_COUNT_KEYS.get(flag, flag), counts.get(flag)) if counts else None,
            form.flags.get(flag, False),
        )
        for flag in FLAGS
    ]


@dataclass
class ResultView:
    number: int
    stored: StoredPractitioner
    distance: str
    nearest: Any
    registration: present.RegistrationView
    settings: list[str]
    funding: list[str]
    home_visits: str
    visits_you: bool
    next_step: str
    accepting: str
    url: str
    # What a GP compares (finder.web.present), and the shortlist.
    wait: str = ""
    fee: str = ""
    setting_funding: str = ""
    conditions_matched: list[str] = field(default_factory=list)
    conditions_other: list[str] = field(default_factory=list)
    conditions_more: int = 0
    phone: str = ""
    phone_href: str = ""
    shortlist_url: str = ""
    on_shortlist: bool = False
    is_online_only: bool = False


def result_views(outcome: SearchOutcome, back: str) -> list[ResultView]:
    from finder.web.shortlist import add_url_maker, current_shortlist

    context = outcome.query.referral_context()
    today = date.today()
    practitioner_url = id_url_maker("pages.practitioner", "practitioner_id", build=url_for, back=back)
    shortlist = current_shortlist()
    shortlist_url = add_url_maker(shortlist, back)
    views = []
    for number, hit, stored in outcome.rows:
        record = stored.record
        nearest = present.nearest_location(record, hit)
        views.append(
            ResultView(
                number=number,
                stored=stored,
                distance=present.distance_text(hit.distance_km),
                nearest=nearest,
                registration=present.registration_view(record, today),
                settings=present.labels("setting", record.settings),
                funding=present.labels("funding", record.funding),
                home_visits=present.home_visit_text(record, hit.visits_you),
                visits_you=hit.visits_you,
                next_step=present.next_step(record, context),
                accepting=present.accepting_text(record),
                url=practitioner_url(stored.id),
            )
        )
        _add_comparison(views[-1], outcome, shortlist, shortlist_url)
    return views


def _add_comparison(
    view: ResultView, outcome: SearchOutcome, shortlist: list[int], shortlist_url: Callable[[int], str]
) -> None:
    """The fields a GP compares across cards, and the shortlist link (works without JavaScript)."""
    record = view.stored.record
    view.wait = present.wait_text(record)
    view.fee = present.fee_text(record)
    view.setting_funding = present.setting_funding_text(record)
    view.conditions_matched, view.conditions_other, view.conditions_more = present.matched_conditions(
        record, outcome.query.filters.get("condition", ()), outcome.query.text
    )
    view.phone = record.phone or ""
    view.phone_href = present.phone_href(record.phone)
    view.on_shortlist = view.stored.id in shortlist
    view.shortlist_url = shortlist_url(view.stored.id)
    view.is_online_only = bool(record.locations) and all(loc.setting == "online" for loc in record.locations)


def map_pins(outcome: SearchOutcome) -> list[Pin]:
    pins = []
    for number, hit, stored in outcome.rows:
        nearest = present.nearest_location(stored.record, hit)
        if nearest is not None and nearest.lat is not None and nearest.lon is not None:
            pins.append(Pin(number, nearest.lat, nearest.lon, stored.record.name or "", hit.distance_km))
    return pins


def page_links(outcome: SearchOutcome) -> list[tuple[int | None, str | None]]:
    """Page numbers around the current one, with None for a gap: 1 … 4 5 [6] 7 8 … 20."""
    current, last = outcome.query.page, outcome.results.pages
    wanted = sorted({1, last, *range(max(1, current - 2), min(last, current + 2) + 1)})
    links: list[tuple[int | None, str | None]] = []
    previous = 0
    for number in wanted:
        if number - previous > 1:
            links.append((None, None))
        links.append((number, search_url(outcome.request, page=str(number) if number > 1 else "")))
        previous = number
    return links


def search_url(req: SearchRequest, **overrides: Any) -> str:
    from finder.web.shortlist import shortlist_arg

    pairs = list(req.as_args(**overrides).items(multi=True))
    if shortlist_arg():
        pairs.append(("shortlist", shortlist_arg()))  # the shortlist travels with the search (no cookies)
    query = urlencode(pairs)
    return url_for("pages.search") + (f"?{query}" if query else "")


def summary_text(outcome: SearchOutcome) -> str:
    total = outcome.results.total
    noun = "physiotherapist" if total == 1 else "physiotherapists"
    parts = [f"{total:,} {noun}"]
    if outcome.location is not None:
        parts.append(f"within {outcome.query.radius_km:g} km of {outcome.location.label}")
    if outcome.request.text:
        parts.append(f"matching “{outcome.request.text}”")
    return " ".join(parts)


def order_text(outcome: SearchOutcome) -> str:
    sort = outcome.query.sort
    if sort == "auto":
        if outcome.location is not None and (outcome.query.text or outcome.query.concepts):
            return "best match near you first (choose “Nearest first” to order by distance alone)"
        sort = "distance" if outcome.location is not None else "relevance"
    return {"distance": "nearest first", "relevance": "best match first", "name": "by name"}.get(sort, "")


def wider_radius(outcome: SearchOutcome) -> str | None:
    radius = outcome.query.radius_km
    maximum = float(current_app.config.get("SEARCH_MAX_RADIUS_KM", 200))
    if outcome.location is None or radius >= maximum:
        return None
    wider = min(maximum, max(radius * 2, 10))
    return search_url(outcome.request, radius_km=f"{wider:g}", page="")


def _safe_back(value: str | None) -> str | None:
    """Only links back to our own search page (never an address someone else chose)."""
    if value and (value.startswith("/search?") or value.startswith("/?")) and "//" not in value and "\\" not in value:
        return value
    return None


#: Which form control each parameter belongs to (for error links), and its name on the page.
FIELD_OF = {
    "near": ("field-near", "Postcode or town"),
    "lat": ("field-near", "Postcode or town"),
    "lon": ("field-near", "Postcode or town"),
    "label": ("field-near", "Postcode or town"),
    "q": ("field-q", "Condition, treatment or name"),
    "radius_km": ("field-radius", "Distance"),
    "sort": ("field-sort", "Order"),
    "per_page": ("field-per-page", "Results per page"),
    "page": ("field-q", "Page"),
    **{flag: ("filter-flags", label) for flag, label in FLAG_LABELS.items()},
    **{facet: (f"filter-{facet}", question) for facet, question in FILTER_FACETS},
}


def _render_search(template_args: dict[str, Any], status: int) -> tuple[str, int]:
    if "groups" not in template_args:  # no results to count: the filters without counts
        template_args["groups"] = facet_options(template_args["form"], None)
        template_args["flags"] = flag_options(template_args["form"], None)
    errors = template_args.get("errors") or []
    error_list = []
    error_by: dict[str, str] = {}
    for name, reason in errors:
        field_id, field_name = FIELD_OF.get(name, ("field-q", name.replace("_", " ").capitalize()))
        reason = without_controls(reason)  # a message may quote the input: no NUL into the page
        error_list.append({"id": field_id, "name": field_name, "reason": reason})
        error_by.setdefault(field_id, reason)
    template_args.update(
        error_list=error_list, error_by=error_by, filters_have_error=any(i.startswith("filter-") for i in error_by)
    )
    return render_template("search.html", **template_args), status


@bp.get("/")
def home() -> Any:
    """Home: the search form (and results when the form was submitted here)."""
    return _search_page(is_home=True)


@bp.get("/search")
def search() -> Any:
    """Search results for a place and/or a condition, treatment or name."""
    return _search_page(is_home=False)


def _search_page(*, is_home: bool) -> Any:
    form = FormState.from_args(request.args)
    default_radius = int(current_app.config.get("SEARCH_DEFAULT_RADIUS_KM", 25))
    args: dict[str, Any] = {
        "form": form,
        "default_radius": default_radius,
        "errors": [],
        "message": None,
        "candidates": None,
        "outcome": None,
        "results": [],
        "svg": None,
        # "groups" and "flags" (the filters): with their counts once there are results, else
        # without (_render_search), so a results page builds them once.
        "sort_labels": SORT_LABELS,
        "checkbox_items": checkbox_items,
        "per_page_choices": PER_PAGE_CHOICES,
        "is_home": is_home,
    }
    status = 200
    try:
        req = parse_search_args(request.args)
        if req.is_blank and is_home:
            return _render_search(args, 200)
        require_what_or_where(req)
        outcome = run_search(current_app, req)
    except MissingSearch:
        args["message"] = (
            "Type a postcode or town, or a condition, treatment or name (or both), then press Search."
        )
        args["errors"] = [("near", "Type a postcode or town, or something to look for below.")]
        return _render_search(args, 400)
    except InvalidParameters as exc:
        args["errors"] = list(exc.params)
        return _render_search(args, 400)
    except AmbiguousPlace as exc:
        req = parse_search_args(request.args)
        args["candidates"] = [
            {
                "label": c.label,
                "detail": c.detail,
                "url": search_url(req, near="", lat=f"{c.lat:.6f}", lon=f"{c.lon:.6f}", label=c.label, page=""),
            }
            for c in exc.candidates
        ]
        args["ambiguous"] = form.near
        return _render_search(args, 200)
    except LocationError as exc:
        args["errors"] = [("near", exc.detail)]
        return _render_search(args, exc.status)
    except FinderError as exc:
        if exc.status != 400:
            raise  # index or gazetteer missing: the error page explains
        args["errors"] = [("near", exc.detail)]
        return _render_search(args, 400)

    back = request.full_path.rstrip("?")
    with stage("views"):
        _search_args(args, outcome, form, req, back)
    with stage("map"):
        pins = map_pins(outcome)
        if outcome.location is not None and outcome.rows:
            args["svg"] = results_map(outcome.location, outcome.query.radius_km, pins)
            args["pins"] = pins
            args["tiles"] = current_app.config.get("MAP_TILES_URL")
    return _render_search(args, status)


def _search_args(args: dict[str, Any], outcome: SearchOutcome, form: FormState, req: SearchRequest, back: str) -> None:
    """What the results page shows besides the map: cards, filters with counts, links."""
    facets = outcome.results.facets
    args.update(
        outcome=outcome,
        results=result_views(outcome, back),
        groups=facet_options(form, facets),
        flags=flag_options(form, facets),
        summary=summary_text(outcome),
        order=order_text(outcome),
        pages=page_links(outcome) if outcome.results.pages > 1 else [],
        prev_url=search_url(req, page=str(previous) if previous > 1 else "")
        if (previous := previous_page(outcome.query.page, outcome.results.pages))
        else None,
        next_url=search_url(req, page=str(outcome.query.page + 1))
        if outcome.query.page < outcome.results.pages
        else None,
        wider_url=wider_radius(outcome),
        first_page_url=search_url(req, page=""),
        clear_filters_url=search_url(req, page="", **{name: "" for name in (*FACETS, *FLAGS)})
        if form.filter_count
        else None,
        suggestion_url=search_url(req, q=outcome.results.suggestion, page="") if outcome.results.suggestion else None,
        api_url=url_for("api.search") + "?" + urlencode(list(req.as_args().items(multi=True))),
        sort_help=SORT_HELP,
        applied=applied_filters(outcome, form),
        online_url=online_search_url(outcome),
        exports=export_urls(req),
        not_on_map=not_on_map(outcome),
        # Hazard H1: listings that may not practise are left out unless asked for, with a way back.
        include_not_practising=req.include_not_practising,
        scope_url=search_url(req, page="", include_not_practising="" if req.include_not_practising else "true"),
    )
    args.update(interpretation_args(outcome))


@dataclass
class AppliedFilter:
    label: str
    remove_url: str


def applied_filters(outcome: SearchOutcome, form: FormState) -> list[AppliedFilter]:
    """Each chosen filter with a link that searches again without it (the compact summary's chips)."""
    req = outcome.request
    chosen = []
    for flag in req.flags_set():
        chosen.append(AppliedFilter(FLAG_LABELS[flag], search_url(req, page="", **{flag: ""})))
    for facet, _question in FILTER_FACETS:
        values = req.filters.get(facet, ())
        for code in values:
            if code not in VOCABULARIES[facet]:
                continue
            rest = [v for v in values if v != code]
            overrides: dict[str, Any] = {facet: rest, "page": ""}
            chosen.append(AppliedFilter(present.label(facet, code), search_url(req, **overrides)))
    return chosen


def online_search_url(outcome: SearchOutcome) -> str | None:
    """With a place: the same search for online services anywhere (they are not "within X km")."""
    if outcome.location is None or not outcome.results.online_anywhere:
        return None
    cleared = {name: "" for name in ("near", "lat", "lon", "label", "radius_km", "visits_home", "page")}
    return search_url(outcome.request, setting=["online"], sort="", **cleared)


def export_urls(req: SearchRequest) -> dict[str, str]:
    query = urlencode(list(req.as_args(page="", per_page="").items(multi=True)))
    return {
        "csv": url_for("shortlist.search_csv") + "?" + query,
        "txt": url_for("shortlist.search_text") + "?" + query,
    }


def not_on_map(outcome: SearchOutcome) -> dict[str, int]:
    """Results on this page the picture cannot pin: home visits only (no clinic), online only, no map point."""
    counts = {"home_visits": 0, "online": 0, "other": 0}
    for _number, hit, stored in outcome.rows:
        nearest = present.nearest_location(stored.record, hit)
        if nearest is not None and nearest.lat is not None and nearest.lon is not None:
            continue
        record = stored.record
        if record.home_visits is not None and not any(loc.lat is not None for loc in record.locations):
            counts["home_visits"] += 1
        elif record.locations and all(loc.setting == "online" for loc in record.locations):
            counts["online"] += 1
        else:
            counts["other"] += 1
    return counts


def interpretation_args(outcome: SearchOutcome) -> dict[str, Any]:
    """What the words were read as, why each result matched, and next steps (finder.web.interpretation)."""
    from finder.web import interpretation

    return {
        "applied_filters": [
            {"words": f.words, "label": f.label, "remove_url": search_url(outcome.request, **f.remove_args)}
            for f in interpretation.applied_filters(outcome)
        ],
        "understood_concepts": interpretation.concept_labels(outcome),
        "dropped_words": outcome.dropped_words,
        "match_reasons": {n: interpretation.match_reasons(s.record, outcome) for n, _, s in outcome.rows},
        "search_url": search_url,
    }


def _gp_surgeries(stored: StoredPractitioner) -> dict[str, Any]:
    """NHS ODS details of GP-surgery locations, by ODS code (codes not loaded are left out)."""
    codes = [loc.ods_code for loc in stored.record.locations if loc.setting == "gp_surgery" and loc.ods_code]
    if not codes:
        return {}
    return dict(store_from(current_app).gp_surgeries(codes))


def _search_context(back: str | None) -> safety.ReferralContext:
    """What the person searched for (from the "back to results" link), so the page can say
    whether each referral route applies to it."""
    if not back:
        return safety.ReferralContext()
    args = parse_qs(urlsplit(back).query)
    return safety.referral_context(
        " ".join(args.get("q", []))[:200], {facet: args.get(facet, []) for facet in ("specialism", "condition")}
    )


def _practitioner_context(stored: StoredPractitioner, back: str | None = None) -> dict[str, Any]:
    with stage("views"):
        return _practitioner_views(stored, back)


def _practitioner_views(stored: StoredPractitioner, back: str | None) -> dict[str, Any]:
    record = stored.record
    return {
        "p": stored,
        "record": record,
        "registration": present.registration_view(record),
        "may_refer": safety.may_offer_referral(record),
        "not_practising_warning": None if safety.may_offer_referral(record) else safety.not_practising_warning(record),
        "routes": present.route_views(record),
        "next_step": present.next_step(record, _search_context(back)),
        "home_visits": present.home_visit_text(record),
        "waiting": present.waiting_text(record),
        "freshness": safety.freshness(
            (source.last_verified_on for source in stored.sources), stored.last_updated.date()
        ),
        "fees": present.fees_text(record),
        "accepting": present.accepting_text(record),
        "check_url": current_app.config["HCPC_CHECK_URL"],
        "surgeries": _gp_surgeries(stored),
        "today": date.today(),
    }


@bp.get("/practitioners/<int:practitioner_id>")
def practitioner(practitioner_id: int) -> str:
    """Everything a patient needs about one practitioner."""
    stored = load_practitioner(current_app, practitioner_id)
    back = _safe_back(request.args.get("back"))
    return render_template(
        "practitioner.html", back=back, shortlist_url=_shortlist_url(stored.id, back), **_practitioner_context(stored, back)
    )


#: A referral summary is refused (hazard H1) with this status: the request is understood, and declined.
REFERRAL_REFUSED_STATUS = 403


def _shortlist_url(practitioner_id: int, back: str | None) -> str:
    """Add to the shortlist the search page was carrying (it travels in the back link)."""
    from urllib.parse import parse_qs, urlsplit

    from finder.web.shortlist import add_url, parse_ids

    carried = parse_qs(urlsplit(back).query).get("shortlist", [""])[0] if back else ""
    return add_url(parse_ids(carried)[0], practitioner_id, back)


@bp.get("/practitioners/<int:practitioner_id>/referral")
def referral(practitioner_id: int) -> Any:
    """A printable one-page referral summary for GPs and MS nurses."""
    stored = load_practitioner(current_app, practitioner_id)
    context = _practitioner_context(stored)
    if not context["may_refer"]:
        return render_template("referral_refused.html", **context), REFERRAL_REFUSED_STATUS
    return render_template("referral.html", **context)


@bp.get("/practitioners/<int:practitioner_id>/referral.txt")
def referral_text(practitioner_id: int) -> Response:
    """The referral summary as plain text, to paste into an email or letter."""
    stored = load_practitioner(current_app, practitioner_id)
    context = _practitioner_context(stored)
    if not context["may_refer"]:
        text = render_template("referral_refused.txt", **context)
        return Response(text, status=REFERRAL_REFUSED_STATUS, mimetype="text/plain")
    text = render_template("referral.txt", **context)
    return Response(text, mimetype="text/plain")


@bp.get("/about")
def about() -> str:
    """What the directory is, where the data comes from, and how registration is checked."""
    from finder.data_quality import kept_sources_report

    store = store_from(current_app)
    stats = store.stats() if store.is_initialised() else None
    return render_template(
        "about.html",
        stats=stats,
        last_refreshed=store.last_refreshed() if stats is not None else None,
        check_url=current_app.config["HCPC_CHECK_URL"],
        vocabularies=VOCABULARIES,
        # A pass over every source's listings: kept until any source loads or any listing changes.
        data_quality=kept_sources_report(store) if stats is not None else [],
    )


@bp.get("/api")
def api_docs() -> str:
    """A short guide to the JSON API, with its problem types."""
    from finder.web.errors import PROBLEM_TYPES

    return render_template("api.html", parameters=PARAMETERS, problem_types=PROBLEM_TYPES)
