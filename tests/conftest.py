"""Shared fixtures: real stores (SQLite file and PostgreSQL), app, client, CLI runner.

PostgreSQL: each test session creates its own database on the server named by
FINDER_TEST_DATABASE_URL (default: the local server's ``test`` database as the
entry point) and drops it at the end. Set FINDER_TEST_DATABASE_URL=skip to run
without PostgreSQL (CI never does).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from finder import create_app
from finder.db import Store
from finder.models import Base

pytest_plugins = ["tests.plugins.geo", "tests.plugins.search", "tests.plugins.scrapers", "tests.plugins.web"]

PG_URL = os.environ.get("FINDER_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (dropped afterwards)."""
    if PG_URL == "skip":
        pytest.skip("PostgreSQL tests skipped (FINDER_TEST_DATABASE_URL=skip)")
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text("select 1"))
    except OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {make_url(PG_URL).render_as_string(hide_password=True)} ({exc.orig}). "
            "Start it (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) "
            "or set FINDER_TEST_DATABASE_URL=skip to run without it."
        )
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"finder_test_{worker}_{os.getpid()}_{secrets.token_hex(3)}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_store_session(pg_database_url: str) -> Iterator[Store]:
    store = Store(pg_database_url)
    store.upgrade()
    yield store
    store.dispose()


def _empty(store: Store) -> None:
    tables = ", ".join(f'"{t.name}"' for t in reversed(Base.metadata.sorted_tables))
    with store.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """A migrated SQLite store in a real file."""
    store = Store(f"sqlite:///{tmp_path / 'finder.db'}")
    store.upgrade()
    yield store
    store.dispose()


@pytest.fixture
def pg_store(pg_store_session: Store) -> Store:
    """The session's PostgreSQL store, emptied for this test."""
    _empty(pg_store_session)
    return pg_store_session


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> Store:
    """A migrated, empty store: each test using it runs on SQLite and on PostgreSQL."""
    name = "sqlite_store" if request.param == "sqlite" else "pg_store"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@pytest.fixture
def app_config(tmp_path: Path) -> dict[str, Any]:
    instance = tmp_path / "instance"
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(instance),
        "DATABASE_URL": f"sqlite:///{instance / 'finder.db'}",
        "RATELIMIT_ENABLED": False,
        "SECRET_KEY": "test",
    }


@pytest.fixture
def app(app_config: dict[str, Any]) -> Any:
    app = create_app(app_config)
    yield app


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


class _Runner:
    """Runs the real `finder` command group against the test app."""

    def __init__(self, app: Any) -> None:
        self._runner = app.test_cli_runner()

    def invoke(self, args: list[str], **kwargs: Any) -> Any:
        from finder.cli import main

        return self._runner.invoke(main, args, **kwargs)


@pytest.fixture
def runner(app: Any) -> _Runner:
    return _Runner(app)
