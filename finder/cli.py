"""The ``finder`` command: thin click wrappers over plain, tested functions.

Each command builds the app (settings from FINDER_* env vars), calls one plain
function and prints its report. Domain errors become ClickException messages:
no tracebacks for things an operator can fix.
"""

from __future__ import annotations

import csv
import json
import logging
import sys
from collections.abc import Callable, Iterator
from functools import wraps
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup

from finder import create_app
from finder.db import Store, store_from
from finder.errors import FinderError
from finder.ingest import IngestReport, PostcodeLookup, SourceItem, ingest


def _store() -> Store:
    return store_from(current_app)


def domain_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn FinderError into a one-line ClickException (exit status 1)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except FinderError as exc:
            raise click.ClickException(exc.detail) from None

    return wrapper


def _create_app() -> Flask:
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False, add_version_option=False)
@click.option("-v", "--verbose", is_flag=True, help="Log progress details to stderr.")
def main(verbose: bool) -> None:
    """Physio Finder: a directory of UK physiotherapists and a referral finder.

    Settings come from FINDER_* environment variables (see the README);
    by default everything lives under ./instance (SQLite + Whoosh, offline).

    \b
    Quick start:
      finder demo            # sample data, index, site on http://127.0.0.1:5000
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


# ---------------------------------------------------------------------------
# store


def init_db(store: Store) -> str:
    """Create or migrate the schema; returns the revision now in place."""
    store.upgrade()
    return store.revision() or ""


@main.command("init-db")
@domain_errors
def init_db_command() -> None:
    """Create the store, or migrate it to the latest schema (safe to rerun).

    \b
    Example:
      FINDER_DATABASE_URL=postgresql+psycopg://localhost/finder finder init-db
    """
    store = _store()
    revision = init_db(store)
    click.echo(f"Store ready at {store.engine.url.render_as_string(hide_password=True)} (schema {revision}).")


def require_schema(store: Store) -> None:
    if not store.is_initialised():
        raise FinderError("the store has no tables yet: run `finder init-db` first")


def format_stats(stats: dict[str, Any]) -> str:
    from finder.vocab import VOCABULARIES

    lines = [f"{stats['total']} listings ({stats['sample']} fictional sample, {stats['home_visits']} visit homes)"]
    for facet in ("specialism", "setting", "funding", "registration_status"):
        vocab = VOCABULARIES[facet]
        lines.append(f"\n{vocab.label}:")
        counts = stats[facet]
        for code in vocab:
            if counts.get(code):
                lines.append(f"  {counts[code]:>7}  {code}")
    return "\n".join(lines)


@main.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@domain_errors
def stats_command(as_json: bool) -> None:
    """Counts by specialism, setting, funding and registration status.

    \b
    Example:
      finder stats --json
    """
    store = _store()
    require_schema(store)
    stats = store.stats()
    click.echo(json.dumps(stats, indent=2) if as_json else format_stats(stats))


# ---------------------------------------------------------------------------
# ingest


def postcode_lookup(app: Flask, *, required: bool) -> PostcodeLookup | None:
    """The gazetteer's postcode lookup, or None when geocoding is switched off."""
    try:
        from finder.geo.gazetteer import open_gazetteer
    except ImportError:  # pragma: no cover - geo package not installed yet
        if required:
            raise FinderError("postcode lookup is not available in this build") from None
        return None
    path = Path(app.config["GAZETTEER_PATH"])
    if not path.exists():
        if required:
            raise FinderError(
                f"the postcode gazetteer is not built yet ({path}): run `finder geo build` "
                "(offline, about half a minute), or pass --no-geocode to import without coordinates"
            )
        return None
    return open_gazetteer(path).postcode_point


def write_rejects(path: Path, items: list[SourceItem]) -> int:
    """Write rejected rows with their reasons (formula-safe CSV); returns rows written."""
    from finder.exports import csv_safe

    columns: list[str] = []
    for item in items:
        for key in item.raw or {}:
            if key not in columns:
                columns.append(key)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "problems", *columns])
        for item in items:
            raw = item.raw or {}
            writer.writerow(
                [item.row, "; ".join(str(p) for p in item.problems)]
                + [csv_safe(str(raw.get(c, "") if raw.get(c) is not None else "")) for c in columns]
            )
    return len(items)


def print_report(report: IngestReport, *, limit: int = 200) -> None:
    for problem in report.problems[:limit]:
        click.echo(f"  {problem}", err=True)
    if len(report.problems) > limit:
        click.echo(f"  ... and {len(report.problems) - limit} more problems", err=True)
    click.echo(report.summary())


def run_ingest(
    items: Iterator[SourceItem],
    *,
    source: str,
    input_name: str,
    partial: bool,
    geocode: bool,
    rejects: Path | None,
    complete: bool = False,
) -> IngestReport:
    """Shared body of every `finder ingest ...` command."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    store = _store()
    require_schema(store)
    lookup = postcode_lookup(app, required=geocode)
    report = ingest(
        store,
        items,
        source=source,
        input_name=input_name,
        partial=partial,
        complete=complete,
        geocode=lookup,
        progress=sys.stderr.isatty(),
    )
    print_report(report)
    if report.rejected_items and partial and rejects is not None:
        written = write_rejects(rejects, [i for i in report.rejected_items if i.row is not None])
        click.echo(f"Wrote {written} rejected row(s) with reasons to {rejects}")
    if not report.written:
        raise click.exceptions.Exit(1)
    return report


@main.group("ingest")
def ingest_group() -> None:
    """Load practitioner listings into the store."""


def _ingest_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--partial", is_flag=True, help="Write the valid rows and put the rejected ones (with reasons) in a rejects file."
    )(func)
    func = click.option(
        "--rejects",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Where --partial writes rejected rows (default: PATH.rejects.csv).",
    )(func)
    func = click.option("--no-geocode", is_flag=True, help="Do not look up coordinates from postcodes.")(func)
    func = click.option("--source", default=None, help="Source name recorded as provenance (default: csv / json).")(func)
    return func


@ingest_group.command("csv")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_ingest_options
@domain_errors
def ingest_csv_command(path: Path, partial: bool, rejects: Path | None, no_geocode: bool, source: str | None) -> None:
    """Import the operator's CSV file (columns: see data/import-template.csv and the README).

    All-or-nothing by default: one bad row and nothing is written (exit 1).

    \b
    Example:
      finder ingest csv practitioners.csv
      finder ingest csv practitioners.csv --partial --rejects bad-rows.csv
    """
    from scrapers.csv_import import read_csv

    name = source or "csv"
    run_ingest(
        read_csv(path, source=name),
        source=name,
        input_name=str(path),
        partial=partial,
        geocode=not no_geocode,
        rejects=rejects or path.with_suffix(".rejects.csv"),
    )


@ingest_group.command("json")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_ingest_options
@domain_errors
def ingest_json_command(path: Path, partial: bool, rejects: Path | None, no_geocode: bool, source: str | None) -> None:
    """Import a JSON array of records (the API's record shape).

    \b
    Example:
      finder ingest json practitioners.json --partial
    """
    from scrapers.json_import import read_json

    name = source or "json"
    run_ingest(
        read_json(path, source=name),
        source=name,
        input_name=str(path),
        partial=partial,
        geocode=not no_geocode,
        rejects=rejects or path.with_suffix(".rejects.csv"),
    )


@ingest_group.command("columns")
def ingest_columns_command() -> None:
    """Print the CSV column guide (Markdown), as in the README."""
    from scrapers.csv_import import column_guide_markdown

    click.echo(column_guide_markdown())


if __name__ == "__main__":  # pragma: no cover
    main()
