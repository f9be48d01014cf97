"""Health and readiness: ``/healthz`` and ``/readyz`` for load balancers, orchestrators and people on call.

``/healthz``: can this process serve anything? 200 while the store answers
(practitioner pages, the about page and the API's records work); the body
names each part and whether it is usable, with ``status`` ``ok`` or
``degraded`` (index or gazetteer missing: searches or place names fail with a
clear 503 until they are built). 503 problem+json when the store does not
answer, naming it.

``/readyz``: should this host get traffic? 200 only when the store, the search
index and the gazetteer are all usable; otherwise 503 problem+json naming what
is missing and what to run. Asking also opens the index and the gazetteer in
this worker, so a new host warms up on its readiness probe rather than on a
patient's first search.

Both answer JSON, are never cached, are not rate limited, and are logged at
debug level. Nothing in them is secret (no database address or credentials); the
messages do name the index and gazetteer paths the app looked at, because that
is what an operator needs to see. Restrict them to your network at the proxy if
you prefer not to show those.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app

from finder import __version__
from finder.errors import FinderError

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)

EXTENSION_KEY = "finder.health"
#: The parts /readyz needs, in the order they are reported.
PARTS = ("store", "index", "gazetteer")


def _failure(exc: Exception) -> str:
    """A short, safe description of why a part is not usable (no addresses or credentials)."""
    if isinstance(exc, FinderError):
        return exc.detail
    # Driver messages can quote the database address; the class name is enough here,
    # the full error goes to the server log.
    return f"{type(exc).__name__}: not reachable (details in the server log)"


def _schema_head(app: Flask) -> str | None:
    """The newest migration this code knows (read once per process: it parses the migration scripts)."""
    state = app.extensions.setdefault(EXTENSION_KEY, {})
    if "head" not in state:
        from finder.db import store_from

        state["head"] = store_from(app).head_revision()
    return state["head"]  # type: ignore[no-any-return]


def check_store(app: Flask) -> dict[str, Any]:
    """The store answers, its schema is current, and how many listings it holds."""
    from finder.db import store_from

    store = store_from(app)
    try:
        if not store.is_initialised():
            return {
                "ok": False,
                "backend": store.backend,
                "problem": "the store has no tables yet: run `finder init-db` (then load listings)",
            }
        revision = store.revision()
        head = _schema_head(app)
        listings = store.count()
    except Exception as exc:
        log.warning("health: the store is not usable", exc_info=True)
        return {"ok": False, "backend": store.backend, "problem": _failure(exc)}
    result: dict[str, Any] = {
        "ok": revision == head,
        "backend": store.backend,
        "schema": revision,
        "listings": listings,
    }
    if revision != head:
        result["problem"] = f"the store's schema is at {revision}, this code needs {head}: run `finder init-db`"
    return result


def check_index(app: Flask, *, store_listings: int | None = None) -> dict[str, Any]:
    """The search index opens in this worker; its build, size and age."""
    from finder.search import index_of

    try:
        with index_of(app).snapshot() as snapshot:
            meta = snapshot.meta
            documents = snapshot.documents
            name = snapshot.name
    except Exception as exc:
        if not isinstance(exc, FinderError):
            log.warning("health: the search index is not usable", exc_info=True)
        return {"ok": False, "problem": _failure(exc)}
    built_at = _parse_time(meta.get("built_at"))
    result: dict[str, Any] = {
        "ok": True,
        "build": name,
        "documents": documents,
        "built_at": built_at.isoformat() if built_at else None,
        "age_seconds": round((datetime.now(UTC) - built_at).total_seconds()) if built_at else None,
        "kind": meta.get("kind"),
    }
    if store_listings is not None:
        # Informational: listings loaded since the build appear after `finder index update`.
        result["store_listings"] = store_listings
        result.update(_index_lag(app, int(meta.get("store_seq", 0))))
    return result


def _index_lag(app: Flask, indexed_seq: int) -> dict[str, Any]:
    """How far the index this worker serves is behind the store (finder.changes); not ok beyond the bound."""
    from finder.db import store_from

    try:
        pending = store_from(app).pending_changes(indexed_seq)
    except Exception:  # noqa: BLE001 - the store check reports the store's own failure
        log.warning("health: could not read the store's change log", exc_info=True)
        return {}
    lag = pending.age_seconds()
    bound = float(app.config.get("INDEX_MAX_LAG_SECONDS", 60))
    result: dict[str, Any] = {
        "indexed_seq": indexed_seq,
        "store_seq": pending.seq,
        "behind_writes": pending.count,
        "lag_seconds": round(lag, 1),
        "max_lag_seconds": bound,
    }
    if pending.count and lag > bound:
        result["ok"] = False
        result["problem"] = (
            f"the index is {pending.count} store write(s) behind, the oldest {lag:.0f} s ago "
            f"(allowed {bound:g} s): run `finder index update`, or check this host's `finder index follow`"
        )
    return result


def check_gazetteer(app: Flask) -> dict[str, Any]:
    """The postcode and place gazetteer opens; when it was built and which areas it covers."""
    from finder.geo.geocode import geocoder_from

    try:
        gazetteer = geocoder_from(app).gazetteer()
        meta = gazetteer.meta
        areas = sum(1 for area in gazetteer.areas.values() if area.units)
    except Exception as exc:
        if not isinstance(exc, FinderError):
            log.warning("health: the gazetteer is not usable", exc_info=True)
        return {"ok": False, "problem": _failure(exc)}
    if not areas:
        return {"ok": False, "problem": "the gazetteer holds no postcode areas: run `finder geo build`"}
    return {
        "ok": True,
        "built_at": meta.get("built_at"),
        "postcode_areas": areas,
        "coverage": "all" if gazetteer.built_areas is None else "partial",
    }


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def health_report(app: Flask) -> dict[str, Any]:
    """Every part's state: ``{"status": ..., "checks": {"store": {...}, "index": {...}, "gazetteer": {...}}}``."""
    store = check_store(app)
    checks = {
        "store": store,
        "index": check_index(app, store_listings=store.get("listings")),
        "gazetteer": check_gazetteer(app),
    }
    missing = [part for part in PARTS if not checks[part]["ok"]]
    if "store" in missing:
        status = "unavailable"
    elif missing:
        status = "degraded"
    else:
        status = "ok"
    return {"status": status, "version": __version__, "missing": missing, "checks": checks}


def warm_up(app: Flask) -> dict[str, Any]:
    """Open the index and the gazetteer and prime the about page's counts and data-quality
    report, before any request.

    gunicorn calls this in each new worker (gunicorn.conf.py, post_worker_init),
    so no patient waits for a cold worker: opening the index, the gazetteer and
    counting the listings for the about page otherwise land on the first
    requests a worker serves (0.6 s for the counts alone at 60,000 listings, and
    40-60 ms for the data-quality pass).
    Never fails: a site without an index yet must still start, and say so.
    """
    started = time.perf_counter()
    with app.app_context():
        report = health_report(app)
        if report["checks"]["store"]["ok"]:
            from finder.data_quality import kept_sources_report
            from finder.db import store_from

            try:
                store = store_from(app)
                store.stats()
                kept_sources_report(store)
            except Exception:  # noqa: BLE001 - warming is best effort; the page reports real errors
                log.warning("warm-up: could not count the listings", exc_info=True)
    seconds = time.perf_counter() - started
    if report["missing"]:
        log.warning("worker warmed up in %.2f s; not ready: %s missing", seconds, ", ".join(report["missing"]))
    else:
        log.info("worker warmed up in %.2f s (index %s)", seconds, report["checks"]["index"]["build"])
    return report


def _json(body: dict[str, Any], status: int) -> Response:
    response = Response(json.dumps(body, ensure_ascii=False, indent=1), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def _unavailable(report: dict[str, Any], what: str) -> Response:
    from finder.web.errors import problem_response

    reasons = "; ".join(f"{part}: {report['checks'][part]['problem']}" for part in report["missing"])
    response = problem_response(
        503,
        "unavailable",
        f"{what}. Missing {reasons}",
        title="Service not ready",
        health=report["status"],
        missing=report["missing"],
        checks=report["checks"],
        version=report["version"],
    )
    response.headers["Cache-Control"] = "no-store"
    # Tell a prober (or a person) when asking again is worth it.
    response.headers["Retry-After"] = "30"
    return response


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness with details: 200 while the store answers (``status`` says if search is degraded)."""
    report = health_report(current_app)
    if "store" in report["missing"]:
        return _unavailable(report, "Cannot serve: the store is not usable")
    return _json(report, 200)


@bp.get("/readyz")
def readyz() -> Response:
    """Readiness: 200 only when the store, the search index and the gazetteer are all usable."""
    report = health_report(current_app)
    if report["missing"]:
        return _unavailable(report, "Not ready for traffic")
    return _json({**report, "status": "ready"}, 200)

