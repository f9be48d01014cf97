"""Fixtures local to the web tests: an app whose store holds the web records (no index needed)."""

from __future__ import annotations

from typing import Any

import pytest

from finder.db import store_from
from tests.plugins.web import seed_store, web_records


@pytest.fixture
def stored_app(app: Any) -> Any:
    """The test app with the web records in its store (no gazetteer or index)."""
    store = store_from(app)
    store.upgrade()
    seed_store(store, web_records())
    app.ids = {s.record.name.split()[0]: s.id for s in store.iter_practitioners()}
    return app


@pytest.fixture
def stored_client(stored_app: Any) -> Any:
    return stored_app.test_client()
