"""Physio Finder: a directory of UK physiotherapists and a referral finder."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from finder import config as settings
from finder.db import Store

__version__ = "0.1.0"

PACKAGE_DIR = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """``templates`` or ``data``: inside the package when installed from a wheel,
    at the repository root when running from a checkout or an editable install."""
    packaged = PACKAGE_DIR / name
    if packaged.is_dir():
        return packaged
    return PACKAGE_DIR.parent / name


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The one Flask app factory: defaults, then FINDER_* env vars, then ``config``."""
    resolved = settings.load(config)
    app = Flask(
        __name__,
        instance_path=resolved["INSTANCE_PATH"],
        template_folder=str(resource_dir("templates")),
        static_folder=None,
    )
    app.config.update(resolved)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    Store(app.config["DATABASE_URL"], row_cache_size=int(app.config.get("ROW_CACHE_SIZE") or 0)).init_app(app)

    from finder.geo import geocode

    geocode.init_app(app)  # opens the gazetteer lazily: the app starts before `finder geo build`

    from finder import search

    search.init_app(app)  # opens the index lazily: the app starts before any index exists

    from finder import web

    web.init_app(app)
    return app
