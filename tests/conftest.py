"""Shared test fixtures: the generated corpus of forms, built once per session into a temp dir;
a Prefect server for the command-line tests that are not about a server's life; the store's
database, SQLite and PostgreSQL; the markers that pick the long tests out for a quick edit loop
(README, "For developers")."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from unittest.mock import patch

import pytest
import shared_sets
from filelock import FileLock
from sqlalchemy import create_engine, text

from blankett.fixtures.corpus import Case, write_corpus
from blankett.fixtures.libreoffice import CACHE_VARIABLE
from blankett.flows.orchestration.setup import flow_settings
from blankett.flows.store.database import engine_url

YEAR = 2026
# A PostgreSQL server's URL whose role may create databases (.ci/postgres starts one and prints
# it); unset, the PostgreSQL variants of the store's tests are skipped.
POSTGRES = os.environ.get("BLANKETT_TEST_POSTGRES", "")
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
# Modules whose tests share a module-scoped fixture that is dear to build (a hundred forms taken
# in three passes): split between workers, or left and come back to, it is built again.
TOGETHER = ("test_report_kinds", "test_pipeline_intake")


def pytest_configure(config: pytest.Config) -> None:
    """LibreOffice's conversions of the generated forms made once for the whole run: the
    workers, started after this, share the folder (fixtures/libreoffice.py). The Prefect
    database the tests' servers start from is made there meanwhile, while the workers collect,
    and the generated sets they collect from (shared_sets.py)."""
    if not hasattr(config, "workerinput") and CACHE_VARIABLE not in os.environ:
        os.environ[CACHE_VARIABLE] = tempfile.mkdtemp(prefix="blankett-fixtures-")
        config.stash[_SHARED] = os.environ[CACHE_VARIABLE]
        config.stash[_MAKING] = _make_prefect_database(Path(os.environ[CACHE_VARIABLE]))
        config.stash[_BUILDING] = shared_sets.build_in_background()


def pytest_unconfigure(config: pytest.Config) -> None:
    for process in [config.stash.get(_MAKING, None), *config.stash.get(_BUILDING, [])]:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
    if (folder := config.stash.get(_SHARED, None)) is not None:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop(CACHE_VARIABLE, None)


_SHARED = pytest.StashKey[str]()
_MAKING = pytest.StashKey["subprocess.Popen[bytes]"]()
_BUILDING = pytest.StashKey["list[subprocess.Popen[bytes]]"]()


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
    to the start of each worker's run, so that none runs them all one after another; then each
    module of TOGETHER whole, at the start of one worker's run, where none of it is stolen."""
    long = sorted((i for i in items if i.path.stem in FIRST), key=lambda i: FIRST.index(i.path.stem))
    together = [[i for i in items if i.path.stem == module] for module in TOGETHER]
    rest = [i for i in items if i.path.stem not in FIRST and i.path.stem not in TOGETHER]
    ordered: list[pytest.Item] = []
    taken = 0
    for worker in range(workers):
        dealt = long[worker::workers] + [i for group in together[worker::workers] for i in group]
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
    return write_corpus(corpus_dir, YEAR, shared_sets.corpus())


@pytest.fixture(scope="session")
def prefect_api_url(tmp_path_factory: pytest.TempPathFactory, prefect_database: Path) -> Iterator[str]:
    """One Prefect server per test process, Prefect's own test harness (a temporary database,
    the server in a process of its own): the flows run in the test process and the command-line
    tests that are not about a server's own life use it. Without PREFECT_API_URL each command
    starts a server of its own and creates its database, seconds of CPU a command. Started on
    first use, stopped at the end."""
    saved = {k: os.environ.get(k) for k in ("PREFECT_HOME", "PREFECT_SERVER_ANALYTICS_ENABLED",
                                           "DO_NOT_TRACK")}
    os.environ.update(PREFECT_HOME=str(tmp_path_factory.mktemp("prefect-home")),
                      PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
    from prefect.settings import PREFECT_API_URL
    from prefect.testing import utilities

    def made_before() -> str:
        # The harness's database folder, holding a copy of the database made for the run: the
        # server starts in 4 s of CPU instead of 8 (no migrations to run).
        folder = tempfile.mkdtemp(prefix="prefect-harness-")
        shutil.copyfile(prefect_database, Path(folder, "prefect-test.db"))
        return folder

    try:
        with ExitStack() as harness:
            with patch.object(utilities, "mkdtemp", made_before):
                harness.enter_context(utilities.prefect_test_harness(server_startup_timeout=120))
            harness.enter_context(flow_settings())  # as a command runs its flows
            url = PREFECT_API_URL.value()
            assert url, "Prefect's test harness gave no API URL"
            yield url
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def postgres_database() -> Iterator[str]:
    """The URL of a new, empty database on the test server, dropped afterwards with whatever
    connections a test left open; the test is skipped without a server."""
    if not POSTGRES:
        pytest.skip("BLANKETT_TEST_POSTGRES is not set")
    admin = engine_url(POSTGRES)
    server = create_engine(admin, isolation_level="AUTOCOMMIT")
    name = f"blankett_test_{uuid.uuid4().hex[:12]}"
    try:
        with server.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield admin.set(database=name).render_as_string(hide_password=False)
        finally:
            with server.connect() as connection:
                connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    finally:
        server.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """`store.url` for a test's home, once on each database: empty (the home's own SQLite file,
    as by default) and a PostgreSQL database of the test's own."""
    if request.param == "sqlite":
        yield ""
        return
    with postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def prefect_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Prefect server database brought to the installed Prefect's schema, made once a run
    (shared by the workers): a server creates its database on its first start, six seconds of
    CPU, and reuses it after. The tests' own servers start from a copy (`prefect_api_url`), and
    tests of what a running command does when stopped, killed or left without its server copy
    it into their home (pipeline_support.py, `used_before`), as a home that has run before has
    it; the first start is tested fresh."""
    shared = Path(os.environ.get(CACHE_VARIABLE) or tmp_path_factory.mktemp("shared"))
    made = shared / _TEMPLATE
    with FileLock(shared / "prefect-template.lock"):
        deadline = time.monotonic() + 300
        while not made.exists() and _making(shared).exists() and time.monotonic() < deadline:
            time.sleep(0.1)  # being made for the run, begun as it started
        if not made.exists():
            _make_prefect_database(shared).wait(timeout=300)
        assert made.exists(), "Prefect's database could not be made (prefect server database upgrade)"
    return made


_TEMPLATE = Path("prefect-template", "prefect.db")


def _making(shared: Path) -> Path:
    return (shared / _TEMPLATE).parent.with_suffix(".making")


def _make_prefect_database(shared: Path) -> subprocess.Popen[bytes]:
    """`prefect server database upgrade` into a folder of its own, renamed to shared/_TEMPLATE
    when whole; shared/prefect-template.making exists while it runs."""
    making = _making(shared)
    making.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(making), PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
    script = ("import os, sqlite3, subprocess, sys\n"
              "making, made = sys.argv[1:]\n"
              "done = subprocess.run([sys.executable, '-m', 'prefect', 'server', 'database', "
              "'upgrade', '-y'], capture_output=True)\n"
              "if done.returncode == 0:\n"
              "    with sqlite3.connect(os.path.join(making, 'prefect.db')) as db:\n"
              "        db.execute('PRAGMA wal_checkpoint(TRUNCATE)')  # all in the one file\n"
              "    os.rename(making, made)\n"
              "else:\n"
              "    os.rename(making, making + '.failed')\n")
    return subprocess.Popen([sys.executable, "-c", script, str(making), str((shared / _TEMPLATE).parent)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
