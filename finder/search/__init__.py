"""Search: the only package that imports whoosh.

Pages and the API call :func:`query` with a :class:`SearchQuery` and get
:class:`SearchResults` back (ids, scores, distances, facet counts); they load
rows from the store in that order.
"""

from __future__ import annotations

from finder.search.query import FACETS, Hit, SearchQuery, SearchResults, query

__all__ = ["FACETS", "Hit", "SearchQuery", "SearchResults", "query"]
