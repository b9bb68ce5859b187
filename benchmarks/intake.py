"""How long the intake takes per file, without Prefect (the plain steps) and as a Prefect flow on
the command's local Prefect server (start-up included).

Run: .venv/bin/python benchmarks/intake.py [--only steps,pass,scan,flow]

- steps: each corpus file taken alone (take_file), one after another: time per file by outcome.
- pass: the corpus dropped at once and taken in one pass as the intake flow does (without
  Prefect): files read side by side by the reader workers, a few ahead of the one being filed.
  Runs against older versions too (then one file after another), for the figures before.
- scan: digital forms behind a scan read by OCR.
- flow: `blankett run` as a user runs it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from blankett.fixtures.corpus import build_corpus
from blankett.flows.home.settings import init_home, load_home
from blankett.flows.mail.delivery import OutboxDelivery
from blankett.flows.pipeline.intake import take_file
from blankett.flows.pipeline.resources import open_pipeline


def _home(root: Path) -> Path:
    init_home(root)
    settings = root / "blankett.toml"
    settings.write_text(settings.read_text().replace("# year = 2026", "year = 2026")
                        .replace("unfinished_grace_seconds = 60", "unfinished_grace_seconds = 0"))
    return root


def plain_steps() -> None:
    cases = build_corpus(2026)
    with tempfile.TemporaryDirectory() as tmp:
        root = _home(Path(tmp) / "home")
        home = load_home(root)
        pipeline = open_pipeline(home, delivery=OutboxDelivery(home.outbox))
        timings: dict[str, list[float]] = {}
        for case in cases:
            path = home.inbox / case.name
            path.write_bytes(case.data)
            start = time.perf_counter()
            taken = take_file(pipeline, path)
            timings.setdefault(taken.outcome, []).append((time.perf_counter() - start) * 1000)
        pipeline.close()
    print("| outcome | files | median ms | max ms |")
    print("|---|---|---|---|")
    for outcome, runs in sorted(timings.items()):
        print(f"| {outcome} | {len(runs)} | {statistics.median(runs):.1f} | {max(runs):.1f} |")
    total = sum(sum(r) for r in timings.values())
    print(f"\n{len(cases)} files taken in {total / 1000:.2f} s (hash, read, check, file, record, "
          "render the report; delivery not included)")


def one_pass(kinds: tuple[str | None, ...] | None = None) -> None:
    from blankett.flows.pipeline import intake
    from blankett.flows.pipeline.inbox import InboxFilter, StabilityTracker, wait_until_ready

    cases = [c for c in build_corpus(2026) if kinds is None or c.kind in kinds]
    read_ahead = getattr(intake, "ReadAhead", None)
    with tempfile.TemporaryDirectory() as tmp:
        root = _home(Path(tmp) / "home")
        home = load_home(root)
        pipeline = open_pipeline(home, delivery=OutboxDelivery(home.outbox))
        past = time.time() - 60
        for case in cases:
            path = home.inbox / case.name
            path.write_bytes(case.data)
            os.utime(path, (past, past))
        ready = wait_until_ready(home.inbox, InboxFilter(),
                                 StabilityTracker(home.settings.inbox.stable_seconds), 5.0)
        start = time.perf_counter()
        if read_ahead is None:
            taken = [take_file(pipeline, path) for path in ready]
        else:
            with read_ahead(pipeline, ready) as ahead:
                taken = [take_file(pipeline, path, ahead) for path in ready]
        seconds = time.perf_counter() - start
        pipeline.close()
    how = "read ahead by the reader workers" if read_ahead else "one after another"
    which = "the corpus" if kinds is None else f"the corpus's {', '.join(map(str, kinds))} forms"
    print(f"\nOne pass over {which}, {len(taken)} files ({how}): {seconds:.2f} s, "
          f"{seconds / len(taken) * 1000:.0f} ms a file")


def as_flow() -> None:
    cases = [c for c in build_corpus(2026) if c.kind][:20]
    with tempfile.TemporaryDirectory() as tmp:
        root = _home(Path(tmp) / "home")
        for case in cases:
            (root / "inbox" / case.name).write_bytes(case.data)
        past = time.time() - 60
        for path in (root / "inbox").iterdir():
            os.utime(path, (past, past))
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "blankett.flows", "run", "--home", str(root)],
                       check=True, capture_output=True)
        first = time.perf_counter() - start
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "blankett.flows", "run", "--home", str(root)],
                       check=True, capture_output=True)
        empty = time.perf_counter() - start
    print(f"\n`blankett run` over {len(cases)} forms, new home (the local Prefect server "
          f"creating its database): {first:.1f} s; an empty pass afterwards: {empty:.1f} s")


def scan_delay() -> None:
    """A scan dropped first, with digital forms behind it: how much later the digital forms are
    taken than without it, against the scan's own reading time."""
    from blankett.extractors import ocr
    from blankett.fixtures.answers import application, profile
    from blankett.fixtures.scans import Scan, scanned_file
    from blankett.fixtures.themes import THEMES

    if ocr.tesseract() is None:
        print("\n(no Tesseract: scans are not read, nothing to measure)")
        return
    digital = [c for c in build_corpus(2026) if c.kind in ("docx", "pdf-form", "pdf-text")][:10]
    scan = scanned_file(application(profile("Tanum", 5), THEMES[1], 2026, variant=0),
                        Scan(dpi=200, skew=1.0), "delay")

    def run(with_scan: bool) -> tuple[float, float]:
        with tempfile.TemporaryDirectory() as tmp:
            root = _home(Path(tmp) / "home")
            home = load_home(root)
            pipeline = open_pipeline(home, delivery=OutboxDelivery(home.outbox))
            files = ([("skannad.pdf", scan)] if with_scan else []) + [(c.name, c.data) for c in digital]
            start = time.perf_counter()
            scan_seconds = 0.0
            for name, data in files:
                path = home.inbox / name
                path.write_bytes(data)
                began = time.perf_counter()
                take_file(pipeline, path)
                if name == "skannad.pdf":
                    scan_seconds = time.perf_counter() - began
            pipeline.close()
            return time.perf_counter() - start, scan_seconds

    alone, _ = run(False)
    behind, scan_seconds = run(True)
    print(f"\n{len(digital)} digital forms taken in {alone:.1f} s alone, {behind:.1f} s behind a "
          f"2-page scan read by OCR in {scan_seconds:.1f} s: delayed by {behind - alone:.1f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default="steps,pass,scan,flow")
    only = set(parser.parse_args().only.split(","))
    if "steps" in only:
        plain_steps()
    if "pass" in only:
        one_pass(("docx", "pdf-form", "pdf-text"))
        one_pass()
    if "scan" in only:
        scan_delay()
    if "flow" in only:
        as_flow()
