"""Load benchmark: gunicorn (the repo's gunicorn.conf.py) serving 60,000 listings, driven over loopback.

Usage::

    python benchmarks/load.py [--records 60000] [--seed 1] [--duration 60] [--max-requests 300000]
                              [--workers N] [--threads N] [--levels 1,2,4,8,16,32] [--p99 50]

What it does:

1. Data (once, cached under benchmarks/.cache/, git-ignored): N FICTIONAL
   listings from finder.sample at real GB postcodes, loaded into a SQLite store,
   the search index, and the gazetteer (shared with search_bench.py). A pool of
   request paths is drawn from the store with a fixed seed and each place in it
   is checked against the gazetteer, so every request is one a real user could
   make and should succeed.
2. Starts ``gunicorn -c gunicorn.conf.py 'finder:create_app()'`` on a free
   loopback port (rate limits on, with budgets one client cannot reach), waits
   for /readyz and warms every worker up (untimed).
3. Drives the query mix (see MIX: postcode, outcode and town searches with and
   without text and filters, practitioner pages, referral summaries, API
   searches and records) from this process, a client separate from the server
   processes, in two phases, bounded in time (``--duration`` seconds in all)
   and in count (``--max-requests``):

   * closed loop: C keep-alive connections each sending its next request as
     soon as the last answer arrived, for C in ``--levels``: the throughput
     ceiling, and errors at full load;
   * open loop: requests sent on a fixed schedule at R per second, latency
     measured from when each request was due (so queueing counts, unlike a
     closed loop), bisecting for the highest R whose p99 stays within ``--p99``.

   Errors are any answer other than 200/304, a dropped connection, or a
   timeout (5 s).

4. Prints a table per phase (req/s, p50/p95/p99/max in ms, errors, CPU), the
   server's own count of requests from its JSON request log, and a last line
   starting ``RESULT``.

CPU: the machine's cores are shared by the client (this process, one core at
most: asyncio on one thread) and gunicorn's workers. Each phase reports how
busy the whole machine was and how much of that was the client, so the server's
share is visible.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import CACHE, gazetteer_path, load_generated  # noqa: E402

TIMEOUT_S = 5.0
POOL_SIZE = 6_000
OK_STATUSES = frozenset({200, 304})
#: The kind reported for ``--only PATH``.
ONLY_KIND = "only one path"

#: The query mix: (kind, share). Searches by place dominate, as on the live site.
MIX: list[tuple[str, float]] = [
    ("page search: postcode", 0.12),
    ("page search: postcode + text", 0.10),
    ("page search: postcode + filters", 0.07),
    ("page search: outcode + text", 0.08),
    ("page search: town", 0.05),
    ("page search: town + text + filter", 0.05),
    ("page: practitioner", 0.17),
    ("page: referral summary", 0.05),
    ("page: referral text", 0.02),
    ("page: home", 0.03),
    ("page: about", 0.01),
    ("api: search", 0.17),
    ("api: practitioner", 0.08),
]
TEXTS = [
    "multiple sclerosis", "MS", "back pain", "stroke", "hydrotherapy", "neck pain", "sports injury", "balance",
    "parkinsons", "home visits", "acupuncture", "pelvic health", "fatigue", "knee pain", "spasticity", "FES",
    "women's health", "falls", "vestibular", "physio",
]  # fmt: skip
FILTERS = [
    ("specialism", "neurological"), ("funding", "nhs"), ("setting", "community_clinic"),
    ("referral_route", "self_referral"), ("visits_home", "true"), ("accepting", "true"), ("wheelchair", "true"),
    ("specialism", "musculoskeletal"), ("funding", "private"), ("setting", "charity_centre"),
]  # fmt: skip
RADII = ["", "", "", "5", "10", "50"]


# ---------------------------------------------------------------------------
# data


def ensure_data(records: int, seed: int) -> Path:
    """benchmarks/.cache/load-<records>-<seed>/ with finder.db and index/ (built once)."""
    from finder.db import Store
    from finder.search import build_index
    from finder.search.indexer import current_build

    folder = CACHE / f"load-{records}-{seed}"
    done = folder / "done.json"
    db = folder / "finder.db"
    index_dir = folder / "index"
    if done.exists() and current_build(index_dir) is not None:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for stale in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        stale.unlink(missing_ok=True)
    store = Store(f"sqlite:///{db}")
    store.upgrade()
    loaded = load_generated(store, records, seed)
    print("building the search index (once) ...", flush=True)
    build = build_index(store, index_dir)
    store.dispose()
    done.write_text(json.dumps({"load_seconds": loaded, "index_seconds": build.seconds, "documents": build.documents}))
    return folder


@dataclass
class Places:
    postcodes: list[str] = field(default_factory=list)
    outcodes: list[str] = field(default_factory=list)
    towns: list[str] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    #: Ids whose referral summary is offered (finder.safety.may_offer_referral): a listing that may
    #: not practise answers its summary with 403 by design (hazard H1), not a load case.
    referable: list[int] = field(default_factory=list)


def draw_places(folder: Path, seed: int) -> Places:
    """Postcodes, districts and towns where listings are, and practitioner ids; each place checked."""
    cached = folder / f"places-{seed}.json"
    if cached.exists():
        places = Places(**json.loads(cached.read_text()))
        if places.referable:
            return places
    from finder.db import Store
    from finder.errors import FinderError
    from finder.geo.geocode import Geocoder

    store = Store(f"sqlite:///{folder / 'finder.db'}")
    rng = random.Random(seed)
    total = store.count()
    sample = store.get_many(sorted(rng.sample(range(1, total + 1), min(3000, total))))
    store.dispose()
    geocoder = Geocoder(str(gazetteer_path()))
    from finder.safety import may_offer_referral

    places = Places(ids=[s.id for s in sample], referable=[s.id for s in sample if may_offer_referral(s.record)])

    def usable(text: str) -> bool:
        try:
            geocoder.resolve(text)
        except FinderError:  # ambiguous or unknown: a person would be asked which; not a load case
            return False
        return True

    seen: set[str] = set()
    for stored in sample:
        for loc in stored.record.locations:
            if not loc.postcode:
                continue
            outcode = loc.postcode.split()[0]
            for bucket, text in ((places.postcodes, loc.postcode), (places.outcodes, outcode), (places.towns, loc.town or "")):
                if text and text not in seen:
                    seen.add(text)
                    if usable(text):
                        bucket.append(text)
    geocoder.close()
    cached.write_text(json.dumps(places.__dict__))
    return places


def request_paths(places: Places, seed: int, count: int = POOL_SIZE) -> list[tuple[str, str]]:
    """(kind, path) pairs in the proportions of MIX, shuffled with the seed."""
    rng = random.Random(seed * 7919)
    kinds = [kind for kind, _ in MIX]
    weights = [share for _, share in MIX]
    out = []
    for kind in rng.choices(kinds, weights, k=count):
        out.append((kind, _path(kind, places, rng)))
    return out


def _search(near: str, rng: random.Random, *, text: bool, filters: int) -> dict[str, Any]:
    args: list[tuple[str, str]] = [("near", near)]
    if text:
        args.append(("q", rng.choice(TEXTS)))
    radius = rng.choice(RADII)
    if radius:
        args.append(("radius_km", radius))
    for name, value in rng.sample(FILTERS, filters):
        args.append((name, value))
    return {"args": args}


def _path(kind: str, places: Places, rng: random.Random) -> str:
    pid = rng.choice(places.referable if kind.startswith("page: referral") else places.ids)
    if kind == "page search: postcode":
        return "/search?" + urlencode(_search(rng.choice(places.postcodes), rng, text=False, filters=0)["args"])
    if kind == "page search: postcode + text":
        return "/search?" + urlencode(_search(rng.choice(places.postcodes), rng, text=True, filters=0)["args"])
    if kind == "page search: postcode + filters":
        return "/search?" + urlencode(_search(rng.choice(places.postcodes), rng, text=False, filters=rng.randint(1, 3))["args"])
    if kind == "page search: outcode + text":
        return "/search?" + urlencode(_search(rng.choice(places.outcodes), rng, text=True, filters=rng.randint(0, 1))["args"])
    if kind == "page search: town":
        return "/search?" + urlencode(_search(rng.choice(places.towns), rng, text=False, filters=0)["args"])
    if kind == "page search: town + text + filter":
        return "/search?" + urlencode(_search(rng.choice(places.towns), rng, text=True, filters=1)["args"])
    if kind == "page: practitioner":
        return f"/practitioners/{pid}"
    if kind == "page: referral summary":
        return f"/practitioners/{pid}/referral"
    if kind == "page: referral text":
        return f"/practitioners/{pid}/referral.txt"
    if kind == "page: home":
        return "/"
    if kind == "page: about":
        return "/about"
    if kind == "api: search":
        near = rng.choice(places.postcodes + places.outcodes + places.towns)
        return "/api/v1/search?" + urlencode(_search(near, rng, text=rng.random() < 0.6, filters=rng.randint(0, 2))["args"])
    if kind == "api: practitioner":
        return f"/api/v1/practitioners/{pid}"
    raise ValueError(kind)


# ---------------------------------------------------------------------------
# the server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def logged_requests(self) -> Counter[int]:
        """Requests the server logged (its JSON request lines), by status."""
        statuses: Counter[int] = Counter()
        with self.log_path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("{") and '"event": "request"' in line:
                    statuses[int(json.loads(line)["status"])] += 1
        return statuses


def start_server(folder: Path, workers: int | None, threads: int | None, row_cache: int | None = None) -> Server:
    port = free_port()
    log_path = folder / "gunicorn.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINDER_")}
    env.update(
        FINDER_INSTANCE_PATH=str(folder),
        FINDER_DATABASE_URL=f"sqlite:///{folder / 'finder.db'}",
        FINDER_INDEX_DIR=str(folder / "index"),
        FINDER_GAZETTEER_PATH=str(gazetteer_path()),
        FINDER_BIND=f"127.0.0.1:{port}",
        # One client address sends everything: the per-address limits stay on (their cost is
        # part of every request) but with budgets this one client cannot reach.
        FINDER_RATELIMIT_ENABLED="true",
        FINDER_RATELIMIT_API="1000000 per minute",
        FINDER_RATELIMIT_PAGES="1000000 per minute",
        FINDER_LOG_LEVEL="info",  # as in production: one JSON line per request
        FINDER_SERVER_TIMING="true",  # per-stage server time of every answer (finder.web.timing)
    )
    if workers:
        env["FINDER_WORKERS"] = str(workers)
    if threads:
        env["FINDER_THREADS"] = str(threads)
    if row_cache is not None:
        env["FINDER_ROW_CACHE_SIZE"] = str(row_cache)
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [str(gunicorn) if gunicorn.exists() else "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "finder:create_app()"]
    handle = log_path.open("wb")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    handle.close()
    server = Server(process=process, port=port, log_path=log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited ({process.returncode}); see {log_path}")
        try:
            status, _, _ = asyncio.run(_one(port, "/readyz"))
            if status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    server.stop()
    raise SystemExit(f"gunicorn did not become ready in 60 s; see {log_path}")


# ---------------------------------------------------------------------------
# the client: raw HTTP/1.1 keep-alive on asyncio streams (one thread, little CPU)


#: Requests a connection carries before the client closes it (like a browser tab moving on);
#: set by --requests-per-connection. Fresh connections are what spreads the load over the
#: workers: an idle worker is the one waiting in accept().
REQUESTS_PER_CONNECTION = 8
_reuse = random.Random(5)


class Connection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.left = 0

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        # Uniform 1 .. 2n-1: n requests per connection on average.
        self.left = _reuse.randint(1, max(1, 2 * REQUESTS_PER_CONNECTION - 1))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def get(self, path: str) -> tuple[int, int, str]:
        """(status, body bytes, Server-Timing header); reconnects once when the server had closed an idle keep-alive."""
        for attempt in (0, 1):
            if self.writer is None:
                await self.open()
            assert self.reader is not None and self.writer is not None
            self.writer.write(
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nUser-Agent: physio-finder-load/1\r\n"
                "Accept: text/html,application/json\r\n\r\n".encode("latin-1")
            )
            try:
                status_line = await self.reader.readline()
            except (ConnectionError, OSError):
                status_line = b""
            if not status_line:
                self.close()
                if attempt == 0:
                    continue  # the server closed the idle connection before our request: not an error
                raise ConnectionError("connection closed by the server")
            status = int(status_line.split()[1])
            length, chunked, close, timing = 0, False, False, ""
            while True:
                line = await self.reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
                elif name == b"connection" and b"close" in value.lower():
                    close = True
                elif name == b"server-timing":
                    timing = value.strip().decode("latin-1")
            if chunked:
                size = 0
                while True:
                    chunk = int((await self.reader.readline()).split(b";")[0], 16)
                    await self.reader.readexactly(chunk + 2)
                    size += chunk
                    if chunk == 0:
                        break
                length = size
            else:
                await self.reader.readexactly(length)
            self.left -= 1
            if close or self.left <= 0:
                self.close()
            return status, length, timing
        raise AssertionError("unreachable")


async def _one(port: int, path: str) -> tuple[int, int, str]:
    connection = Connection(port)
    try:
        return await asyncio.wait_for(connection.get(path), TIMEOUT_S)
    finally:
        connection.close()


@dataclass
class PhaseResult:
    name: str
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    #: kind -> stage -> server milliseconds summed over the kind's requests (the Server-Timing header)
    stages: dict[str, Counter[str]] = field(default_factory=dict)
    machine_busy: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    offered_rate: float | None = None

    @property
    def count(self) -> int:
        return len(self.latencies_ms)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        return percentile(self.latencies_ms, q)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


class Paths:
    """The request pool, handed out in order and round again (shared by every connection)."""

    def __init__(self, paths: list[tuple[str, str]], budget: int) -> None:
        self.paths = paths
        self.position = 0
        self.budget = budget

    def next(self) -> tuple[str, str] | None:
        if self.budget <= 0:
            return None
        self.budget -= 1
        item = self.paths[self.position % len(self.paths)]
        self.position += 1
        return item


def parse_server_timing(value: str) -> dict[str, float]:
    """``place;dur=0.41, total;dur=6.02`` -> {"place": 0.41, "total": 6.02} (milliseconds)."""
    out: dict[str, float] = {}
    for part in value.split(","):
        name, _, params = part.strip().partition(";")
        match = re.search(r"dur=([0-9.]+)", params)
        if name and match:
            out[name] = float(match.group(1))
    return out


def _record(
    result: PhaseResult, kind: str, status: int | None, latency_ms: float, error: str | None, timing: str = ""
) -> None:
    if timing:
        result.stages.setdefault(kind, Counter()).update(parse_server_timing(timing))
        result.stages[kind]["requests"] += 1
    result.latencies_ms.append(latency_ms)
    result.by_kind.setdefault(kind, []).append(latency_ms)
    if error is not None:
        result.errors += 1
        result.statuses[error] += 1
    else:
        result.statuses[str(status)] += 1
        if status not in OK_STATUSES:
            result.errors += 1


async def _timed_get(connection: Connection, path: str) -> tuple[int | None, str | None, str]:
    try:
        status, _, timing = await asyncio.wait_for(connection.get(path), TIMEOUT_S)
        return status, None, timing
    except TimeoutError:
        connection.close()
        return None, "timeout", ""
    except (ConnectionError, OSError, ValueError, IndexError, asyncio.IncompleteReadError) as exc:
        connection.close()
        return None, type(exc).__name__, ""


async def closed_loop(port: int, paths: Paths, concurrency: int, seconds: float) -> PhaseResult:
    result = PhaseResult(name=f"closed c={concurrency}", seconds=seconds)
    deadline = time.perf_counter() + seconds

    async def user() -> None:
        connection = Connection(port)
        try:
            while time.perf_counter() < deadline:
                item = paths.next()
                if item is None:
                    return
                kind, path = item
                started = time.perf_counter()
                status, error, timing = await _timed_get(connection, path)
                _record(result, kind, status, (time.perf_counter() - started) * 1000, error, timing)
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(user() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started
    return result


async def open_loop(port: int, paths: Paths, rate: float, seconds: float, max_connections: int = 64) -> PhaseResult:
    """Requests due at a fixed rate; latency from when each was due (waiting for a free connection counts)."""
    result = PhaseResult(name=f"open {rate:.0f}/s", seconds=seconds, offered_rate=rate)
    queue: asyncio.Queue[tuple[float, str, str] | None] = asyncio.Queue()

    async def connection_worker() -> None:
        connection = Connection(port)
        try:
            while True:
                item = await queue.get()
                if item is None:
                    return
                due, kind, path = item
                status, error, timing = await _timed_get(connection, path)
                _record(result, kind, status, (time.perf_counter() - due) * 1000, error, timing)
        finally:
            connection.close()

    workers = [asyncio.ensure_future(connection_worker()) for _ in range(max_connections)]
    started = time.perf_counter()
    interval = 1.0 / rate
    n = 0
    while True:
        due = started + n * interval
        if due - started >= seconds:
            break
        item = paths.next()
        if item is None:
            break
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((due, *item))
        n += 1
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    result.seconds = time.perf_counter() - started
    return result


# ---------------------------------------------------------------------------
# CPU accounting


def _machine_times() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine since boot."""
    fields = [float(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def background_load(seconds: float = 2.0) -> float:
    """Cores busy before we start (other work on the machine skews every figure)."""
    busy0, total0 = _machine_times()
    time.sleep(seconds)
    busy1, total1 = _machine_times()
    return (busy1 - busy0) / (total1 - total0) * (os.cpu_count() or 1) if total1 > total0 else 0.0


def cpu_speed() -> float:
    """Millions of simple Python loop steps per second on one core: a virtual machine's cores can
    be slower at one time than another, which moves every figure; printed before and after."""
    started = time.perf_counter()
    steps = 0
    while time.perf_counter() - started < 0.5:
        for _ in range(10_000):
            steps += 1
    return steps / (time.perf_counter() - started) / 1e6


def worker_memory(server: Server) -> list[int]:
    """Resident memory (MB) of each gunicorn worker."""
    sizes = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) != server.process.pid:
                continue
            status = (stat.parent / "status").read_text()
        except OSError:
            continue
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        if match:
            sizes.append(int(match.group(1)) // 1024)
    return sorted(sizes)


SERVER_PID: list[int] = []  # the gunicorn master, once started


def server_cpu_seconds() -> float:
    """CPU seconds used so far by gunicorn's master and workers (user + system)."""
    if not SERVER_PID:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == SERVER_PID[0] or int(fields[1]) == SERVER_PID[0]:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def measured(func: Any) -> Any:
    """Run one phase; note how busy the machine was, and how much of it was the server and this client."""

    def run(*args: Any, **kwargs: Any) -> PhaseResult:
        busy0, total0 = _machine_times()
        cpu0 = time.process_time()
        server0 = server_cpu_seconds()
        result: PhaseResult = asyncio.run(func(*args, **kwargs))
        busy1, total1 = _machine_times()
        cores = os.cpu_count() or 1
        result.machine_busy = (busy1 - busy0) / (total1 - total0) * cores if total1 > total0 else 0.0
        result.client_cpu = (time.process_time() - cpu0) / result.seconds if result.seconds else 0.0
        result.server_cpu = (server_cpu_seconds() - server0) / result.seconds if result.seconds else 0.0
        return result

    return run


run_closed = measured(closed_loop)
run_open = measured(open_loop)


# ---------------------------------------------------------------------------
# report


def row(result: PhaseResult) -> str:
    return (
        f"{result.name:<16}{result.count:>8}{result.rate:>9.1f}{result.pct(0.50):>8.1f}{result.pct(0.95):>8.1f}"
        f"{result.pct(0.99):>8.1f}{max(result.latencies_ms or [math.nan]):>9.1f}{result.errors:>8}"
        f"{result.machine_busy:>8.2f}{result.server_cpu:>8.2f}{result.client_cpu:>8.2f}"
        f"{max(0.0, result.machine_busy - result.server_cpu - result.client_cpu):>8.2f}"
    )


HEADER = (
    f"{'phase':<16}{'requests':>8}{'req/s':>9}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>9}{'errors':>8}"
    f"{'machine':>8}{'server':>8}{'client':>8}{'other':>8}\n"
    f"{'':<16}{'':>8}{'':>9}{'ms':>8}{'ms':>8}{'ms':>8}{'ms':>9}{'':>8}{'cores':>8}{'cores':>8}{'cores':>8}{'cores':>8}"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=60_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--duration", type=float, default=60.0, help="Seconds of measured load in all (both phases).")
    parser.add_argument("--max-requests", type=int, default=300_000, help="Stop once this many requests were sent.")
    parser.add_argument("--levels", default="1,2,4,8,16,32", help="Closed-loop concurrency levels.")
    parser.add_argument("--p99", type=float, default=50.0, help="Latency target (ms) for the open-loop search.")
    parser.add_argument("--workers", type=int, default=None, help="Override gunicorn workers (FINDER_WORKERS).")
    parser.add_argument("--threads", type=int, default=None, help="Override gunicorn threads (FINDER_THREADS).")
    parser.add_argument("--open-steps", type=int, default=4, help="Open-loop rates to try (bisection).")
    parser.add_argument("--rates", default="", help="Open-loop rates to run (req/s, comma-separated) instead of bisecting.")
    parser.add_argument("--requests-per-connection", type=int, default=8, help="Mean requests per keep-alive connection.")
    parser.add_argument("--row-cache", type=int, default=None, help="FINDER_ROW_CACHE_SIZE (default: the app's).")
    parser.add_argument(
        "--only",
        default="",
        metavar="PATH",
        help="Send only this path (e.g. /api/v1/vocabularies, the cheapest request through every layer): "
        "the floor that gunicorn, the app's per-request work and this client set on this machine.",
    )
    args = parser.parse_args(argv)
    CACHE.mkdir(parents=True, exist_ok=True)

    folder = ensure_data(args.records, args.seed)
    meta = json.loads((folder / "done.json").read_text())
    places = draw_places(folder, args.seed)
    pool = [(ONLY_KIND, args.only)] if args.only else request_paths(places, args.seed)
    levels = [int(v) for v in args.levels.split(",") if v.strip()]
    # Half the time for the closed-loop sweep, half for the open-loop search.
    closed_s = args.duration / 2 / len(levels)
    open_s = args.duration / 2 / max(1, len([v for v in args.rates.split(",") if v.strip()]) or args.open_steps)
    paths = Paths(pool, args.max_requests)

    speed_before = cpu_speed()
    background = background_load()
    if background > 0.2:
        print(f"WARNING: {background:.2f} cores were already busy before the benchmark started: figures will be low", flush=True)
    global REQUESTS_PER_CONNECTION
    REQUESTS_PER_CONNECTION = args.requests_per_connection
    server = start_server(folder, args.workers, args.threads, args.row_cache)
    SERVER_PID.append(server.process.pid)
    try:
        settings = _gunicorn_settings(server, args.threads)
        print(
            f"{meta['documents']:,} listings (FICTIONAL, seed {args.seed}); gunicorn {settings}; "
            f"{os.cpu_count()} cores shared by client and server; pool of {len(pool):,} requests "
            f"({len(places.postcodes)} postcodes, {len(places.outcodes)} districts, {len(places.towns)} towns, "
            f"{len(places.ids)} practitioners)",
            flush=True,
        )
        # Warm every worker: open the index and gazetteer, fill the caches (untimed).
        warm = Paths(pool, 400)
        run_closed(server.port, warm, 4, 30.0)

        print("\nclosed loop: each connection sends its next request when the last answer arrives")
        print(HEADER)
        closed: list[PhaseResult] = []
        for level in levels:
            result = run_closed(server.port, paths, level, closed_s)
            closed.append(result)
            print(row(result), flush=True)

        # Bisect between a rate surely within the target and the closed-loop ceiling (a fixed
        # schedule at the ceiling queues without bound, so the answer lies below it).
        ceiling = max(r.rate for r in closed)
        low, high = 0.3 * ceiling, ceiling
        print(f"\nopen loop: requests due at a fixed rate; latency counted from when each was due (target p99 <= {args.p99:g} ms)")
        print(HEADER)
        opened: list[PhaseResult] = []
        best: PhaseResult | None = None
        fixed = [float(v) for v in args.rates.split(",") if v.strip()]
        for step in range(len(fixed) or args.open_steps):
            rate = fixed[step] if fixed else (low + high) / 2
            result = run_open(server.port, paths, rate, open_s)
            opened.append(result)
            print(row(result), flush=True)
            if result.pct(0.99) <= args.p99 and result.errors == 0:
                low = rate
                if best is None or result.rate > best.rate:
                    best = result
            else:
                high = rate
        logged = server.logged_requests()
        memory = worker_memory(server)
        recycled = len(set(re.findall(r"Booting worker with pid: (\d+)", server.log_path.read_text(errors="replace"))))
    finally:
        server.stop()

    everything = [*closed, *opened]
    sent = sum(r.count for r in everything)
    errors = sum(r.errors for r in everything)
    print(f"\nsent {sent + 400:,} requests (400 of them warm-up); the server logged {sum(logged.values()):,} "
          f"(by status: {dict(sorted(logged.items()))}); errors {errors}")
    print(f"background load before the run: {background:.2f} cores; CPU speed {speed_before:.1f} M steps/s before, "
          f"{cpu_speed():.1f} after; worker memory at the end: {memory} MB; workers started during the run: {recycled}")
    shown = best or closed[0]
    print(f"\nlatency by request kind in '{shown.name}' (ms):")
    for kind in kinds_sent(shown):
        values = shown.by_kind.get(kind, [])
        print(f"  {kind:<36}{len(values):>7}  p50 {percentile(values, 0.5):6.1f}  p95 {percentile(values, 0.95):6.1f}  p99 {percentile(values, 0.99):6.1f}")
    print_stages(closed[0])
    full = closed[-1]
    if best is not None:
        summary = (
            f"RESULT load{' ' + args.only if args.only else ''}: {meta['documents']:,} listings, gunicorn {settings}: {best.rate:.0f} req/s with p99 "
            f"{best.pct(0.99):.1f} ms (p50 {best.pct(0.5):.1f}, p95 {best.pct(0.95):.1f}) <= {args.p99:g} ms target "
            f"(open loop); ceiling {ceiling:.0f} req/s (closed loop); errors {errors} of {sent:,} requests "
            f"(full load c={levels[-1]}: {full.errors}); client used {full.client_cpu:.2f} of {os.cpu_count()} cores"
        )
    else:
        summary = (
            f"RESULT load{' ' + args.only if args.only else ''}: {meta['documents']:,} listings, gunicorn {settings}: no rate tried kept p99 <= {args.p99:g} ms; "
            f"ceiling {ceiling:.0f} req/s; lowest p99 {min(r.pct(0.99) for r in everything):.1f} ms; errors {errors} of {sent:,}"
        )
    print("\n" + summary)
    return 0 if errors == 0 else 1


def kinds_sent(result: PhaseResult) -> list[str]:
    """The request kinds of the mix in its order, or the one path of ``--only``."""
    return [kind for kind, _ in MIX] if ONLY_KIND not in result.by_kind else [ONLY_KIND]


STAGE_COLUMNS = ("place", "understand", "search", "rows", "views", "map", "render", "other", "total")


def print_stages(result: PhaseResult) -> None:
    """Mean server milliseconds per stage and request kind (Server-Timing), from an uncontended phase."""
    print(f"\nserver time by stage in '{result.name}' (mean ms per request; one request at a time, so no queueing):")
    print(f"  {'kind':<36}{'n':>6}" + "".join(f"{name:>11}" for name in STAGE_COLUMNS))
    for kind in kinds_sent(result):
        spent = result.stages.get(kind)
        if not spent or not spent["requests"]:
            continue
        n = spent["requests"]
        print(f"  {kind:<36}{n:>6}" + "".join(f"{spent[name] / n:>11.2f}" for name in STAGE_COLUMNS))


def _gunicorn_settings(server: Server, threads: int | None) -> str:
    text = server.log_path.read_text(encoding="utf-8", errors="replace")
    workers = len(set(re.findall(r"Booting worker with pid: (\d+)", text)))
    from importlib import util

    spec = util.spec_from_file_location("gunicorn_conf", ROOT / "gunicorn.conf.py")
    assert spec is not None and spec.loader is not None
    conf = util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    return f"{workers} workers x {conf.worker_class} {threads or conf.threads} threads"


if __name__ == "__main__":
    raise SystemExit(main())
