"""Crash safety of the index, and reads during writes.

* kill -9 ``finder index build`` mid-way: the previous index keeps serving the
  same answers, and a rerun completes and switches;
* while an ingest runs in another process, and while another process switches
  the index, a loop of reads through the app never sees an error or a partial
  state: every answer is the whole old state or the whole new one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from finder import create_app
from finder.db import store_from
from finder.ingest import SourceItem, ingest
from finder.records import Record
from finder.search.indexer import CURRENT, TMP_PREFIX, builds_dir, current_build

pytestmark = pytest.mark.slow

FIRST = 1_000  # listings in the store and index before the crash
TOTAL = 5_000  # listings after the second load: big enough that a build takes a few seconds
QUERIES = (
    "/api/v1/search?near=LS6&radius_km=200&per_page=50",
    "/api/v1/search?q=multiple+sclerosis&per_page=50",
    "/api/v1/search?near=Leeds&radius_km=50&specialism=neurological&sort=name&per_page=30",
)


@pytest.fixture(scope="module")
def generated(gazetteer_path: Path) -> list[Record]:
    """TOTAL fictional listings at real postcodes of the test gazetteer (seed 11)."""
    from finder.sample import generate_records

    return list(generate_records(TOTAL, 11, gazetteer=gazetteer_path))


@dataclass
class Site:
    instance: Path
    config: dict[str, Any]

    def app(self, **overrides: Any) -> Any:
        return create_app({**self.config, **overrides})

    def finder(self, *args: str) -> subprocess.Popen[bytes]:
        """The real `finder` command in its own process group (so we can find its workers)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("FINDER_")}
        env.update(FINDER_INSTANCE_PATH=str(self.instance), FINDER_GAZETTEER_PATH=self.config["GAZETTEER_PATH"])
        return subprocess.Popen(
            [sys.executable, "-m", "finder.cli", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            cwd=Path(__file__).resolve().parents[2],
        )

    def run(self, *args: str) -> str:
        proc = self.finder(*args)
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
        return out.decode()

    @property
    def index_dir(self) -> Path:
        return self.instance / "index"


def load(app: Any, records: list[Record], *, start: int = 0) -> None:
    report = ingest(store_from(app), [SourceItem(row=start + i + 2, record=r) for i, r in enumerate(records)], source="sample")
    assert report.written, report.problems[:3]


def answers(client: Any) -> list[tuple[int, tuple[int, ...]]]:
    """(total, ids on the first page) of each query: what a reader sees."""
    seen = []
    for path in QUERIES:
        response = client.get(path)
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        body = response.get_json()
        ids = tuple(r["id"] for r in body["results"])
        # A complete page: every listed id was loaded from the store.
        assert len(ids) == min(body["per_page"], body["total"]), (path, body["total"], len(ids))
        seen.append((body["total"], ids))
    return seen


@pytest.fixture
def site(tmp_path: Path, gazetteer_path: Path, generated: list[Record]) -> Site:
    """A store holding the first FIRST listings, with an index built from them."""
    instance = tmp_path / "instance"
    config = {
        "TESTING": True,
        "INSTANCE_PATH": str(instance),
        "GAZETTEER_PATH": str(gazetteer_path),
        "RATELIMIT_ENABLED": False,
        "SECRET_KEY": "test",
        # These tests load listings the index lacks on purpose; the lag bound has tests of its own.
        "INDEX_MAX_LAG_SECONDS": 3600,
    }
    result = Site(instance=instance, config=config)
    app = result.app()
    store_from(app).upgrade()
    load(app, generated[:FIRST])
    from finder.search import build_index

    build_index(store_from(app), result.index_dir)
    store_from(app).dispose()
    return result


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen[bytes], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            raise AssertionError(f"the process ended (exit {proc.returncode}) before {what}: make the store bigger")
        time.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


def live_members(group: int) -> list[int]:
    """Processes of a process group that are still running (zombies waiting to be reaped do not count)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def kill_parent_only(proc: subprocess.Popen[bytes]) -> None:
    """kill -9 the build's own process, as an operator or the OOM killer would; its workers must follow."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    deadline = time.monotonic() + 20
    while live_members(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    orphans = live_members(proc.pid)
    if orphans:
        os.killpg(proc.pid, signal.SIGKILL)  # do not leave them behind, whatever the verdict
    assert not orphans, f"index workers {orphans} outlived the killed build"


def holds_sqlite_write_lock(pid: int, shm: Path) -> bool:
    """Whether process ``pid`` is inside an SQLite write transaction on this WAL database.

    SQLite's WAL writer holds a POSIX lock on byte 120 of the ``-shm`` file for the
    whole write transaction; the kernel lists it in /proc/locks.
    """
    try:
        inode = shm.stat().st_ino
        locks = Path("/proc/locks").read_text()
    except OSError:
        return False
    for line in locks.splitlines():
        fields = line.split()
        if "->" in fields:  # a waiter, not a holder
            continue
        if (
            len(fields) >= 8 and fields[1] == "POSIX" and fields[3] == "WRITE" and fields[4] == str(pid)
            and int(fields[5].rsplit(":", 1)[1]) == inode and int(fields[6]) <= 120 <= int(fields[7])
        ):
            return True
    return False


def tmp_builds(index_dir: Path) -> list[Path]:
    root = builds_dir(index_dir)
    return [p for p in root.iterdir() if p.name.startswith(TMP_PREFIX)] if root.exists() else []


def test_kill_during_index_build_keeps_the_old_index_and_a_rerun_switches(site: Site, generated: list[Record]) -> None:
    app = site.app()
    client = app.test_client()
    before = answers(client)
    old_build = current_build(site.index_dir)
    assert old_build is not None

    load(app, generated[FIRST:], start=FIRST)  # the store now holds TOTAL listings; the index still FIRST
    assert answers(site.app().test_client()) == before, "the index is derived: loading alone changes no answer"

    proc = site.finder("index", "build", "--workers", "2")

    def both_workers_writing() -> bool:
        # The build and its two workers are alive, and each worker has started its shard
        # inside the temporary build: documents are being added (no fixed wait decides it).
        shards = [shard for tmp in tmp_builds(site.index_dir) for shard in tmp.glob("shard*") if shard.is_dir()]
        return len(live_members(proc.pid)) >= 3 and sum(1 for shard in shards if any(shard.iterdir())) >= 2

    wait_for(both_workers_writing, proc, "both workers started writing their shards")
    assert proc.poll() is None, "the build finished before it could be killed; make the store bigger"
    kill_parent_only(proc)

    # The crash left a half-written build behind, and nothing else changed.
    assert tmp_builds(site.index_dir), "the kill must land mid-build"
    assert current_build(site.index_dir) == old_build
    assert (site.index_dir / CURRENT).read_text().strip() == old_build
    # The worker that was already serving, and a freshly started one, give the same answers as before.
    assert answers(client) == before
    assert answers(site.app().test_client()) == before
    health = site.app().test_client().get("/readyz")
    assert health.status_code == 200 and health.get_json()["checks"]["index"]["documents"] == FIRST

    # A rerun cleans up the half build, completes, and switches.
    out = site.run("index", "build")
    assert f"{TOTAL} listings" in out and "now serving" in out
    new_build = current_build(site.index_dir)
    assert new_build not in (None, old_build)
    assert not tmp_builds(site.index_dir)
    app.extensions["finder.search"].reopen()  # as a worker does within a second
    after = answers(client)
    assert after == answers(site.app().test_client())
    assert after != before and all(total_after >= total_before for (total_after, _), (total_before, _) in zip(after, before, strict=True))
    assert site.app().test_client().get("/readyz").get_json()["checks"]["index"]["documents"] == TOTAL
    store_from(app).dispose()


@dataclass
class Observations:
    #: (reader thread, query number, (total, ids)) in the order each reader saw them.
    answers: list[tuple[int, int, tuple[int, tuple[int, ...]]]]
    counts: list[int]
    errors: list[str]
    #: Read rounds each reader has finished (a round: every query, a page, a count).
    rounds: list[int] = field(default_factory=list)

    def wait_for_rounds(self, more: int, timeout: float = 120) -> None:
        """Until every reader has finished ``more`` further rounds (2: one begun and ended after now)."""
        wanted = [done + more for done in self.rounds]
        deadline = time.monotonic() + timeout
        while any(done < want for done, want in zip(self.rounds, wanted, strict=True)):
            assert time.monotonic() < deadline, f"readers stalled: {self.rounds}, wanted {wanted}; {self.errors[:3]}"
            time.sleep(0.005)


def read_loop(reader: int, app: Any, stop: threading.Event, out: Observations, count: Callable[[], int] | None) -> None:
    """What a busy site does: searches, practitioner pages and raw store reads, until told to stop."""
    client = app.test_client()
    store = store_from(app)
    while not stop.is_set():
        try:
            for number, (total, ids) in enumerate(answers(client)):
                out.answers.append((reader, number, (total, ids)))
                rows = store.get_many(list(ids))
                assert [r.id for r in rows] == list(ids), "every listed practitioner loads, in order"
            page = client.get(f"/practitioners/{ids[0]}")
            assert page.status_code == 200, page.status_code
            if count is not None:
                out.counts.append(count())
        except Exception as exc:  # noqa: BLE001 - every failure is a finding, reported below
            out.errors.append(f"{type(exc).__name__}: {exc}")
        out.rounds[reader] += 1


def run_readers(
    app: Any, body: Callable[[Observations], None], *, threads: int = 2, count: Callable[[], int] | None = None
) -> Observations:
    """Readers loop while ``body`` runs; each has read the whole state once before it starts,
    and twice more after it ends (so the last round began after the body's change)."""
    out = Observations(answers=[], counts=[], errors=[], rounds=[0] * threads)
    stop = threading.Event()
    workers = [threading.Thread(target=read_loop, args=(n, app, stop, out, count)) for n in range(threads)]
    for worker in workers:
        worker.start()
    try:
        out.wait_for_rounds(1)
        body(out)
        out.wait_for_rounds(2)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=60)
    return out


def test_reads_during_an_ingest_in_another_process(site: Site, generated: list[Record], tmp_path: Path) -> None:
    from finder.sample import write_csv

    app = site.app()
    store = store_from(app)
    first = answers(app.test_client())
    csv_path = tmp_path / "all.csv"
    write_csv(generated, csv_path)  # the FIRST listings unchanged, the rest new

    db_shm = Path(store.engine.url.database + "-shm")  # type: ignore[operator]
    during: list[int] = []

    def ingest_elsewhere(readers: Observations) -> None:
        # --no-index-update: this test is about the store changing under readers; the
        # index switch has its own test below.
        proc = site.finder("ingest", "csv", str(csv_path), "--no-geocode", "--source", "sample", "--no-index-update")
        try:
            # Catch the ingest inside its write transaction, hold it there, and let every
            # reader read the whole store while it is: no timing luck decides the overlap.
            wait_for(lambda: holds_sqlite_write_lock(proc.pid, db_shm), proc, "the ingest began writing")
            os.kill(proc.pid, signal.SIGSTOP)
            try:
                counted = len(readers.counts)
                readers.wait_for_rounds(2)
                during.extend(readers.counts[counted:])
            finally:
                os.kill(proc.pid, signal.SIGCONT)
            out, err = proc.communicate(timeout=300)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 0, err.decode()
        assert f"added {TOTAL - FIRST}" in out.decode(), out.decode()

    seen = run_readers(app, ingest_elsewhere, count=store.count)
    assert seen.errors == []
    # Mid-transaction, readers saw the store as it was before the ingest, whole.
    assert during and set(during) == {FIRST}
    # The index did not change, so neither did any answer; the store went from one whole state to the other.
    assert all(answer == first[number] for _, number, answer in seen.answers)
    assert set(seen.counts) <= {FIRST, TOTAL} and seen.counts[-1] == TOTAL
    store.dispose()


def test_reads_during_an_index_switch(site: Site, generated: list[Record]) -> None:
    app = site.app()
    app.extensions["finder.search"].check_interval = 0.0  # notice the switch at once (workers: within a second)
    load(app, generated[FIRST : 2 * FIRST], start=FIRST)  # a quick build is enough here
    old = answers(app.test_client())
    old_build = current_build(site.index_dir)

    def build_elsewhere(readers: Observations) -> None:
        # run_readers has every reader read the old build before this starts, and
        # read the new build (rounds begun after the switch) before it stops them.
        site.run("index", "build")
        assert current_build(site.index_dir) != old_build

    seen = run_readers(app, build_elsewhere)
    assert seen.errors == []
    new = answers(site.app().test_client())
    assert all(a != b for a, b in zip(old, new, strict=True))
    kinds: dict[int, list[str]] = {}
    for reader, number, answer in seen.answers:
        kind = "old" if answer == old[number] else "new" if answer == new[number] else "MIXED"
        assert kind != "MIXED", (number, answer[0], old[number][0], new[number][0])
        kinds.setdefault(reader, []).append(kind)
    for reader, sequence in kinds.items():
        assert sequence[0] == "old" and sequence[-1] == "new", f"reader {reader} must have read across the switch"
        # Once a reader saw the new build it never went back to the old one.
        assert "old" not in sequence[sequence.index("new"):], reader
    store_from(app).dispose()
