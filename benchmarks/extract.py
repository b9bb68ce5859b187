"""How long reading a form takes, per kind, over the generated corpus; and the CLI's start-up.

Run: .venv/bin/python benchmarks/extract.py [--repeat 5]
Prints a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from blankett.fixtures.corpus import build_corpus
from blankett.flows.pipeline.examine import Examiner
from blankett.models.limits import Limits
from blankett.models.spec import load_routing, load_spec


def per_kind(repeat: int) -> dict[str, list[float]]:
    examiner = Examiner(load_spec(), load_routing(), 2026, Limits())
    timings: dict[str, list[float]] = defaultdict(list)
    for case in build_corpus(2026):
        kind = case.kind or "refused"
        for _ in range(repeat):
            start = time.perf_counter()
            examiner.examine_bytes(case.name, case.data)
            timings[kind].append((time.perf_counter() - start) * 1000)
    return timings


def startup(repeat: int, sample: Path) -> list[float]:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "blankett.flows", "extract", "--json", str(sample)],
                       capture_output=True, check=True)
        runs.append((time.perf_counter() - start) * 1000)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"Python {platform.python_version()}, {platform.machine()}, repeat {args.repeat}\n")
    print("| kind | forms×runs | median ms | p95 ms | max ms |")
    print("|---|---|---|---|---|")
    for kind, runs in sorted(per_kind(args.repeat).items()):
        runs.sort()
        p95 = runs[min(len(runs) - 1, int(len(runs) * 0.95))]
        print(f"| {kind} | {len(runs)} | {statistics.median(runs):.1f} | {p95:.1f} | {runs[-1]:.1f} |")
    with tempfile.TemporaryDirectory() as tmp:
        sample = Path(tmp) / "form.docx"
        sample.write_bytes(next(c for c in build_corpus(2026) if c.kind == "docx").data)
        runs = startup(args.repeat, sample)
    print(f"\n`blankett extract --json` on one .docx, whole process: median "
          f"{statistics.median(runs):.0f} ms over {len(runs)} runs")


if __name__ == "__main__":
    main()
