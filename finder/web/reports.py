""""Report a problem with this listing": a plain HTML form that stores a report for operators.

Protection, without cookies (the site sets no cookies at all):

* CSRF: the form carries a signed, time-limited token bound to the listing
  (itsdangerous with SECRET_KEY), and a POST whose ``Origin`` or
  ``Sec-Fetch-Site`` says it came from another site is refused. There is no
  login or session to ride on, so a forged post could at most file a report;
  the token and the origin check stop other sites from doing even that, and a
  session cookie would buy nothing more.
* Size: the request body is capped (REPORT_MAX_BYTES) and each field has a limit.
* Rate: finder.reports counts stored reports per sender (a keyed hash of the
  address, never the address) per hour and per listing per day, in the store,
  so every worker and host shares the count.

Reports are never shown on any page or in the API.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from finder import reports
from finder.db import store_from
from finder.errors import InvalidParameters
from finder.web.ratelimit import client_address
from finder.web.searching import load_practitioner

bp = Blueprint("reports", __name__)

#: Namespaces the signature (itsdangerous "salt"); not a secret: SECRET_KEY is.
SIGNING_NAMESPACE = "finder.report-a-problem"
#: How long a form stays valid (seconds): long enough to write, short enough to limit replay.
TOKEN_MAX_AGE = 2 * 60 * 60
DEFAULT_MAX_BYTES = 16 * 1024


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SIGNING_NAMESPACE)


def form_token(practitioner_id: int) -> str:
    return _serializer().dumps({"p": practitioner_id})


def token_problem(token: str, practitioner_id: int) -> str | None:
    """Why the form token cannot be used, or None when it is good."""
    try:
        data = _serializer().loads(token or "", max_age=TOKEN_MAX_AGE)
    except SignatureExpired:
        return "This form was open too long. Please check your report and send it again."
    except BadSignature:
        return "This form could not be checked (it may be from an old page). Please send it again."
    if not isinstance(data, dict) or data.get("p") != practitioner_id:
        return "This form belongs to another listing. Please send it again from this page."
    return None


def cross_site() -> bool:
    """The browser says the post came from another site (Fetch metadata, then Origin)."""
    if request.headers.get("Sec-Fetch-Site", "") == "cross-site":
        return True
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        return urlsplit(origin).netloc != request.host
    return False


def _page(stored: Any, *, status: int = 200, errors: list[tuple[str, str]] | None = None, values: dict[str, str] | None = None) -> tuple[str, int]:
    errors = errors or []
    return (
        render_template(
            "report_problem.html",
            p=stored,
            record=stored.record,
            kinds=reports.PROBLEM_KINDS,
            token=form_token(stored.id),
            errors=errors,
            error_by=dict(errors),
            values=values or {},
            max_details=reports.MAX_DETAILS,
            max_contact=reports.MAX_CONTACT,
        ),
        status,
    )


@bp.get("/practitioners/<int:practitioner_id>/report")
def report_form(practitioner_id: int) -> Any:
    """The "Report a problem with this listing" form."""
    return _page(load_practitioner(current_app, practitioner_id))


@bp.post("/practitioners/<int:practitioner_id>/report")
def report_submit(practitioner_id: int) -> Any:
    """Store a report and say thank you (303 to a plain page, so a reload does not send it twice)."""
    limit = int(current_app.config.get("REPORT_MAX_BYTES", DEFAULT_MAX_BYTES))
    if request.content_length is not None and request.content_length > limit:
        stored = load_practitioner(current_app, practitioner_id)
        return _page(stored, status=413, errors=[("details", f"The report is too long: at most {reports.MAX_DETAILS:,} characters.")])
    request.max_content_length = limit  # also for bodies sent without a length
    stored = load_practitioner(current_app, practitioner_id)
    if cross_site():
        return Response("Reports can only be sent from this site's own form.", status=403, mimetype="text/plain")
    form = request.form
    values = {name: (form.get(name) or "")[: reports.MAX_DETAILS + 1] for name in ("kind", "details", "contact")}
    problem = token_problem(form.get("token", ""), practitioner_id)
    if problem:
        return _page(stored, status=400, errors=[("kind", problem)], values=values)
    try:
        reports.add_report(
            store_from(current_app),
            practitioner_id,
            values["kind"],
            values["details"],
            values["contact"],
            sender=reports.sender_key(client_address(), str(current_app.config["SECRET_KEY"])),
            per_hour=int(current_app.config.get("REPORTS_PER_HOUR", reports.DEFAULT_PER_HOUR)),
            per_listing_per_day=int(
                current_app.config.get("REPORTS_PER_LISTING_PER_DAY", reports.DEFAULT_PER_LISTING_PER_DAY)
            ),
        )
    except reports.TooManyReports as exc:
        page, _ = _page(stored, errors=[("kind", reason) for _, reason in exc.params], values=values)
        return Response(page, status=429, headers={"Retry-After": "3600"}, mimetype="text/html")
    except InvalidParameters as exc:
        return _page(stored, status=400, errors=list(exc.params), values=values)
    return redirect(url_for("reports.report_sent", practitioner_id=practitioner_id), code=303)


@bp.get("/practitioners/<int:practitioner_id>/report/sent")
def report_sent(practitioner_id: int) -> str:
    """Thank you: what happens next."""
    stored = load_practitioner(current_app, practitioner_id)
    return render_template("report_sent.html", p=stored, record=stored.record)
