"""The CURRENT pointer is swapped atomically: a reader sees the whole old name or the whole new one.

Two ways to break that are checked here without timing luck:

* a switch that fails half-way through writing (the disk fills up: a file-size
  limit makes the write stop after a few bytes) must leave CURRENT naming the
  old build, so a freshly started worker still serves it; written in place,
  the pointer would be truncated or half a name;
* the new name is written in full to a file beside CURRENT and renamed over
  it: at the moment of the rename CURRENT still names the old build whole.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from finder.search import SearchIndex
from finder.search.indexer import CURRENT, current_build, switch_current
from tests.plugins.search import SeededIndex

ROOT = Path(__file__).resolve().parents[2]

#: Run switch_current in a process that may write at most a few bytes to any file (then EFBIG).
SWITCH_WITH_A_FULL_DISK = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a refused write raises OSError instead of killing us
from finder.search.indexer import switch_current
resource.setrlimit(resource.RLIMIT_FSIZE, (4, 4))
switch_current(sys.argv[1], sys.argv[2])
"""


@pytest.fixture
def two_builds(seeded_index: SeededIndex) -> tuple[SeededIndex, str, str]:
    """The seeded index built twice: (seeded, serving build, the other finished build)."""
    first = current_build(seeded_index.index_dir)
    seeded_index.rebuild()
    second = current_build(seeded_index.index_dir)
    assert first and second and first != second
    return seeded_index, second, first


def test_a_switch_that_fails_mid_write_leaves_the_old_index_serving(two_builds: tuple[SeededIndex, str, str]) -> None:
    seeded, serving, other = two_builds
    index_dir = seeded.index_dir
    proc = subprocess.run(
        [sys.executable, "-c", SWITCH_WITH_A_FULL_DISK, str(index_dir), other],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
    )
    assert proc.returncode != 0 and "File too large" in proc.stderr, proc.stderr[-2000:]
    # The pointer is untouched: the whole old name, and a new worker opens that build.
    assert (index_dir / CURRENT).read_text(encoding="utf-8") == serving + "\n"
    assert current_build(index_dir) == serving
    fresh = SearchIndex(index_dir)
    try:
        with fresh.snapshot() as snap:
            assert snap.name == serving
    finally:
        fresh.close()
    # Once there is room again, the switch goes through.
    switch_current(index_dir, other)
    assert current_build(index_dir) == other


def test_the_new_name_is_renamed_over_the_pointer_whole(
    two_builds: tuple[SeededIndex, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded, serving, other = two_builds
    pointer = seeded.index_dir / CURRENT
    renames: list[dict[str, Any]] = []
    real_replace = os.replace

    def watching_replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if Path(dst) == pointer:
            renames.append(
                {
                    "same_directory": Path(src).parent == pointer.parent,
                    "new_name": Path(src).read_text(encoding="utf-8"),
                    "pointer_before": pointer.read_text(encoding="utf-8"),
                }
            )
        real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", watching_replace)
    switch_current(seeded.index_dir, other)
    monkeypatch.undo()
    # One rename, from beside the pointer (same file system), of a file already holding
    # the whole new name, while the pointer still named the old build.
    assert renames == [{"same_directory": True, "new_name": other + "\n", "pointer_before": serving + "\n"}]
    assert pointer.read_text(encoding="utf-8") == other + "\n"
    assert sorted(p.name for p in seeded.index_dir.iterdir() if p.name.startswith(CURRENT)) == [CURRENT]
