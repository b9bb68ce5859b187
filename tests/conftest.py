"""Shared test fixtures: the generated corpus of forms, built once per session into a temp dir;
a Prefect server for the command-line tests that are not about a server's life; the markers
that pick the long tests out for a quick edit loop (README, "For developers")."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from blankett.fixtures.corpus import Case, write_corpus

YEAR = 2026
# The tests each marker names, by module: crash, fault and load runs; tests that start Prefect
# servers or blankett's commands as processes; tests that run Tesseract.
MARKED = {
    "reliability": {"test_crash", "test_watch_crash", "test_load", "test_faults"},
    "server": {"test_pipeline_cli", "test_pipeline_flows"},
    "ocr": {"test_ocr", "test_scan_image"},
}


# Started first, shared out among the workers, so that on two cores they run beside the many
# short tests rather than alone at the end: the longest take a minute.
FIRST = ("test_watch_crash", "test_load", "test_crash", "test_pipeline_cli", "test_faults")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        module = item.path.stem
        for marker, modules in MARKED.items():
            if module in modules:
                item.add_marker(marker)
    items[:] = _long_first_on_each_worker(items, getattr(config, "workerinput", {}).get("workercount", 1))


def _long_first_on_each_worker(items: list[pytest.Item], workers: int) -> list[pytest.Item]:
    """pytest-xdist's worksteal hands each worker an equal run of the list, in order, and a
    worker that is done steals from the end of another's: the long tests are dealt out in turn
    to the start of each worker's run, so that none runs them all one after another."""
    long = sorted((i for i in items if i.path.stem in FIRST), key=lambda i: FIRST.index(i.path.stem))
    rest = [i for i in items if i.path.stem not in FIRST]
    ordered: list[pytest.Item] = []
    taken = 0
    for worker in range(workers):
        dealt = long[worker::workers]
        size = len(items) // workers if worker < workers - 1 else len(items) - len(ordered)
        fill = max(size - len(dealt), 0)
        ordered += dealt + rest[taken:taken + fill]
        taken += fill
    return ordered + rest[taken:]


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("corpus")


@pytest.fixture(scope="session")
def corpus(corpus_dir: Path) -> list[Case]:
    return write_corpus(corpus_dir, year=YEAR)


@pytest.fixture(scope="session")
def prefect_api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One Prefect server per test process, for the command-line tests that are not about a
    server's own life: without PREFECT_API_URL each command starts a server of its own and
    creates its database, seconds of CPU a command. Started on first use, stopped at the end."""
    prefect_home = tmp_path_factory.mktemp("prefect-server")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(prefect_home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               DO_NOT_TRACK="1")
    with (prefect_home / "server.log").open("wb") as log:
        server = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host",
                                   "127.0.0.1", "--port", str(port), "--no-ui"],
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                  env=env)
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, (prefect_home / "server.log").read_text()
            try:
                with direct.open(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                assert time.monotonic() < deadline, "the test Prefect server did not start"
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
