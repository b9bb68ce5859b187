"""Shared test fixtures: the generated corpus of forms, built once a run, written into a temp dir;
one Prefect server for the run's flows and the command-line tests that are not about a server's
life; the store's database, SQLite and PostgreSQL; the markers that pick the long tests out for
a quick edit loop (README, "For developers")."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import shared_prefect
import shared_sets
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
    """Begun by the controller as the run starts, while the workers start and collect: the
    generated sets they collect from (shared_sets.py; LibreOffice's conversions are kept in the
    same folder, fixtures/libreoffice.py) and the run's Prefect server (shared_prefect.py)."""
    if hasattr(config, "workerinput") or config.option.collectonly or config.option.help:
        return
    if CACHE_VARIABLE not in os.environ:
        os.environ[CACHE_VARIABLE] = tempfile.mkdtemp(prefix="blankett-fixtures-")
        config.stash[_SHARED] = os.environ[CACHE_VARIABLE]
        config.stash[_BUILDING] = shared_sets.build_in_background()
    os.environ[PREFECT_FOLDER] = tempfile.mkdtemp(prefix="blankett-prefect-")
    config.stash[_PREFECT] = shared_prefect.start(Path(os.environ[PREFECT_FOLDER]))


def pytest_unconfigure(config: pytest.Config) -> None:
    shared_sets.stop(config.stash.get(_BUILDING, []))
    if (server := config.stash.get(_PREFECT, None)) is not None:
        server.terminate()  # it stops its server first
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(os.environ.pop(PREFECT_FOLDER), ignore_errors=True)
    if (folder := config.stash.get(_SHARED, None)) is not None:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop(CACHE_VARIABLE, None)


# The folder of the run's Prefect server, made by the controller, read by the workers.
PREFECT_FOLDER = "BLANKETT_TEST_PREFECT"
_SHARED = pytest.StashKey[str]()
_BUILDING = pytest.StashKey["list[subprocess.Popen[bytes]]"]()
_PREFECT = pytest.StashKey["subprocess.Popen[bytes]"]()


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
def prefect_api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The run's one Prefect server (Prefect's own test harness, begun as the run started; see
    shared_prefect.py): the flows run in the test process and the command-line tests that are not
    about a server's own life use it. Without PREFECT_API_URL each command starts a server of its
    own and creates its database, seconds of CPU a command."""
    url = shared_prefect.api_url(_prefect_folder())
    saved = {k: os.environ.get(k) for k in ("PREFECT_HOME", "PREFECT_SERVER_ANALYTICS_ENABLED",
                                           "DO_NOT_TRACK")}
    os.environ.update(PREFECT_HOME=str(tmp_path_factory.mktemp("prefect-home")),
                      PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
    import prefect.context
    from prefect.settings import PREFECT_API_URL, temporary_settings

    try:
        with temporary_settings(updates={PREFECT_API_URL: url}), flow_settings(), \
                prefect.context._temporary_global_settings_context(prefect.context.get_settings_context()):
            # The global settings too, as the harness sets them: threads begun without this
            # context (Prefect's log and event workers) would otherwise start servers of their own.
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
def prefect_database() -> Path:
    """A Prefect server database brought to the installed Prefect's schema, made once a run
    (shared_prefect.py): a server creates its database on its first start, six seconds of CPU,
    and reuses it after. Tests of what a running command does when stopped, killed or left
    without its server copy it into their home (pipeline_support.py, `used_before`), as a home
    that has run before has it; the first start is tested fresh."""
    return shared_prefect.template(_prefect_folder())


def _prefect_folder() -> Path:
    return Path(os.environ[PREFECT_FOLDER])
