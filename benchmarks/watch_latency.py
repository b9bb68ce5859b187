"""How long `blankett watch` takes from a finished copy in the inbox to the consultant's report,
and how long `blankett run` takes with nothing new.

A form is written under a temporary name and renamed into the inbox, as copy tools and browsers
finish a file; the time runs from that rename until the report's .eml is in the outbox. Each
drop waits for the last one's report, so that the figures are one file's latency, not a queue's.

Run: .venv/bin/python benchmarks/watch_latency.py [--drops 20] [--stable 2.0]
Prints Markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from blankett.fixtures.corpus import build_corpus
from blankett.flows.home.settings import init_home


def _home(root: Path, stable: float) -> Path:
    init_home(root)
    settings = root / "blankett.toml"
    text = settings.read_text().replace("# year = 2026", "year = 2026")
    text = text.replace("stable_seconds = 2.0", f"stable_seconds = {stable}")
    settings.write_text(text)
    return root


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "BLANKETT_"))}
    env.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
    return env


def _reports(root: Path) -> int:
    return sum(1 for _ in (root / "outbox").rglob("*.eml"))


def watch_latency(drops: int, stable: float) -> list[float]:
    forms = [c for c in build_corpus(2026) if c.kind in ("docx", "pdf-form", "pdf-text")]
    latencies: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = _home(Path(tmp) / "home", stable)
        said = root / "watch.out"
        with said.open("w") as out:
            watch = subprocess.Popen([sys.executable, "-m", "blankett.flows", "watch", "--home",
                                      str(root)], stdout=out, stderr=subprocess.STDOUT, env=_env())
        try:
            while "Watching" not in said.read_text():
                assert watch.poll() is None, said.read_text()
                time.sleep(0.1)
            time.sleep(2)  # its first, empty pass
            for number in range(drops):
                case = forms[number % len(forms)]
                before = _reports(root)
                partial = root / "inbox" / f"{number:03d}-{case.name}.part"
                partial.write_bytes(case.data)
                start = time.perf_counter()
                partial.rename(partial.with_suffix(""))
                deadline = start + 120
                while _reports(root) == before and time.perf_counter() < deadline:
                    time.sleep(0.01)
                latencies.append(time.perf_counter() - start)
                time.sleep(0.5)
        finally:
            watch.send_signal(signal.SIGTERM)
            watch.wait(timeout=60)
            print(said.read_text(), file=sys.stderr)
    return latencies


def run_nothing_new(repeat: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = _home(Path(tmp) / "home", 2.0)
        command = [sys.executable, "-m", "blankett.flows", "run", "--home", str(root)]
        subprocess.run(command, capture_output=True, check=True, env=_env())  # creates the databases
        runs = []
        for _ in range(repeat):
            start = time.perf_counter()
            subprocess.run(command, capture_output=True, check=True, env=_env())
            runs.append(time.perf_counter() - start)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--drops", type=int, default=20)
    parser.add_argument("--stable", type=float, default=2.0, help="the home's stable_seconds")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    latencies = sorted(watch_latency(args.drops, args.stable))
    p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
    print(f"watch, stable_seconds = {args.stable:g}: {len(latencies)} drops, finished copy → report "
          f"median {statistics.median(latencies):.2f} s, p95 {p95:.2f} s, max {latencies[-1]:.2f} s "
          f"(goal: p95 ≤ {args.stable + 0.5:g} s)")
    runs = run_nothing_new(args.runs)
    print(f"`blankett run` with nothing new: median {statistics.median(runs):.2f} s over {len(runs)} runs")


if __name__ == "__main__":
    main()
