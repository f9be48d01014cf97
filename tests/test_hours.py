"""Opening hours end to end: parser, text round trip, open-now across a clock change,
ORUK schedules, CSV import report, migration of stored free text, API and page."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from finder.db import Store
from finder.hours import (
    OpeningHours,
    from_schedules,
    kept_as_note,
    parse_hours,
    status_at,
    to_schedules,
)
from finder.ingest import ingest
from scrapers.csv_import import parse_csv
from tests.helpers import csv_bytes, csv_row, make_record


def _week(hours: OpeningHours | None) -> dict[str, list[str]]:
    assert hours is not None
    found: dict[str, list[str]] = {}
    for interval in hours.intervals:
        found.setdefault(interval.day[:3], []).append(f"{interval.opens}-{interval.closes}")
    return found


WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


@pytest.mark.parametrize(
    ("written", "week", "note"),
    [
        ("Mon-Fri 9:00-17:00; Sat 9-12", {**{d: ["09:00-17:00"] for d in WEEKDAYS}, "sat": ["09:00-12:00"]}, None),
        ("Monday to Friday 9am to 5pm", {d: ["09:00-17:00"] for d in WEEKDAYS}, None),
        ("Tue, Thu 08:30-12:00 & 13:00-18:00", {d: ["08:30-12:00", "13:00-18:00"] for d in ("tue", "thu")}, None),
        ("24 hours", {d: ["00:00-24:00"] for d in [*WEEKDAYS, "sat", "sun"]}, None),
        ("Mon–Fri 9-5 (closed bank holidays)", {d: ["09:00-17:00"] for d in WEEKDAYS}, "closed bank holidays"),
        ("Tue and Thu 18:00-21:00, Sat 9:00-12:00", {"tue": ["18:00-21:00"], "thu": ["18:00-21:00"], "sat": ["09:00-12:00"]}, None),
        ("Weekdays 0830-1800", {d: ["08:30-18:00"] for d in WEEKDAYS}, None),
        ("Sat 9.30am - 12.30pm", {"sat": ["09:30-12:30"]}, None),
        ("Mon 9-12, 14-17", {"mon": ["09:00-12:00", "14:00-17:00"]}, None),
    ],
)
def test_common_ways_of_writing_hours_are_read(written: str, week: dict[str, list[str]], note: str | None) -> None:
    hours = parse_hours(written)
    assert _week(hours) == week
    assert hours is not None and hours.note == note
    assert not kept_as_note(hours)
    # What we write back reads back as the same hours (CSV export, downgrade).
    assert parse_hours(str(hours)) == hours


@pytest.mark.parametrize("written", ["By appointment", "Evenings and weekends, phone first", "Fri 22:00-02:00", "Mon 9-12 & 11-13"])
def test_what_cannot_be_read_is_kept_word_for_word(written: str) -> None:
    hours = parse_hours(written)
    assert hours is not None and hours.intervals == () and hours.note == written
    assert kept_as_note(hours)
    assert str(hours) == written


def test_blank_hours_are_none() -> None:
    assert parse_hours("  ") is None and parse_hours(None) is None


WEEKDAY_HOURS = parse_hours("Mon-Fri 9:00-17:00; Sat 9-12")


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        # Spring forward: Sunday 29 March 2026, 01:00 GMT becomes 02:00 BST.
        ("2026-03-27T08:30:00", "Opens today 9:00"),  # Friday 08:30 GMT
        ("2026-03-30T08:30:00", "Open now, closes 17:00"),  # Monday 09:30 BST
        ("2026-03-30T16:30:00", "Opens tomorrow 9:00"),  # Monday 17:30 BST: closed
        ("2026-03-28T11:30:00", "Open now, closes 12:00"),  # Saturday 11:30 GMT
        ("2026-03-28T12:30:00", "Opens Monday 9:00"),  # Saturday 12:30 GMT
        # Fall back: Sunday 25 October 2026, 02:00 BST becomes 01:00 GMT.
        ("2026-10-23T16:30:00", "Opens tomorrow 9:00"),  # Friday 17:30 BST
        ("2026-10-26T16:30:00", "Open now, closes 17:00"),  # Monday 16:30 GMT
        ("2026-10-25T12:00:00", "Opens tomorrow 9:00"),  # Sunday
        ("2026-10-24T10:30:00", "Open now, closes 12:00"),  # Saturday 11:30 BST
        ("2026-10-24T11:30:00", "Opens Monday 9:00"),  # Saturday 12:30 BST
    ],
)
def test_open_now_is_uk_local_time_on_both_sides_of_a_clock_change(utc: str, expected: str) -> None:
    moment = datetime.fromisoformat(utc).replace(tzinfo=UTC)
    assert status_at(WEEKDAY_HOURS, moment) == expected


def test_the_same_utc_instant_differs_across_the_change() -> None:
    # 08:30 UTC on a Monday: 08:30 GMT in winter (closed), 09:30 BST in summer (open).
    winter = status_at(WEEKDAY_HOURS, datetime(2026, 3, 23, 8, 30, tzinfo=UTC))
    summer = status_at(WEEKDAY_HOURS, datetime(2026, 3, 30, 8, 30, tzinfo=UTC))
    assert (winter, summer) == ("Opens today 9:00", "Open now, closes 17:00")


def test_open_round_the_clock_and_no_times() -> None:
    assert status_at(parse_hours("24 hours"), datetime(2026, 1, 1, tzinfo=UTC)) == "Open 24 hours"
    assert status_at(parse_hours("By appointment"), datetime(2026, 1, 1, tzinfo=UTC)) == ""


def test_schedules_written_and_read_back() -> None:
    hours = parse_hours("Mon-Fri 9:00-17:00; Sat 9-12 (closed bank holidays)")
    schedules = to_schedules(hours)
    assert [(s["byday"], s["opens_at"], s["closes_at"]) for s in schedules] == [
        ("MO,TU,WE,TH,FR", "09:00:00", "17:00:00"),
        ("SA", "09:00:00", "12:00:00"),
    ]
    assert all(s["freq"] == "WEEKLY" and s["notes"] == "closed bank holidays" for s in schedules)
    assert from_schedules(schedules) == hours
    note_only = parse_hours("By appointment")
    assert from_schedules(to_schedules(note_only)) == note_only
    always = parse_hours("24 hours")
    assert from_schedules(to_schedules(always)) == always


def test_schedules_outside_their_validity_are_left_out() -> None:
    schedules = [
        {"byday": "MO,WE", "opens_at": "09:00", "closes_at": "12:30", "valid_from": "2026-01-01", "valid_to": "2026-12-31"},
        {"byday": "TU", "opens_at": "10:00:00", "closes_at": "11:00:00", "valid_to": "2025-12-31"},
        {"byday": "TH", "opens_at": "10:00", "closes_at": "11:00", "valid_from": "2027-01-01"},
        {"freq": "MONTHLY", "byday": "1FR", "opens_at": "10:00", "closes_at": "11:00", "description": "First Friday of the month 10-11"},
    ]
    hours = from_schedules(schedules, today=date(2026, 6, 1))
    assert _week(hours) == {"mon": ["09:00-12:30"], "wed": ["09:00-12:30"]}
    assert hours is not None and hours.note == "First Friday of the month 10-11"


def test_csv_import_reads_hours_and_counts_what_it_kept_as_text(sqlite_store: Store) -> None:
    rows = [
        csv_row(source_id="a", hcpc_number="PH9900001", opening_hours="Monday to Friday 9am to 5pm"),
        csv_row(source_id="b", hcpc_number="PH9900002", opening_hours="Ring for an appointment"),
        csv_row(source_id="c", hcpc_number="PH9900003", opening_hours=""),
    ]
    report = ingest(sqlite_store, parse_csv(csv_bytes(rows)), source="csv")
    assert report.written and report.hours_as_note == 1
    assert "opening hours at 1 location(s) could not be read as times and were kept as written" in report.summary()
    stored = {s.record.provenance.source_id: s.record.locations[0].opening_hours for s in sqlite_store.iter_practitioners()}
    assert _week(stored["a"]) == {d: ["09:00-17:00"] for d in WEEKDAYS}
    assert stored["b"] == OpeningHours(note="Ring for an appointment")
    assert stored["c"] is None


def test_migration_0004_reads_existing_free_text(tmp_path: Path) -> None:
    from alembic import command

    store = Store(f"sqlite:///{tmp_path / 'old.db'}")
    with store.engine.begin() as connection:
        command.upgrade(store._alembic_config(connection), "0002")
    with store.engine.begin() as connection:
        connection.execute(text("INSERT INTO practitioners (id, name, languages, memberships, registration_status, specialisms, "
                                "conditions, treatments, funding, referral_routes, is_sample, created_at, updated_at) VALUES "
                                "(1, 'Old', '[]', '[]', 'unchecked', '[]', '[]', '[]', '[]', '[]', 0, '2026-01-01', '2026-01-01')"))
        for position, hours in enumerate(["Mon-Fri 9:00-17:00", "By appointment", None]):
            connection.execute(
                text("INSERT INTO practitioner_locations (practitioner_id, position, setting, postcode, opening_hours) "
                     "VALUES (1, :p, 'private_clinic', 'LS6 2AB', :h)"),
                {"p": position, "h": hours},
            )
    store.upgrade()
    record = store.get(1)
    assert record is not None
    first, second, third = (loc.opening_hours for loc in record.record.locations)
    assert _week(first) == {d: ["09:00-17:00"] for d in WEEKDAYS}
    assert second == OpeningHours(note="By appointment")
    assert third is None
    # And back down: the text comes back.
    with store.engine.begin() as connection:
        command.downgrade(store._alembic_config(connection), "0002")
    with store.engine.connect() as connection:
        texts = [row[0] for row in connection.execute(text("SELECT opening_hours FROM practitioner_locations ORDER BY position"))]
    assert texts == ["Mon-Fri 09:00-17:00", "By appointment", None]
    store.dispose()


@pytest.fixture
def stored_client(app: Any) -> Any:
    from finder.db import store_from
    from tests.plugins.web import seed_store, web_records

    store = store_from(app)
    store.upgrade()
    seed_store(store, web_records())
    app.ids = {s.record.name.split()[0]: s.id for s in store.iter_practitioners()}
    return app.test_client()


def test_api_returns_intervals_and_page_shows_the_week(stored_client: Any, app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    alice = app.ids["Alice"]
    body = stored_client.get(f"/api/v1/practitioners/{alice}").get_json()
    hours = body["locations"][0]["opening_hours"]
    assert hours["intervals"][0] == {"day": "monday", "opens": "09:00", "closes": "17:00"}
    assert len(hours["intervals"]) == 5 and hours["note"] is None and hours["text"] == "Mon-Fri 09:00-17:00"

    from finder.web import present

    # Monday 16:30 UTC is 17:30 in summer (closed) and 16:30 in winter (open).
    monkeypatch.setattr(present, "current_time", lambda: datetime(2026, 10, 19, 16, 30, tzinfo=UTC))
    summer = stored_client.get(f"/practitioners/{alice}").get_data(as_text=True)
    monkeypatch.setattr(present, "current_time", lambda: datetime(2026, 10, 26, 16, 30, tzinfo=UTC))
    winter = stored_client.get(f"/practitioners/{alice}").get_data(as_text=True)
    assert "Opens tomorrow 9:00" in summer and "Open now, closes 17:00" in winter
    for page in (summer, winter):
        assert '<th scope="row">Monday</th><td>9:00 to 17:00</td>' in page
        assert '<th scope="row">Sunday</th><td>Closed</td>' in page


def test_a_record_accepts_text_or_structure() -> None:
    from_text = make_record(locations=[{"setting": "online", "opening_hours": "Sat 9-12"}])
    from_structure = make_record(
        locations=[{"setting": "online", "opening_hours": {"intervals": [{"day": "saturday", "opens": "09:00", "closes": "12:00"}]}}]
    )
    assert from_text.locations[0].opening_hours == from_structure.locations[0].opening_hours
    with pytest.raises(ValueError, match="closes"):
        make_record(locations=[{"setting": "online", "opening_hours": {"intervals": [{"day": "monday", "opens": "17:00", "closes": "09:00"}]}}])


def test_over_long_hours_are_refused_not_cut_short() -> None:
    with pytest.raises(ValueError, match="the most we keep is 300"):
        make_record(locations=[{"setting": "online", "opening_hours": "By appointment " * 30}])
