"""How long reading a form takes, per kind, over the generated corpus; many forms on one worker
and on two; and the CLI's start-up against the bare import of the libraries it reads with.

Run: .venv/bin/python benchmarks/extract.py [--repeat 5] [--files 200] [--only startup,kinds,workers]
Prints Markdown for BENCHMARKS.md.

- kinds: every corpus form read and checked in turn, as `blankett extract` does, each in a
  reader worker of the pool (reused from file to file; the first file waits for the pool's start).
- workers: `--files` forms read by a pool of one worker and of two (files a second), and the
  whole `blankett extract --json` over them.
- startup: `blankett extract --json` on one .docx, the whole process, against
  `python -X importtime -c "import pypdf, docx, pdfminer.high_level, pydantic"`, both as wall
  time, the median of `--repeat` runs taken in turn, and the ratio.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from blankett.fixtures.corpus import Case, build_corpus
from blankett.flows.pipeline.examine import Examiner
from blankett.models.limits import MB, Limits
from blankett.models.spec import load_routing, load_spec

IMPORTS = "import pypdf, docx, pdfminer.high_level, pydantic"


def per_kind(cases: list[Case], repeat: int) -> dict[str, list[float]]:
    examiner = Examiner(load_spec(), load_routing(), 2026, Limits())
    timings: dict[str, list[float]] = defaultdict(list)
    for case in cases:
        kind = case.kind or "refused"
        for _ in range(repeat):
            start = time.perf_counter()
            examiner.examine_bytes(case.name, case.data)
            timings[kind].append((time.perf_counter() - start) * 1000)
    return timings


def _forms(cases: list[Case], count: int) -> list[Case]:
    forms = [c for c in cases if c.kind in ("docx", "pdf-form", "pdf-text")]
    return [forms[i % len(forms)] for i in range(count)]


def on_workers(cases: list[Case], size: int) -> float:
    """Seconds for a pool of `size` workers to read the forms (started and warm beforehand)."""
    from blankett.extractors import ReadContext
    from blankett.flows.pipeline.isolation import ReaderPool

    context = ReadContext(load_spec())
    pool = ReaderPool(size)
    try:
        warm = [pool.submit(c.data, context, seconds=60, memory_bytes=1024 * MB) for c in cases[:size]]
        for future in warm:
            future.result()
        start = time.perf_counter()
        futures = [pool.submit(c.data, context, seconds=60, memory_bytes=1024 * MB) for c in cases]
        for future in futures:
            future.result()
        return time.perf_counter() - start
    finally:
        pool.close()


def whole_extract(cases: list[Case], repeat: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for n, case in enumerate(cases):
            path = Path(tmp) / f"{n:03d}-{case.name}"
            path.write_bytes(case.data)
            paths.append(str(path))
        runs = []
        for _ in range(repeat):
            start = time.perf_counter()
            subprocess.run([_command(), "extract", "--json", *paths], capture_output=True, check=False)
            runs.append(time.perf_counter() - start)
    return runs


def _command() -> str:
    """The `blankett` command beside this Python, as a person runs it."""
    return str(Path(sys.executable).with_name("blankett"))


def startup(repeat: int, sample: Path) -> tuple[list[float], list[float]]:
    """Wall ms of the bare imports and of `blankett extract --json sample`, taken in turn."""
    imports, extract = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-X", "importtime", "-c", IMPORTS], capture_output=True,
                       check=True)
        imports.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        subprocess.run([_command(), "extract", "--json", str(sample)], capture_output=True,
                       check=True)
        extract.append((time.perf_counter() - start) * 1000)
    return imports, extract


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--only", default="kinds,workers,startup")
    args = parser.parse_args()
    only = set(args.only.split(","))
    cases = build_corpus(2026)
    print(f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores, "
          f"repeat {args.repeat}\n")
    if "kinds" in only:
        print("| kind | forms×runs | median ms | p95 ms | max ms |")
        print("|---|---|---|---|---|")
        for kind, runs in sorted(per_kind(cases, args.repeat).items()):
            runs.sort()
            p95 = runs[min(len(runs) - 1, int(len(runs) * 0.95))]
            print(f"| {kind} | {len(runs)} | {statistics.median(runs):.1f} | {p95:.1f} | "
                  f"{runs[-1]:.1f} |")
    if "workers" in only:
        forms = _forms(cases, args.files)
        print(f"\n{len(forms)} forms (docx, fillable and printed PDFs in turn), read only:")
        one = None
        for size in (1, 2):
            try:
                seconds = on_workers(forms, size)
            except ImportError:  # a version before the pool (for the figures before it)
                print("- (no reader pool in this version)")
                break
            one = one or seconds
            print(f"- {size} worker{'s' * (size > 1)}: {seconds:.2f} s, "
                  f"{len(forms) / seconds:.0f} files a second ({one / seconds:.2f}x)")
        runs = whole_extract(forms, max(1, args.repeat // 2))
        print(f"- `blankett extract --json` over them, whole process: median "
              f"{statistics.median(runs):.2f} s over {len(runs)} runs")
    if "startup" in only:
        with tempfile.TemporaryDirectory() as tmp:
            sample = Path(tmp) / "form.docx"
            sample.write_bytes(next(c for c in cases if c.kind == "docx").data)
            imports, extract = startup(args.repeat, sample)
        ratio = statistics.median(extract) / statistics.median(imports)
        print(f"\n| one .docx, whole process, wall | median ms | runs |\n|---|---|---|\n"
              f"| `python -X importtime -c \"{IMPORTS}\"` | {statistics.median(imports):.0f} | "
              f"{len(imports)} |\n"
              f"| `blankett extract --json form.docx` | {statistics.median(extract):.0f} | "
              f"{len(extract)} |\n\nratio {ratio:.2f}")


if __name__ == "__main__":
    main()
