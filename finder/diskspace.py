"""Disk-full failures as one clear line: which path, about how much space, what to run after.

Writers (ingest, index build and update, geo build) turn ENOSPC (and SQLite's
"database or disk is full", PostgreSQL's disk_full) into :class:`DiskFull`,
whose message never carries row data: only the path and sizes.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

from finder.errors import DiskFull

_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether an error (or one it was raised from) means the disk or quota is full."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, OSError) and exc.errno in _ERRNOS:
            return True
        original = getattr(exc, "orig", None)  # SQLAlchemy's DBAPIError wraps the driver's error
        if original is not None and original is not exc and is_disk_full_text(original):
            return True
        if is_disk_full_text(exc):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def is_disk_full_text(exc: BaseException) -> bool:
    # Only the driver's own error class and code, never the statement (which may quote rows).
    if getattr(exc, "sqlstate", None) == "53100" or getattr(exc, "pgcode", None) == "53100":
        return True
    name = type(exc).__name__
    if name in {"OperationalError", "DiskFull"} and exc.args:
        first = str(exc.args[0]).lower()
        return "database or disk is full" in first or "no space left on device" in first
    return False


def free_bytes(path: Path) -> int | None:
    for candidate in (path, *path.parents):
        try:
            return shutil.disk_usage(candidate).free
        except OSError:
            continue
    return None


def _mb(size: int) -> str:
    return f"{max(1, round(size / 1e6)):,} MB"


def disk_full(path: Path | str, needed_bytes: int | None, then: str, *, kept: str = "") -> DiskFull:
    """The one-line error: ``disk full writing <path> (needs about N MB, M MB free): free space, then run `...```."""
    path = Path(path)
    free = free_bytes(path)
    sizes = []
    if needed_bytes:
        sizes.append(f"needs about {_mb(needed_bytes)}")
    if free is not None:
        sizes.append(f"{_mb(free)} free" if free >= 1e6 else "under 1 MB free")
    detail = f" ({', '.join(sizes)})" if sizes else ""
    return DiskFull(f"disk full writing {path}{detail}{'; ' + kept if kept else ''}: free some space, then run `{then}`")
