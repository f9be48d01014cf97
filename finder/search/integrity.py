"""Checksum manifests: a damaged build is refused at open, never served.

Every build ends by writing ``manifest.json``: the size and SHA-256 digest of
each of its files. Opening a build checks sizes (a truncated file) and digests
(a changed one) before anything reads the files, so a torn ``.seg``,
``arrays.npz`` or ``meta.json`` becomes one clear 503 ("run `finder index
build`") instead of a 500 on every search, or a worker killed by SIGBUS when
Whoosh maps a file shorter than its table of contents says.

Hashing is the cost of opening: builds share most files with their parent (an
update hard-links the segments), so a process remembers which files it has
already verified by (device, inode, size, mtime) and hashes only new ones. Our
own writers never change a file in place (new builds, then renames), so a file
whose identity is unchanged still holds the bytes that were verified.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from finder.errors import IndexDamaged

MANIFEST = "manifest.json"
_CHUNK = 1 << 20

_verified: dict[tuple[int, int, int, int], str] = {}
_verified_lock = threading.Lock()


def file_digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _identity(stat: os.stat_result) -> tuple[int, int, int, int]:
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _files(build_path: Path) -> list[Path]:
    return sorted(
        p for p in build_path.rglob("*") if p.is_file() and p.name != MANIFEST and not p.name.endswith("LOCK")
    )


def write_manifest(build_path: Path) -> dict[str, Any]:
    """Record the size and digest of every file of a finished build (call last, before the rename)."""
    files: dict[str, dict[str, Any]] = {}
    for path in _files(build_path):
        stat = path.stat()
        key = _identity(stat)
        with _verified_lock:
            digest = _verified.get(key)
        if digest is None:
            digest = file_digest(path)
            with _verified_lock:
                _verified[key] = digest
        files[path.relative_to(build_path).as_posix()] = {"size": stat.st_size, "sha256": digest}
    manifest = {"algorithm": "sha256", "files": files}
    target = build_path / MANIFEST
    with target.open("w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    return manifest


def read_manifest(build_path: Path) -> dict[str, dict[str, Any]]:
    name = build_path.name
    try:
        manifest = json.loads((build_path / MANIFEST).read_text(encoding="utf-8"))
        files = manifest["files"]
        if not isinstance(files, dict) or not files:
            raise ValueError("no files listed")
    except FileNotFoundError:
        raise IndexDamaged(f"the search index build {name} has no checksum manifest: run `finder index build`") from None
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise IndexDamaged(f"the search index build {name} has a damaged manifest: run `finder index build`") from None
    return files


def verify_build(build_path: Path, *, digests: bool = True, files: dict[str, dict[str, Any]] | None = None) -> None:
    """Raise IndexDamaged unless every file of the build matches its manifest.

    ``digests=False`` checks sizes only (a stat per file): cheap enough for every
    readiness probe, and it catches the truncation that would crash a reader.
    ``files``: the manifest already read (a serving worker keeps it).
    """
    name = build_path.name
    if files is None:
        files = read_manifest(build_path)
    for relative, expected in files.items():
        path = build_path / relative
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise IndexDamaged(f"the search index build {name} is damaged ({relative} is missing): run `finder index build`") from None
        size = int(expected.get("size", -1))
        if stat.st_size != size:
            raise IndexDamaged(
                f"the search index build {name} is damaged ({relative} is {stat.st_size} bytes, "
                f"expected {size}): run `finder index build`"
            )
        if not digests:
            continue
        key = _identity(stat)
        with _verified_lock:
            known = _verified.get(key)
        if known is None:
            known = file_digest(path)
        if known != expected.get("sha256"):
            raise IndexDamaged(
                f"the search index build {name} is damaged ({relative} does not match its checksum): "
                "run `finder index build`"
            )
        with _verified_lock:
            _verified[key] = known
