"""Many files at once: N forms and broken files dropped into the inbox together while other
processes write more slowly (4 KB every 50 ms), half of them begun before the intake's first look,
the other half once it has taken everything and waits for new files, when it reads at once what
it finds ready. Reports the time, the peak memory of the intake process and of its largest
worker, and whether anything was lost, filed twice or taken half-written. A file read before its
copy ended is recorded in the store with the bytes read, and its writer goes on writing into it
where it was filed: the filed bytes alone cannot tell, the record against them does.

The intake runs in a process of its own, as `blankett watch` would: started fresh, it imports
only what intake needs, so its peak is the intake's, not the corpus generator's (about 160 MB)
nor that of whatever ran before it in the same process (a pytest session). That peak is read
from /proc (VmHWM), not from getrusage, where a process started by exec keeps the peak of the
process that started it. For the same reason the slow writers are started by the run, not by the
intake. (The first version of this script ran everything in one process: its "largest worker"
was a slow writer carrying the corpus generator's peak, and the workers themselves, reaped by
their forkserver, were never counted.)

Run: .venv/bin/python benchmarks/load.py [--files 2000] [--slow 20]
The same check in CI, smaller: tests/test_load.py.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing.forkserver
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypedDict

from sqlalchemy import select

from blankett.flows.home.settings import Home, init_home, load_home
from blankett.flows.mail.delivery import OutboxDelivery
from blankett.flows.mail.messaging import deliver_pending
from blankett.flows.mail.reports import searchable_copy
from blankett.flows.pipeline.inbox import InboxFilter, StabilityTracker, wait_until_ready
from blankett.flows.pipeline.intake import NOTE_SUFFIX, ReadAhead, recover, take_file
from blankett.flows.pipeline.isolation import readers
from blankett.flows.pipeline.resources import open_pipeline, relative
from blankett.flows.store.database import Store, Submission

if TYPE_CHECKING:
    from blankett.fixtures.corpus import Case

YEAR = 2026

SLOW_WRITER = """
import sys, time
data = open(sys.argv[1], "rb").read()
with open(sys.argv[2], "wb") as out:
    for i in range(0, len(data), 4096):
        out.write(data[i:i + 4096]); out.flush(); time.sleep(float(sys.argv[3]))
"""

# What the run and its intake process tell each other, as files in the run's folder.
_READY = "intake-ready"  # the intake process is up and waits for "go" on its stdin
_IDLE = "intake-idle"  # the intake has found the inbox empty and waits for new files
_WRITERS_DONE = "writers-finished"  # every slow writer has closed its file
_MEASURED = "intake.json"  # the intake process's outcomes, time and memory


class LoadError(RuntimeError):
    """The run itself failed: the intake process died or did not finish in time."""


@dataclass(frozen=True)
class LoadResult:
    files: int  # dropped at once
    slow: int  # written slowly while the intake ran
    elapsed_seconds: float  # from the intake's first look until the writers were done and
    # the inbox empty
    outcomes: dict[str, int]  # what take_file returned, "skipped" included (taken again later)
    filed: int  # files in archive/ and failed/, duplicates included, notes not
    duplicates: int  # of those, the ones under duplicates/
    intake_peak_mb: int  # the intake process itself
    worker_peak_mb: int  # its largest reader process (or the forkserver they are forked from)
    lost: list[str] = field(default_factory=list)  # dropped, and filed fewer times than dropped
    doubled: list[str] = field(default_factory=list)  # filed more times than dropped
    half_written: list[str] = field(default_factory=list)  # read before the copy had ended
    left_in_inbox: list[str] = field(default_factory=list)
    inconsistent: list[str] = field(default_factory=list)  # the store and the folders disagree

    @property
    def total(self) -> int:
        return self.files + self.slow

    @property
    def files_per_second(self) -> float:
        return self.total / self.elapsed_seconds

    @property
    def problems(self) -> list[str]:
        return [f"{what}: {item}" for what, items in (
            ("lost", self.lost), ("doubled", self.doubled), ("half-written", self.half_written),
            ("left in the inbox", self.left_in_inbox), ("inconsistent", self.inconsistent))
            for item in items]

    def lines(self) -> list[str]:
        """The report, as the script prints it."""
        lines = [f"{self.total} files ({self.slow} written slowly meanwhile) in "
                 f"{self.elapsed_seconds:.1f} s ({self.files_per_second:.1f} files/s): "
                 f"{self.outcomes}",
                 f"peak memory: intake process {self.intake_peak_mb} MB, largest worker "
                 f"{self.worker_peak_mb} MB",
                 f"every file filed exactly once, byte for byte: {not self.problems}"]
        return lines + [f"  {problem}" for problem in self.problems]


def run_load(files: int, slow: int, *, stable_seconds: float = 1.0,
             unfinished_grace_seconds: float = 60.0, write_pause: float = 0.05, seed: int = 1,
             corpus: Sequence[Case] | None = None, timeout: float | None = None,
             log: IO[bytes] | int | None = None) -> LoadResult:
    """Drop `files` files into a new home's inbox at once (one in ten the same bytes as an
    earlier one, the others made distinct) and have `slow` more written 4 KB every `write_pause`
    seconds by other processes while an intake process takes files until the writers are done
    and the inbox is empty; then check every file against the archive, failed/ and the store.

    `corpus` saves building it again (the cases of `build_corpus(2026)`); `log` receives the
    intake process's stderr (its log lines), by default this process's stderr. Raises LoadError
    if the intake process fails or takes longer than `timeout` seconds in all."""
    if corpus is None:
        from blankett.fixtures.corpus import build_corpus

        corpus = build_corpus(YEAR)
    deadline = None if timeout is None else time.monotonic() + timeout
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="blankett-load-") as tmp:
        work = Path(tmp)
        home = _make_home(work / "home", stable_seconds, unfinished_grace_seconds)
        expected: Counter[str] = Counter()
        names: dict[str, str] = {}
        for n in range(files):
            case = rng.choice(corpus)
            # One in ten a duplicate of an earlier file; the others made distinct.
            data = case.data if n % 10 == 0 else case.data + b"\n%d\n" % n
            name = f"{n:05d}-{case.name}"
            (home.inbox / name).write_bytes(data)
            expected[_sha(data)] += 1
            names.setdefault(_sha(data), name)
        sources = work / "sources"
        sources.mkdir()
        jobs: list[tuple[Path, Path]] = []
        for n in range(slow):
            case = rng.choice([c for c in corpus if c.kind])
            source = sources / f"slow-{n}"
            data = case.data + b"\nslow %d\n" % n
            source.write_bytes(data)
            expected[_sha(data)] += 1
            target = home.inbox / f"slow-{n}-{case.name}"
            names[_sha(data)] = target.name
            jobs.append((source, target))

        measured = _run_intake(work, home, jobs, write_pause, deadline, log)
        found = _check(home, expected, names)
    outcomes = measured["outcomes"]
    taken = sum(n for outcome, n in outcomes.items() if outcome != "skipped")
    if taken != files + slow:
        found.inconsistent.append(f"{files + slow} files dropped, {taken} taken")
    if outcomes.get("duplicate", 0) != found.duplicates:
        found.inconsistent.append(f"{outcomes.get('duplicate', 0)} taken as duplicates, "
                                  f"{found.duplicates} under duplicates/")
    return LoadResult(files=files, slow=slow, elapsed_seconds=measured["elapsed"],
                      outcomes=outcomes, filed=found.filed, duplicates=found.duplicates,
                      intake_peak_mb=measured["intake_peak_mb"],
                      worker_peak_mb=measured["worker_peak_mb"], lost=found.lost,
                      doubled=found.doubled, half_written=found.half_written,
                      left_in_inbox=found.left_in_inbox, inconsistent=found.inconsistent)


def _make_home(root: Path, stable_seconds: float, unfinished_grace_seconds: float) -> Home:
    init_home(root)
    (root / "blankett.toml").write_text(
        f"[grant]\nyear = {YEAR}\n\n[inbox]\nstable_seconds = {stable_seconds}\n"
        f"unfinished_grace_seconds = {unfinished_grace_seconds}\n", encoding="utf-8")
    return load_home(root)


class _Measured(TypedDict):
    outcomes: dict[str, int]
    elapsed: float
    intake_peak_mb: int
    worker_peak_mb: int


def _run_intake(work: Path, home: Home, jobs: list[tuple[Path, Path]], write_pause: float,
                deadline: float | None, log: IO[bytes] | int | None) -> _Measured:
    """Start the intake process. Once it is up, start the first half of the slow writers, and
    let it look at the inbox when each of their files has begun. Start the other half once it
    has taken everything and waits for new files: it then looks at the inbox every 50 ms and
    reads at once what it finds ready, when a copy in progress is likeliest to be taken."""
    def left() -> float | None:
        return None if deadline is None else max(deadline - time.monotonic(), 0.0)

    def waiting(until: str) -> None:
        if intake.poll() is not None:
            raise LoadError(f"the intake process exited (status {intake.returncode}) {until}")
        if any(writer.poll() for writer in writers):
            raise LoadError("a slow writer failed")
        if left() == 0.0:
            raise LoadError(f"the run did not finish in time; it was waiting {until}")
        time.sleep(0.01)

    def write(some: list[tuple[Path, Path]]) -> list[subprocess.Popen[bytes]]:
        return [subprocess.Popen([sys.executable, "-c", SLOW_WRITER, str(source), str(target),
                                  str(write_pause)]) for source, target in some]

    env = {**os.environ, "PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED", "0")}
    intake = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--intake", str(work)],
                              stdin=subprocess.PIPE, stderr=log, env=env)
    first, then = jobs[:(len(jobs) + 1) // 2], jobs[(len(jobs) + 1) // 2:]
    writers: list[subprocess.Popen[bytes]] = []
    try:
        while not (work / _READY).exists():
            waiting("before it was ready")
        writers = write(first)
        while not all(target.exists() and target.stat().st_size for _, target in first):
            waiting("for the first slow writers to begin")
        assert intake.stdin is not None
        intake.stdin.write(b"go\n")
        intake.stdin.close()
        while not (work / _IDLE).exists():
            waiting("for the intake to take every file and wait for more")
        writers += write(then)
        for writer in writers:
            if writer.wait(timeout=left()) != 0:
                raise LoadError(f"a slow writer failed (exit status {writer.returncode})")
        (work / _WRITERS_DONE).touch()
        intake.wait(timeout=left())
    except subprocess.TimeoutExpired:
        raise LoadError("the run did not finish in time") from None
    finally:
        for process in [*writers, intake]:
            if process.poll() is None:
                process.kill()
                process.wait()
    if intake.returncode != 0 or not (work / _MEASURED).exists():
        raise LoadError(f"the intake process failed (exit status {intake.returncode})")
    measured: _Measured = json.loads((work / _MEASURED).read_text(encoding="utf-8"))
    return measured


def _intake(work: Path) -> None:
    """The intake process: passes over the inbox as the `intake` flow makes them, without
    Prefect, until the writers are done and the inbox is empty."""
    parent = os.getppid()
    home = load_home(work / "home")
    pipeline = open_pipeline(home, delivery=OutboxDelivery(home.outbox))
    (work / _READY).touch()
    if not sys.stdin.readline():
        return  # the run was given up
    start = time.monotonic()
    outcomes: Counter[str] = Counter()
    while os.getppid() == parent:
        recover(pipeline)
        tracker = StabilityTracker(home.settings.inbox.stable_seconds)
        ready = wait_until_ready(home.inbox, InboxFilter(), tracker, 3.0)
        with ReadAhead(pipeline, ready) as ahead:
            for path in ready:
                outcomes[take_file(pipeline, path, ahead).outcome] += 1
        deliver_pending(pipeline)
        if not any(home.inbox.iterdir()):
            if (work / _WRITERS_DONE).exists():
                break
            (work / _IDLE).touch()
            time.sleep(0.05)  # as a watcher waits for the next file
    elapsed = time.monotonic() - start
    pipeline.close()
    own = _own_peak_mb()
    readers().close()  # its idle workers hold the forkserver open
    _stop_forkserver()
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    (work / _MEASURED).write_text(json.dumps({"outcomes": dict(outcomes), "elapsed": elapsed,
                                              "intake_peak_mb": own, "worker_peak_mb": workers}),
                                  encoding="utf-8")


def _own_peak_mb() -> int:
    """This process's peak resident memory (Linux). Not getrusage's: a process started by exec
    keeps there the peak of the process that started it, here the run's, corpus and all."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    raise LoadError("no VmHWM in /proc/self/status: the peak memory is measured on Linux only")


def _stop_forkserver() -> None:
    """End the forkserver the readers are forked from, and wait for it (once the reader pool's
    workers have ended: each holds it open while it lives). It reaps every worker, so
    once it is reaped their peak counts among this process's children in getrusage; until then
    no worker is counted at all. The forkserver also keeps there the peak this process had when
    it started the forkserver, at its first read: about what a worker holds when it starts
    (both about 60 MB), so the figure is the largest worker's unless a worker is smaller."""
    server = getattr(multiprocessing.forkserver, "_forkserver", None)
    stop = getattr(server, "_stop", None)  # private, but in every Python since 3.8
    if stop is None:
        raise LoadError("cannot stop the forkserver to measure its workers on this Python")
    stop()


@dataclass
class _Found:
    filed: int = 0
    duplicates: int = 0
    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    half_written: list[str] = field(default_factory=list)
    left_in_inbox: list[str] = field(default_factory=list)
    inconsistent: list[str] = field(default_factory=list)


def _check(home: Home, expected: Counter[str], names: dict[str, str]) -> _Found:
    """Every dropped file in archive/ or failed/ as many times as it was dropped, byte for byte;
    each filed file as the store recorded it when it was taken (a file read before its copy
    ended is recorded with the bytes read, and its writer goes on writing into it where it was
    filed); nothing left in the inbox."""
    found = _Found()
    store = Store(home.database_url)
    try:
        with store.session() as session:
            records = {s.stored_path: (s.sha256, s.state, s.size, s.original_name)
                       for s in session.scalars(select(Submission))}
    finally:
        store.close()
    recorded = {sha for sha, _, _, _ in records.values()}
    notes = {stored + NOTE_SUFFIX for stored, (_, state, _, _) in records.items() if state == "failed"}
    # A scan's searchable copy, made by OCR, is filed beside it and belongs to its record.
    notes |= {relative(home, searchable_copy(home.root / stored)) for stored in records}
    filed: Counter[str] = Counter()
    for place in (home.archive, home.failed):
        for path in sorted(place.rglob("*")):
            stored = relative(home, path)
            if not path.is_file() or stored in notes:
                continue
            data = path.read_bytes()
            sha = _sha(data)
            filed[sha] += 1
            if "duplicates" in path.relative_to(place).parts:
                found.duplicates += 1
                if sha not in recorded:  # its bytes when taken were, or it would be recorded
                    found.half_written.append(f"{stored}: taken as a duplicate, and no file "
                                              "recorded has its bytes now")
            elif stored not in records:
                found.inconsistent.append(f"{stored}: filed, not recorded")
            elif records[stored][0] != sha:
                size = records[stored][2]
                found.half_written.append(f"{records[stored][3]}: read at {size} bytes, filed as "
                                          f"{stored}, {len(data)} bytes there now")
    found.filed = sum(filed.values())
    for stored, (_, state, _, name) in records.items():
        if state not in ("archived", "failed"):
            found.inconsistent.append(f"{name}: recorded as {state!r}")
        if not (home.root / stored).is_file():
            found.inconsistent.append(f"{name}: recorded as {stored}, not there")
    for sha, count in sorted(expected.items()):
        if filed[sha] < count:
            found.lost.append(f"{names[sha]}: filed {filed[sha]} of {count} times")
        elif filed[sha] > count:
            found.doubled.append(f"{names[sha]}: filed {filed[sha]} of {count} times")
    for sha in sorted(filed.keys() - expected.keys()):
        found.half_written.append(f"{sha[:12]}: {filed[sha]} filed file(s) whose bytes were never "
                                  "dropped")
    found.left_in_inbox = sorted(p.name for p in home.inbox.iterdir())
    return found


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--slow", type=int, default=20, help="files written slowly meanwhile")
    parser.add_argument("--intake", type=Path, help=argparse.SUPPRESS)  # the intake process
    args = parser.parse_args()
    if args.intake is not None:
        _intake(args.intake)
        return
    result = run_load(args.files, args.slow)
    print("\n".join(result.lines()))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
