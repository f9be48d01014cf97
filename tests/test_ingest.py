"""Ingest into a real store (SQLite file and PostgreSQL): upsert, all-or-nothing, partial, withdrawal."""

from __future__ import annotations

import errno
import re
from typing import Any

import pytest
from sqlalchemy import func, select, text

from finder.db import Store
from finder.errors import DiskFull, Problem
from finder.ingest import SourceItem, ingest
from finder.models import Practitioner, SourceRecord
from scrapers.csv_import import parse_csv
from tests.helpers import csv_bytes, csv_row, items, make_record, record_data


def snapshot(store: Store) -> list[Any]:
    """Everything the store holds about listings, for before/after comparison."""
    with store.engine.connect() as connection:
        rows = []
        for table in ("practitioners", "practitioner_locations", "source_records", "ingest_runs"):
            rows.append((table, connection.execute(text(f"select * from {table} order by id")).all()))
        return rows


def test_a_new_record_is_added_with_provenance(store: Store) -> None:
    report = ingest(store, items(make_record(name="Siân Ní Bhriain")), source="csv", input_name="x.csv")
    assert (report.added, report.updated, report.unchanged, report.written) == (1, 0, 0, True)
    [stored] = list(store.iter_practitioners())
    assert stored.record.name == "Siân Ní Bhriain"
    assert stored.record.locations[0].postcode == "LS6 2AB"
    assert stored.sources[0].source == "csv" and stored.sources[0].source_id == "t-1"
    assert stored.created_at.tzinfo is not None
    assert store.ingest_runs()[0].added == 1


def test_reimporting_the_same_records_changes_nothing(store: Store) -> None:
    records = [make_record(provenance={"source": "csv", "source_id": f"t-{i}"}, registration={"number": f"PH99000{i}"}) for i in range(3)]
    ingest(store, items(*records), source="csv")
    before = snapshot(store)[:3]
    report = ingest(store, items(*records), source="csv")
    assert (report.added, report.updated, report.unchanged) == (0, 0, 3)
    assert snapshot(store)[:3] == before


def test_a_changed_record_is_updated_not_duplicated(store: Store) -> None:
    ingest(store, items(make_record()), source="csv")
    report = ingest(store, items(make_record(practice_name="New Name", funding=["nhs", "private"])), source="csv")
    assert (report.added, report.updated) == (0, 1)
    [stored] = list(store.iter_practitioners())
    assert stored.record.practice_name == "New Name"
    assert stored.record.funding == ["nhs", "private"]
    assert stored.updated_at >= stored.created_at


def test_the_same_hcpc_number_from_another_source_merges_into_one_listing(store: Store) -> None:
    ingest(store, items(make_record()), source="csv")
    other = make_record(provenance={"source": "json", "source_id": "abc"})
    report = ingest(store, items(other), source="json")
    assert report.updated == 1 and report.added == 0
    [stored] = list(store.iter_practitioners())
    assert {s.source for s in stored.sources} == {"csv", "json"}


def test_one_bad_item_means_nothing_is_written(store: Store) -> None:
    ingest(store, items(make_record()), source="csv")
    before = snapshot(store)
    bad = SourceItem(row=3, problems=[Problem(3, "specialisms", "'neuro' is not one of: ...")])
    report = ingest(store, [SourceItem(row=2, record=make_record(name="Changed")), bad], source="csv")
    assert not report.written and report.rejected == 1
    assert "nothing was written" in report.summary()
    assert snapshot(store) == before


def test_partial_mode_writes_the_good_rows_and_returns_the_bad(store: Store) -> None:
    bad = SourceItem(row=3, raw={"name": "x"}, problems=[Problem(3, "postcode", "bad")])
    report = ingest(store, [SourceItem(row=2, record=make_record()), bad], source="csv", partial=True)
    assert report.written and report.added == 1 and report.rejected == 1
    assert report.rejected_items == [bad]
    assert store.count() == 1


def test_duplicate_keys_within_one_file_are_row_errors(store: Store) -> None:
    a = make_record(provenance={"source": "csv", "source_id": "a"})
    b = make_record(provenance={"source": "csv", "source_id": "b"})  # same HCPC number as a
    report = ingest(store, items(a, b), source="csv")
    assert not report.written
    assert any("already used on row 2" in p.message for p in report.problems)


def test_repeated_keys_name_the_first_row_even_after_a_bad_row(store: Store) -> None:
    # The operator is told every problem of the file at once: a bad row does not stop the duplicate check.
    bad = SourceItem(row=2, problems=[Problem(row=2, column="postcode", message="not a UK postcode")])
    first = make_record(registration={"number": "PH1000001"}, provenance={"source": "csv", "source_id": "a-17"})
    again = make_record(registration={"number": "PH1000002"}, provenance={"source": "csv", "source_id": "a-17"})
    same_number = make_record(registration={"number": "PH1000001"}, provenance={"source": "csv", "source_id": "b-2"})
    third = make_record(registration={"number": "PH1000004"}, provenance={"source": "csv", "source_id": "a-17"})
    rows = [first, again, same_number, third]
    report = ingest(store, [bad, *(SourceItem(row=i, record=r) for i, r in enumerate(rows, start=3))], source="csv")
    assert not report.written and store.count() == 0
    assert [(p.row, p.column, p.message) for p in report.problems] == [
        (2, "postcode", "not a UK postcode"),
        (4, "source_id", "source id 'a-17' is already used on row 3"),
        (5, "hcpc_number", "HCPC number PH1000001 is already used on row 3"),
        (6, "source_id", "source id 'a-17' is already used on row 3"),
    ]


def test_a_load_withdraws_nothing_unless_it_is_the_complete_list_and_prints_nothing_unless_asked(
    store: Store, capfd: Any
) -> None:
    first = make_record(registration={"number": "PH1000001"}, provenance={"source": "csv", "source_id": "a"})
    second = make_record(registration={"number": "PH1000002"}, provenance={"source": "csv", "source_id": "b"})
    ingest(store, items(first), source="csv")
    report = ingest(store, items(second), source="csv")
    assert (report.added, report.withdrawn, store.count()) == (1, 0, 2)
    assert capfd.readouterr().err == ""  # no progress bar in a web worker's log


def test_a_verified_registration_is_not_overwritten_by_an_unchecked_import(store: Store) -> None:
    ingest(store, items(make_record()), source="csv")
    with store.session() as session:
        row = session.scalar(select(Practitioner))
        row.registration_status = "registered"
        from datetime import date

        row.registration_checked_on = date(2026, 11, 1)
    ingest(store, items(make_record(practice_name="Renamed")), source="csv")
    [stored] = list(store.iter_practitioners())
    assert stored.record.practice_name == "Renamed"
    assert stored.record.registration.status == "registered"


def test_a_complete_run_withdraws_what_the_source_no_longer_lists(store: Store) -> None:
    a = make_record(provenance={"source": "feed", "source_id": "a"}, registration={"number": "PH990001"})
    b = make_record(provenance={"source": "feed", "source_id": "b"}, registration={"number": "PH990002"})
    ingest(store, items(a, b), source="feed", complete=True)
    report = ingest(store, items(a), source="feed", complete=True)
    assert (report.unchanged, report.withdrawn) == (1, 1)
    assert store.count() == 1 and store.count(include_withdrawn=True) == 2
    again = ingest(store, items(a, b), source="feed", complete=True)
    assert again.updated == 1 and store.count() == 2


def test_geocoding_fills_coordinates_and_unknown_postcodes_are_row_errors(store: Store) -> None:
    from finder.errors import UnknownPostcode

    def lookup(postcode: str) -> tuple[float, float]:
        if postcode == "LS6 2AB":
            return (53.8195, -1.5762)
        raise UnknownPostcode(f"{postcode} is a valid format but not a known postcode")

    good = make_record(locations=[{"setting": "hospital", "postcode": "LS6 2AB"}])
    bad = make_record(
        provenance={"source": "csv", "source_id": "t-2"},
        registration={"number": "PH9911111"},
        locations=[{"setting": "hospital", "postcode": "LS99 9ZZ"}],
    )
    report = ingest(store, items(good, bad), source="csv", geocode=lookup)
    assert not report.written
    assert [str(p) for p in report.problems] == ["row 3, column postcode: LS99 9ZZ is a valid format but not a known postcode"]
    report = ingest(store, items(good), source="csv", geocode=lookup)
    [stored] = list(store.iter_practitioners())
    assert (stored.record.locations[0].lat, stored.record.locations[0].lon) == (53.8195, -1.5762)


def test_csv_round_trip_with_several_locations(store: Store) -> None:
    data = csv_bytes(
        [
            csv_row(name="Zoë Example", bio='<img src=x onerror=alert(1)>'),
            {"source_id": "p-1", "setting": "hospital", "postcode": "LS1 3EX", "lat": "53.80", "lon": "-1.55"},
        ]
    )
    report = ingest(store, parse_csv(data), source="csv")
    assert report.added == 1, report.problems
    [stored] = list(store.iter_practitioners())
    assert [loc.setting for loc in stored.record.locations] == ["private_clinic", "hospital"]
    assert stored.record.bio == '<img src=x onerror=alert(1)>'
    with store.reader() as session:
        assert session.scalar(select(func.count(SourceRecord.id))) == 1


def test_stats_count_current_listings(store: Store) -> None:
    a = make_record(provenance={"source": "csv", "source_id": "a"}, registration={"number": "PH990001"})
    b = make_record(
        provenance={"source": "csv", "source_id": "b"},
        registration={"number": "PH990002"},
        specialisms=["musculoskeletal"],
        locations=[{"setting": "hospital", "postcode": "LS1 3EX"}, {"setting": "online"}],
        funding=["nhs"],
    )
    ingest(store, items(a, b), source="csv")
    stats = store.stats()
    assert stats["total"] == 2
    assert stats["specialism"] == {"neurological": 1, "musculoskeletal": 1}
    assert stats["setting"] == {"private_clinic": 1, "hospital": 1, "online": 1}
    assert stats["funding"] == {"private": 1, "nhs": 1}
    assert stats["registration_status"] == {"unchecked": 2}


def test_record_data_helper_is_valid() -> None:
    assert make_record(**record_data()).name


def test_a_partial_complete_run_with_rejects_does_not_withdraw(store: Store) -> None:
    a = make_record(provenance={"source": "feed", "source_id": "a"}, registration={"number": "PH990001"})
    b = make_record(provenance={"source": "feed", "source_id": "b"}, registration={"number": "PH990002"})
    ingest(store, items(a, b), source="feed", complete=True)
    bad = SourceItem(row=3, problems=[Problem(3, "name", "is required")])
    report = ingest(store, [SourceItem(row=2, record=a), bad], source="feed", complete=True, partial=True)
    assert report.withdrawn == 0 and report.withdrawal_skipped
    assert "were not withdrawn" in report.summary()
    assert store.count() == 2


def test_the_report_and_the_run_log_name_the_source_the_file_and_the_mode(store: Store) -> None:
    from finder.models import IngestRun

    bad = SourceItem(row=3, problems=[Problem(row=3, column="postcode", message="not a UK postcode")])
    report = ingest(
        store, [SourceItem(row=2, record=make_record()), bad], source="csv", input_name="clinics.csv", partial=True
    )
    shown = report.as_dict()
    assert (shown["source"], shown["input"], shown["mode"]) == ("csv", "clinics.csv", "partial")
    # The valid row was written: no "nothing was written" note.
    assert report.summary() == "read 2, added 1, updated 0, unchanged 0, withdrawn 0, rejected 1"
    with store.session() as session:
        [run] = session.scalars(select(IngestRun)).all()
        assert (run.source, run.input_name, run.mode, run.status) == ("csv", "clinics.csv", "partial", "completed")


def test_the_progress_asked_for_names_the_file_counts_rows_and_is_cleared(store: Store, monkeypatch: Any) -> None:
    # `finder import` asks for progress: which file is read, in rows, then the saving, in records;
    # cleared when done (not left above the summary), and none unless asked. A recording stand-in
    # for tqdm: a real bar starts tqdm's monitor thread, which deadlocks forked test runners (mutmut).
    from finder import ingest as ingest_module

    bars: list[dict[str, Any]] = []

    def recording(iterable: Any, **options: Any) -> Any:
        bars.append(options)
        return iterable

    monkeypatch.setattr(ingest_module, "tqdm", recording)
    ingest(store, items(make_record()), source="csv", input_name="clinics.csv", progress=True)
    ingest(store, items(make_record(practice_name="Renamed")), source="csv", input_name="clinics.csv")
    assert bars == [
        {"desc": "reading clinics.csv", "unit": " rows", "disable": False, "leave": False},
        {"desc": "saving", "unit": " records", "disable": False, "leave": False},
        {"desc": "reading clinics.csv", "unit": " rows", "disable": True, "leave": False},
        {"desc": "saving", "unit": " records", "disable": True, "leave": False},
    ]


def test_each_unusable_item_is_reported_once_with_what_was_wrong(store: Store) -> None:
    from_a_feed = make_record(provenance={"source": "feed", "source_id": "f-1"})
    already_bad = SourceItem(
        row=4,
        record=make_record(provenance={"source": "feed", "source_id": "f-2"}),
        problems=[Problem(row=4, column="postcode", message="not a UK postcode")],
    )
    report = ingest(store, [SourceItem(row=2, record=from_a_feed), SourceItem(row=3), already_bad], source="csv")
    assert not report.written and report.rejected == 3
    assert [(p.row, p.column, p.message) for p in report.problems] == [
        (2, "source", "expected source 'csv', got 'feed'"),
        (3, None, "no record was produced"),
        (4, "postcode", "not a UK postcode"),  # already rejected: not checked again
    ]


def test_a_full_disk_while_writing_is_one_clear_line_and_nothing_is_written(store: Store, monkeypatch: Any) -> None:
    from finder import ingest as ingest_module

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ingest_module, "_write_all", full)
    one = make_record()
    listings = [  # 4,124 listings at about 4 KB each: 16.496 MB, "about 16 MB"
        one.model_copy(
            update={
                "provenance": one.provenance.model_copy(update={"source_id": f"r-{i}"}),
                "registration": one.registration.model_copy(update={"number": f"PH{i:07d}"}),
            }
        )
        for i in range(4124)
    ]
    with pytest.raises(DiskFull) as caught:
        ingest(store, items(*listings), source="csv")
    assert re.fullmatch(
        rf"disk full writing {re.escape(str(store.location()))} \(needs about 16 MB, [^)]+ free\); nothing was changed: "
        r"free some space, then run `finder ingest csv \.\.\. again`",
        str(caught.value),
    ), str(caught.value)
    assert store.count() == 0


def test_a_written_load_logs_its_counts_in_one_line(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="finder.ingest"):
        ingest(store, items(make_record()), source="csv")
    assert [r.getMessage() for r in caplog.records if r.name == "finder.ingest"] == [
        "ingest csv: read 1, added 1, updated 0, unchanged 0, withdrawn 0, rejected 0"
    ]
