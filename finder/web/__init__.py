"""HTML pages and the JSON API; both call finder.search and the store, never SQL or Whoosh."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, g

from finder import __version__, resource_dir


def _has_sample_records(app: Flask) -> bool:
    """Whether to show the fictional-data banner (once per request; a store not set up counts as no)."""
    if "finder_sample" not in g:
        from finder.db import store_from
        from finder.web.searching import request_seq

        try:
            g.finder_sample = store_from(app).has_sample_records(seq=request_seq(app))
        except Exception:  # no tables yet: the page still renders, and says what to do
            app.logger.warning("could not check for sample records", exc_info=True)
            g.finder_sample = False
    return bool(g.finder_sample)


def init_app(app: Flask) -> None:
    """Register blueprints, error handlers and response headers."""
    from finder.web import api, errors, headers, links, pages, present, reports, shortlist, timing
    from finder.web.params import AsciiIntegerConverter

    timing.init_app(app)  # first: its clock starts before, and its header is set after, every other hook

    app.url_map.converters["int"] = AsciiIntegerConverter  # before any route is added
    links.init_app(app)

    assets = Blueprint(
        "assets", __name__, static_folder=str(resource_dir("templates") / "static"), static_url_path="/static"
    )
    app.register_blueprint(assets)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(shortlist.bp)
    app.register_blueprint(reports.bp)
    from finder.web import oruk

    app.register_blueprint(oruk.bp)
    errors.init_app(app)
    # Compression runs after the headers hook (after-request hooks run in reverse order): the ETag is
    # the uncompressed body's, with ":br"/":gzip" added, and a conditional request gets its 304 either way.
    from flask_compress import Compress

    Compress(app)
    headers.init_app(app)

    # Operations (production serving): request logs, health/readiness, rate limits.
    from finder.web import health, ratelimit, requestlog

    requestlog.init_app(app)
    app.register_blueprint(health.bp)
    ratelimit.init_app(app)

    app.add_template_filter(present.uk_date, "uk_date")
    app.add_template_filter(present.distance_text, "distance")
    app.add_template_filter(present.money, "money")
    app.add_template_filter(present.external_url, "external_url")
    app.add_template_filter(present.one_line_address, "one_line_address")
    app.add_template_filter(present.address_lines, "address_lines")
    app.add_template_filter(present.join_words, "join_words")
    app.add_template_filter(present.phone_href, "tel")
    app.add_template_filter(present.open_status, "open_status")
    from finder.hours import clock

    app.add_template_filter(clock, "clock")

    @app.context_processor
    def site_context() -> dict[str, Any]:
        return {
            "sample_data": _has_sample_records(app),
            "version": __version__,
            "vocab_label": present.label,
            "vocab_labels": present.labels,
        }
