"""One Prefect server for the whole test run, Prefect's own test harness in a process of its own.

Begun by the controller as the run starts (tests/conftest.py), while the workers collect:
`python shared_prefect.py FOLDER` holds `prefect_test_harness` open, keeps a copy of the
database its server made as it started (FOLDER/prefect-template/prefect.db, which the homes of
tests about a command's own server start from: a server creates its database on its first
start, six seconds of CPU) and writes the API's address to FOLDER/prefect-api.url. It stops its
server when told to (SIGTERM) or when the run that started it is gone.

One server for the run rather than one a worker: each cost four seconds of CPU to start and a
few a minute to idle. The flows the tests run against it are each a run of its own, told apart
by its id."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from unittest.mock import patch

TEMPLATE = Path("prefect-template", "prefect.db")
URL_FILE = "prefect-api.url"
PID_FILE = "holder.pid"
FAILED_FILE = "prefect-api.failed"
WAIT_SECONDS = 300


def start(folder: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(folder / "prefect-home"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               DO_NOT_TRACK="1")
    log = (folder / "prefect-server.log").open("ab")
    with log:
        holder = subprocess.Popen([sys.executable, __file__, str(folder)], env=env,
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    (folder / PID_FILE).write_text(str(holder.pid))
    return holder


def template(folder: Path) -> Path:
    """The database the run's server made as it started, once it has."""
    made = folder / TEMPLATE
    _wait_for(made.is_file, folder, "made its Prefect database")
    return made


def api_url(folder: Path) -> str:
    """The address of the run's server, once it answers."""
    url = folder / URL_FILE
    _wait_for(url.is_file, folder, "started the Prefect server")
    return url.read_text().strip()


def _wait_for(done: Callable[[], bool], folder: Path, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not done():
        failed = (folder / FAILED_FILE).is_file() or not _alive(folder)
        if failed or time.monotonic() > deadline:
            log = folder / "prefect-server.log"
            said = log.read_text(errors="replace")[-3000:] if log.is_file() else ""
            raise RuntimeError(f"the tests' Prefect server process never {what}:\n{said}")
        time.sleep(0.05)


def _alive(folder: Path) -> bool:
    """Whether the server's process still runs (killed outright, it says nothing)."""
    try:
        pid = int((folder / PID_FILE).read_text())
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, ValueError, IndexError):
        return not (folder / PID_FILE).is_file()  # not written yet: still starting


def _serve(folder: Path) -> None:
    parent = os.getppid()
    from prefect.settings import PREFECT_API_URL
    from prefect.testing import utilities

    database = Path(tempfile.mkdtemp(prefix="prefect-harness-", dir=folder))
    stop = serving = False

    def told_to_stop(_signum: int, _frame: object) -> None:
        nonlocal stop
        if not serving:
            raise SystemExit(1)  # while starting: the harness's own exit stops its server
        stop = True

    signal.signal(signal.SIGTERM, told_to_stop)
    signal.signal(signal.SIGINT, told_to_stop)  # a Ctrl-C in the terminal reaches it too
    # The harness's server creates its database as it starts (migrations, Prefect's block types):
    # what a command's first start leaves in a home, copied as the run's template.
    with patch.object(utilities, "mkdtemp", lambda: str(database)), \
            utilities.prefect_test_harness(server_startup_timeout=120):
        _keep_as_template(database / "prefect-test.db", folder / TEMPLATE)
        partial = folder / f"{URL_FILE}.partial"
        partial.write_text(str(PREFECT_API_URL.value()))
        partial.replace(folder / URL_FILE)
        serving = True
        while not stop and os.getppid() == parent:
            time.sleep(0.2)


def _keep_as_template(database: Path, template: Path) -> None:
    """A copy of the running server's database, whole in one file."""
    making = template.parent.with_suffix(".making")
    making.mkdir(parents=True)
    with sqlite3.connect(database) as source, sqlite3.connect(making / template.name) as copy:
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")
    making.rename(template.parent)


if __name__ == "__main__":
    place = Path(sys.argv[1])
    try:
        _serve(place)
    except BaseException:
        (place / FAILED_FILE).touch()
        raise
