"""Shortlist, side-by-side comparison and exports (CSV, joined plain-text referral summaries).

No account and no cookies: the shortlist lives in the address (``/shortlist?ids=12,40,7``),
so it works without JavaScript, can be bookmarked, shared and emailed. The search page
carries it along as ``shortlist=12,40,7`` while someone keeps searching; site.js may also
keep a copy in the browser's local storage (never sent anywhere).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus, urlencode

from flask import Blueprint, Response, current_app, g, render_template, request, url_for

from finder.db import store_from
from finder.exports import csv_text
from finder.models import StoredPractitioner
from finder.web import present
from finder.web.links import site_url
from finder.web.params import parse_search_args, require_what_or_where
from finder.web.searching import MAX_ID, run_search

bp = Blueprint("shortlist", __name__)

#: Most listings a shortlist holds, and how many the comparison puts side by side.
MAX_SHORTLIST = 20
MAX_COMPARE = 5
#: Most search results one export holds (the API's largest page).
MAX_EXPORT = 100


# ---- the shortlist in the address ------------------------------------------------


def parse_ids(raw: str) -> tuple[list[int], list[str]]:
    """``"12, 40,7"`` -> ([12, 40, 7], problems). Order kept, repeats dropped, junk named."""
    ids: list[int] = []
    junk: list[str] = []
    for part in raw.replace(" ", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if part.isdigit() and 0 < int(part) <= MAX_ID:
            if int(part) not in ids:
                ids.append(int(part))
        else:
            junk.append(part[:20])
    problems = []
    if junk:
        shown = ", ".join(f"“{j}”" for j in junk[:5])
        problems.append(f"Left out {shown}: a shortlist link holds listing numbers separated by commas.")
    if len(ids) > MAX_SHORTLIST:
        problems.append(f"A shortlist holds at most {MAX_SHORTLIST} listings; the first {MAX_SHORTLIST} are kept.")
        ids = ids[:MAX_SHORTLIST]
    return ids, problems


def ids_text(ids: list[int]) -> str:
    return ",".join(str(i) for i in ids)


def shortlist_arg() -> str:
    """The shortlist a search page carries (``shortlist=1,2``), normalised; empty when none."""
    raw = request.args.get("shortlist", "")
    return ids_text(parse_ids(raw)[0]) if raw else ""


def current_shortlist() -> list[int]:
    raw = request.args.get("shortlist", "")
    return parse_ids(raw)[0] if raw else []


def add_url(shortlist: list[int], practitioner_id: int, back: str | None) -> str:
    """The shortlist page with this listing added (or already there)."""
    return add_url_maker(shortlist, back)(practitioner_id)


def add_url_maker(shortlist: list[int], back: str | None) -> Callable[[int], str]:
    """``add_url`` for the many listings of one page: what they share (the page's path and the
    long ``back`` link) is encoded once, not once per card."""
    head = _shortlist_path() + "?ids="
    tail = "&" + urlencode({"back": back}) if back else ""

    def make(practitioner_id: int) -> str:
        ids = shortlist if practitioner_id in shortlist else [*shortlist, practitioner_id][-MAX_SHORTLIST:]
        return f"{head}{quote_plus(ids_text(ids))}&added={int(practitioner_id)}{tail}"

    return make


def _shortlist_path() -> str:
    """The shortlist page's path, built once per request (a results page asks for it on every card)."""
    if "finder_shortlist_path" not in g:
        g.finder_shortlist_path = url_for("shortlist.shortlist")
    return str(g.finder_shortlist_path)


def _safe_back(value: str | None) -> str | None:
    from finder.web.pages import _safe_back as safe

    return safe(value)


def _with_shortlist(back: str | None, ids: list[int]) -> str | None:
    """The search page to go back to, carrying the shortlist as it is now."""
    if not back:
        return None
    from urllib.parse import parse_qsl, urlsplit

    parts = urlsplit(back)
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=False) if k != "shortlist"]
    if ids:
        pairs.append(("shortlist", ids_text(ids)))
    return parts.path + ("?" + urlencode(pairs) if pairs else "")


@dataclass
class Listed:
    stored: StoredPractitioner
    registration: present.RegistrationView
    distance: str = ""


def load_listed(ids: list[int]) -> tuple[list[Listed], list[int]]:
    """Listings in shortlist order, and the ids no longer listed (missing or withdrawn)."""
    found = {s.id: s for s in store_from(current_app).get_many(ids)} if ids else {}
    listed, gone = [], []
    for pid in ids:
        stored = found.get(pid)
        if stored is None or stored.withdrawn_at is not None:
            gone.append(pid)
        else:
            listed.append(Listed(stored, present.registration_view(stored.record)))
    return listed, gone


# ---- what is compared -----------------------------------------------------------


def comparison_rows(listed: list[Listed]) -> list[tuple[str, list[Any]]]:
    """(row heading, one value per listing): the card fields, then routes, hours, access, contact."""

    def each(fn: Any) -> list[Any]:
        return [fn(item.stored.record) for item in listed]

    def places(record: Any) -> list[str]:
        lines = [
            f"{present.label('setting', loc.setting)}: {address}" if (address := present.one_line_address(loc))
            else present.label("setting", loc.setting)
            for loc in record.locations
        ]
        if record.home_visits is not None:
            lines.append(present.home_visit_text(record))
        return lines

    def hours(record: Any) -> list[str]:
        return [str(loc.opening_hours) for loc in record.locations if loc.opening_hours] or ["Not stated"]

    def access(record: Any) -> list[str]:
        wheelchair = {True: "Wheelchair access", False: "No wheelchair access", None: "Wheelchair access not stated"}
        lines = [wheelchair[record.wheelchair_access]]
        if any(loc.parking for loc in record.locations):
            lines.append("Parking")
        return lines

    def conditions(record: Any) -> list[str]:
        return present.labels("condition", record.conditions) or ["Not stated"]

    return [
        ("Registration", [item.registration for item in listed]),
        ("Where", each(places)),
        ("Setting and funding", each(lambda r: present.setting_funding_text(r) or "Not stated")),
        ("New patients", each(lambda r: present.accepting_text(r) or "Not stated")),
        ("NHS waiting time", each(lambda r: present.wait_text(r) or "Not NHS-funded")),
        ("Fees", each(lambda r: present.fee_text(r) or "Not stated")),
        ("Conditions treated", each(conditions)),
        ("How to be seen", each(present.next_step)),
        ("Referral routes", each(lambda r: [v.text for v in present.route_views(r)] or ["Not stated"])),
        ("Opening hours", each(hours)),
        ("Access", each(access)),
    ]


CSV_HEADER = [
    "id", "name", "practice", "registration", "hcpc_number", "distance_km", "address", "settings", "funding",
    "accepting_new_patients", "nhs_waiting_weeks", "fee_initial_gbp", "fee_follow_up_gbp", "conditions",
    "referral_routes", "how_to_be_seen", "phone", "email", "website", "referral_email", "referral_phone",
    "page", "fictional_sample",
]


def csv_row(stored: StoredPractitioner, distance_km: float | None = None, hit: Any = None) -> list[object]:
    record = stored.record
    nearest = present.nearest_location(record, hit)
    yes_no = {True: "yes", False: "no", None: ""}
    return [
        stored.id,
        record.name,
        record.practice_name,
        present.registration_view(record).badge,
        record.registration.number,
        "" if distance_km is None else f"{distance_km:.1f}",
        present.one_line_address(nearest) if nearest is not None else "",
        "; ".join(present.labels("setting", record.settings)),
        "; ".join(present.labels("funding", record.funding)),
        yes_no[record.accepting_new_patients],
        record.nhs_waiting_weeks,
        record.fee_initial_gbp,
        record.fee_follow_up_gbp,
        "; ".join(present.labels("condition", record.conditions)),
        "; ".join(v.text for v in present.route_views(record)),
        present.next_step(record),
        record.phone,
        record.email,
        record.website,
        record.referral_email,
        record.referral_phone,
        site_url("pages.practitioner", practitioner_id=stored.id),
        yes_no[record.is_sample],
    ]


def _csv_response(rows: list[list[object]], filename: str) -> Response:
    body = "\ufeff" + csv_text(CSV_HEADER, rows)  # the BOM makes spreadsheets read it as UTF-8
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _summaries(stored_list: list[StoredPractitioner]) -> Response:
    """The plain-text referral summaries, one after another (the same template as each listing's .txt)."""
    from finder.web.pages import _practitioner_context

    parts = [render_template("referral.txt", **_practitioner_context(s)).strip() + "\n" for s in stored_list]
    body = ("\n\n".join(parts)) if parts else "No listings.\n"
    return Response(body, mimetype="text/plain")


def mailto_link(listed: list[Listed], share_url: str) -> str:
    """``mailto:`` with a subject and a short summary of each listing, then the link."""
    lines = ["Physiotherapists I have shortlisted on Physio Finder:", ""]
    for number, item in enumerate(listed, 1):
        record = item.stored.record
        where = present.nearest_location(record, None)
        bits = [record.name or "", record.practice_name or "", (where.town or where.postcode or "") if where else ""]
        lines.append(f"{number}. " + ", ".join(b for b in bits if b))
        if record.phone:
            lines.append(f"   Phone {record.phone}")
        lines.append(f"   {present.next_step(record)}")
    if any(item.stored.record.is_sample for item in listed):
        lines += ["", "NOTE: these are FICTIONAL sample listings for a demonstration."]
    lines += ["", "Compare them side by side:", share_url]
    body = "\n".join(lines)[:1800]
    return "mailto:?subject=" + quote("Physiotherapist shortlist") + "&body=" + quote(body)


# ---- pages -------------------------------------------------------------------------


def _requested_ids() -> tuple[list[int], list[str]]:
    raw = ",".join(request.args.getlist("ids"))
    return parse_ids(raw)


@bp.get("/shortlist")
def shortlist() -> Any:
    """The shortlist: listings kept from searches, with compare, export, share and email."""
    ids, problems = _requested_ids()
    listed, gone = load_listed(ids)
    ids = [item.stored.id for item in listed]
    back = _with_shortlist(_safe_back(request.args.get("back")), ids)
    query = ids_text(ids)

    def without(pid: int) -> str:
        rest = [i for i in ids if i != pid]
        params = {"ids": ids_text(rest)}
        if back:
            params["back"] = back
        return url_for("shortlist.shortlist") + "?" + urlencode(params)

    share_url = site_url("shortlist.shortlist", ids=query) if ids else ""
    compare_url = url_for("shortlist.compare", ids=query) if ids else ""
    added = request.args.get("added", "")
    return render_template(
        "shortlist.html",
        listed=listed,
        gone=gone,
        problems=problems,
        back=back,
        remove_urls={item.stored.id: without(item.stored.id) for item in listed},
        added=int(added) if added.isdigit() and int(added) in ids else None,
        ids=query,
        share_url=share_url,
        compare_url=compare_url,
        csv_url=url_for("shortlist.shortlist_csv", ids=query) if ids else "",
        txt_url=url_for("shortlist.shortlist_text", ids=query) if ids else "",
        mailto=mailto_link(listed, site_url("shortlist.compare", ids=query)) if ids else "",
        max_compare=MAX_COMPARE,
        max_shortlist=MAX_SHORTLIST,
    )


@bp.get("/compare")
def compare() -> Any:
    """Up to five shortlisted listings side by side (prints on A4)."""
    ids, problems = _requested_ids()
    listed, gone = load_listed(ids)
    more = max(0, len(listed) - MAX_COMPARE)
    listed = listed[:MAX_COMPARE]
    query = ids_text([item.stored.id for item in listed])
    return render_template(
        "compare.html",
        listed=listed,
        gone=gone,
        problems=problems,
        more=more,
        rows=comparison_rows(listed),
        shortlist_url=url_for("shortlist.shortlist", ids=ids_text(ids)) if ids else url_for("shortlist.shortlist"),
        csv_url=url_for("shortlist.shortlist_csv", ids=query) if listed else "",
        txt_url=url_for("shortlist.shortlist_text", ids=query) if listed else "",
        mailto=mailto_link(listed, site_url("shortlist.compare", ids=query)) if listed else "",
        max_compare=MAX_COMPARE,
    )


@bp.get("/shortlist.csv")
def shortlist_csv() -> Response:
    """The shortlist as a spreadsheet (CSV, every cell guarded against formulas)."""
    listed, _gone = load_listed(_requested_ids()[0])
    return _csv_response([csv_row(item.stored) for item in listed], "physio-shortlist.csv")


@bp.get("/shortlist.txt")
def shortlist_text() -> Response:
    """The shortlist's referral summaries as one plain-text document."""
    listed, _gone = load_listed(_requested_ids()[0])
    return _summaries([item.stored for item in listed])


def _export_search() -> Any:
    args = request.args.copy()
    args["page"] = "1"
    args["per_page"] = str(MAX_EXPORT)
    req = parse_search_args(args)
    require_what_or_where(req)
    return run_search(current_app, req)


@bp.get("/search.csv")
def search_csv() -> Response:
    """The first 100 results of a search as a spreadsheet (CSV)."""
    outcome = _export_search()
    rows = [csv_row(stored, hit.distance_km, hit) for _n, hit, stored in outcome.rows]
    return _csv_response(rows, "physio-search.csv")


@bp.get("/search.txt")
def search_text() -> Response:
    """The referral summaries of the first 100 results, as one plain-text document."""
    outcome = _export_search()
    return _summaries([stored for _n, _hit, stored in outcome.rows])
