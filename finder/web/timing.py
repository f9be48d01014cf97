"""Where a request's time goes: named stages, reported in a ``Server-Timing`` header when asked for.

The search path marks its stages (``with stage("search"): ...``): place lookup,
reading the words, the index query, loading the listed rows, building the card
views, the map, and template rendering. ``total`` runs from the first
before-request hook to the last after-request hook; ``other`` is the part of it
no stage claims (routing, parameter checks, headers, ETag, request log).

The header is off by default (``SERVER_TIMING``; ``FINDER_SERVER_TIMING=true``):
``benchmarks/load.py`` switches it on and prints the breakdown per request kind.
Measuring costs two ``perf_counter`` calls per stage, so stages are always
timed; only the header is optional.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from time import perf_counter

from flask import Flask, Response, before_render_template, g, has_request_context, template_rendered

#: The stages in the order they happen (the header lists them in this order).
STAGES = ("place", "understand", "search", "rows", "views", "map", "render")


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Time the block as ``name`` (added up when a stage runs more than once in a request)."""
    start = perf_counter()
    try:
        yield
    finally:
        if has_request_context():
            spent = g.setdefault("finder_stages", {})
            spent[name] = spent.get(name, 0.0) + perf_counter() - start


def header_value(stages: dict[str, float], total: float) -> str:
    """``place;dur=0.41, search;dur=1.20, ..., other;dur=0.90, total;dur=6.02`` (milliseconds)."""
    known = [name for name in STAGES if name in stages] + sorted(set(stages) - set(STAGES))
    parts = [f"{name};dur={stages[name] * 1000:.2f}" for name in known]
    other = max(0.0, total - sum(stages.values()))
    parts.append(f"other;dur={other * 1000:.2f}")
    parts.append(f"total;dur={total * 1000:.2f}")
    return ", ".join(parts)


def init_app(app: Flask) -> None:
    """Register first, so the start is taken before, and the header set after, every other hook."""
    if not app.config.get("SERVER_TIMING"):
        return

    @app.before_request
    def start_clock() -> None:
        g.finder_started = perf_counter()

    # Template rendering, wherever a view renders one (the signals fire around Flask's render_template).
    def rendering(sender: Flask, **_: object) -> None:
        g.finder_render_started = perf_counter()

    def rendered(sender: Flask, **_: object) -> None:
        started = g.pop("finder_render_started", None)
        if started is not None:
            spent = g.setdefault("finder_stages", {})
            spent["render"] = spent.get("render", 0.0) + perf_counter() - started

    before_render_template.connect(rendering, app, weak=False)
    template_rendered.connect(rendered, app, weak=False)

    @app.after_request  # after-request hooks run in reverse order: this one runs last
    def add_header(response: Response) -> Response:
        started = g.get("finder_started")
        if started is not None:
            response.headers["Server-Timing"] = header_value(g.get("finder_stages", {}), perf_counter() - started)
        return response
