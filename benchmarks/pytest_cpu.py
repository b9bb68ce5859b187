"""A pytest plugin that times each test: its wall time and the CPU of its process and of the
children it waited for (a command, a Prefect server, Tesseract). At the end the controller prints
the longest tests and the modules' totals.

    PYTHONPATH=benchmarks .venv/bin/pytest -p pytest_cpu

Each worker writes its figures to a folder of the run's own (BLANKETT_TEST_CPU_DIR, made here);
children reaped only at the end of a worker's session (a reader pool's forkserver, a Prefect
test server) count in the test that stopped them."""

from __future__ import annotations

import json
import os
import resource
import tempfile
import time
from collections import Counter
from collections.abc import Generator
from pathlib import Path

import pytest

FOLDER = "BLANKETT_TEST_CPU_DIR"
_STARTED = time.time()
_rows: list[tuple[str, float, float, float, float, str]] = []


def _cpu() -> tuple[float, float]:
    own, children = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and FOLDER not in os.environ:
        os.environ[FOLDER] = tempfile.mkdtemp(prefix="blankett-test-cpu-")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None]:
    own, children = _cpu()
    started, at = time.monotonic(), time.time()
    yield
    own2, children2 = _cpu()
    _rows.append((item.nodeid, own2 - own, children2 - children, time.monotonic() - started, at,
                  os.environ.get("PYTEST_XDIST_WORKER", "main")))


def pytest_sessionfinish(session: pytest.Session) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    folder = Path(os.environ[FOLDER])
    (folder / f"{worker}.json").write_text(json.dumps(_rows))
    if hasattr(session.config, "workerinput"):
        return
    rows = [row for path in folder.glob("*.json") for row in json.loads(path.read_text())]
    modules: Counter[str] = Counter()
    for nodeid, _, _, wall, *_ in rows:
        modules[nodeid.split("::")[0]] += wall
    lines = [f"\n{len(rows)} tests: {sum(r[3] for r in rows):.0f} s of test time, "
             f"{sum(r[1] + r[2] for r in rows):.0f} s CPU (own + children)", "longest (wall, CPU):"]
    lines += [f"  {r[3]:6.1f} {r[1] + r[2]:6.1f}  {r[0]}" for r in sorted(rows, key=lambda r: -r[3])[:15]]
    lines += ["modules (wall):"] + [f"  {w:6.1f}  {m}" for m, w in modules.most_common(10)]
    # Each worker's day, from the controller's start: when its first test began (after its
    # collection), when its last ended, and its last tests, to see who waits for whom.
    lines.append("workers (first test, last end, busy; s from the start):")
    for worker in sorted({r[5] for r in rows}):
        own = sorted((r for r in rows if r[5] == worker), key=lambda r: r[4])
        end = max(r[4] + r[3] for r in own) - _STARTED
        lines.append(f"  {worker}: {own[0][4] - _STARTED:6.1f} {end:6.1f} "
                     f"{sum(r[3] for r in own):6.1f}  last: " + ", ".join(
                         f"{r[0].split('::')[-1][:40]} {r[3]:.1f}" for r in own[-3:]))
    print("\n".join(lines))
