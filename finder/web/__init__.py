"""HTML pages and the JSON API; both call finder.search and the store, never SQL or Whoosh."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register blueprints, error handlers and response headers."""
