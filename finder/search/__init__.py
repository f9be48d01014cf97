"""Search: the only package that imports whoosh.

Pages and the API call :func:`query` with a :class:`SearchQuery` and get
:class:`SearchResults` back (ids, scores, distances, facet counts); they load
rows from the store in that order. The index is built from the store by
:func:`build_index` / :func:`update_index` (``finder index build|update``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from finder.search.indexer import (
    BuildReport,
    Status,
    UpdateReport,
    build_index,
    index_status,
    update_index,
)
from finder.search.query import FACETS, SORTS, CodeConcept, Hit, SearchQuery, SearchResults, query
from finder.search.searcher import EXTENSION_KEY, SearchIndex

if TYPE_CHECKING:
    from flask import Flask

__all__ = [
    "FACETS",
    "SORTS",
    "BuildReport",
    "CodeConcept",
    "Hit",
    "SearchIndex",
    "SearchQuery",
    "SearchResults",
    "Status",
    "UpdateReport",
    "build_index",
    "index_of",
    "index_status",
    "init_app",
    "query",
    "update_index",
]


def init_app(app: Flask) -> SearchIndex:
    """Put the index handle in ``app.extensions["finder.search"]``; it opens on first use."""
    index = SearchIndex(app.config["INDEX_DIR"])
    app.extensions[EXTENSION_KEY] = index
    return index


def index_of(app: Flask) -> SearchIndex:
    return app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]
