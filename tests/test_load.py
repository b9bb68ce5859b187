"""Many files dropped at once while others are still being written slowly by other processes: all
taken, none lost, none filed twice, none taken half-written, memory bounded. The run of
benchmarks/load.py, smaller.

`BLANKETT_LOAD_FILES=2000 BLANKETT_LOAD_SLOW=20 .venv/bin/pytest -s tests/test_load.py` for the
long run (`-s` prints the figures)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

from blankett.fixtures.corpus import Case

FILES = int(os.environ.get("BLANKETT_LOAD_FILES", "50"))
SLOW = int(os.environ.get("BLANKETT_LOAD_SLOW", "4"))
# The intake process and a reader hold about 70 and 60 MB here, whether 50 files are taken or
# 2000. A blow-up (a reader holding an inflated stream, the intake holding what it read) passes
# this bound; a slow leak would not at this size: it shows in the figures printed with -s.
PEAK_MB = 600
# Damaged files are left alone this long after they last changed, in case their copy only
# paused (60 s by default, which alone would make a small run last a minute). The slow writers
# never pause: the stability wait (1 s) is what must keep them from being taken half-written,
# and this grace stays behind it.
GRACE_SECONDS = 5.0


def _load_benchmark() -> ModuleType:
    """benchmarks/load.py, which is a script and not in a package, under a name of its own."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "load.py"
    spec = importlib.util.spec_from_file_location("blankett_load_benchmark", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


load = _load_benchmark()


def test_files_dropped_at_once_while_others_are_written_are_each_filed_once(
        corpus: list[Case], tmp_path: Path) -> None:
    log = tmp_path / "intake.log"
    with log.open("wb") as stderr:
        result = load.run_load(FILES, SLOW, corpus=corpus, unfinished_grace_seconds=GRACE_SECONDS,
                               timeout=120 + FILES * 0.5, log=stderr)
    print()
    print("\n".join(result.lines()))

    assert result.half_written == [], "taken before its copy had ended"
    assert result.lost == [], "dropped and never filed"
    assert result.doubled == [], "filed more often than dropped"
    assert result.left_in_inbox == []
    assert result.inconsistent == [], "the store and the folders disagree"
    # Every dropped file filed once, duplicates under duplicates/; nothing else filed.
    assert result.filed == FILES + SLOW
    assert result.duplicates == result.outcomes.get("duplicate", 0)
    assert sum(n for outcome, n in result.outcomes.items() if outcome != "skipped") == FILES + SLOW
    assert 0 < result.intake_peak_mb < PEAK_MB
    assert 0 < result.worker_peak_mb < PEAK_MB


def test_without_the_stability_wait_the_run_sees_copies_taken_half_written(
        corpus: list[Case], tmp_path: Path) -> None:
    """The run above is not blind: with no stability wait and no grace for damaged files, the
    intake takes copies still in progress, and the run tells which. (Their filed bytes end up
    whole, as the writers go on writing into them where they were filed: only the store's
    record of what was read shows it.)"""
    with (tmp_path / "intake.log").open("wb") as stderr:
        result = load.run_load(20, 4, corpus=corpus, stable_seconds=0, unfinished_grace_seconds=0,
                               write_pause=0.2, timeout=120, log=stderr)
    print("\nwith no stability wait and no grace, as a check of the check (half-written expected):")
    print("\n".join(result.lines()))
    assert result.half_written
    assert all("slow-" in line for line in result.half_written)
    assert (result.lost, result.doubled, result.left_in_inbox) == ([], [], [])
