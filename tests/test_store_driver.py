"""A store on PostgreSQL as a person sets one up: the URL as they write it, and without the
driver installed one line naming what to install, from every command that opens the store."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import date
from io import StringIO
from pathlib import Path

import pytest
from pipeline_support import make_home

from blankett.flows.cli.doctor import cmd_doctor
from blankett.flows.cli.environment import Environment
from blankett.flows.cli.home import cmd_nightly, cmd_rerun, cmd_run, cmd_status, cmd_watch
from blankett.flows.cli.serve import cmd_serve
from blankett.flows.store.database import POSTGRES_DRIVERS, engine_url

INSTALL = "pip install 'blankett[postgres]'"
# Nothing listens there: a command that got as far as connecting would say so instead.
URLS = ("postgresql://blankett@127.0.0.1:9/blankett", "postgres://blankett@127.0.0.1:9/blankett",
        "postgresql+psycopg://blankett@127.0.0.1:9/blankett")
COMMANDS: dict[str, Callable[[Environment, Path], int]] = {
    "run": cmd_run,
    "watch": cmd_watch,
    "nightly": cmd_nightly,
    "rerun": lambda env, root: cmd_rerun(env, root, [], True, False),
    "status": lambda env, root: cmd_status(env, root, False),
    "serve": cmd_serve,
}


@pytest.fixture
def without_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    """As where no PostgreSQL driver was installed: importing one fails."""
    for module in POSTGRES_DRIVERS:
        monkeypatch.setitem(sys.modules, module, None)


def test_a_plain_postgresql_url_names_the_installed_driver() -> None:
    for url in URLS:
        assert engine_url(url).drivername == "postgresql+psycopg", url
    assert engine_url("sqlite:///blankett.db").drivername == "sqlite"


@pytest.mark.usefixtures("without_driver")
@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_opening_the_store_without_its_driver_says_what_to_install(
        command: str, url: str, tmp_path: Path) -> None:
    home = make_home(tmp_path / "home", store_url=url)
    env = Environment(stdout=StringIO(), stderr=StringIO(), variables={}, today=date(2026, 11, 25))
    assert COMMANDS[command](env, home.root) == 2
    (line,) = env.stderr.getvalue().splitlines()  # type: ignore[attr-defined]
    assert line.startswith("error: store.url names a PostgreSQL database") and line.endswith(INSTALL)
    assert "127.0.0.1:9" not in line  # nothing is said of a server never reached


@pytest.mark.usefixtures("without_driver")
def test_doctor_says_what_to_install(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home", store_url=URLS[0])
    env = Environment(stdout=StringIO(), stderr=StringIO(), variables={}, today=date(2026, 11, 25))
    assert cmd_doctor(env, home.root) == 1
    (store,) = [line for line in env.stdout.getvalue().splitlines()  # type: ignore[attr-defined]
                if line.split()[1:2] == ["store:"]]
    assert store.startswith("FAILED") and store.endswith(INSTALL)


def test_blankett_without_the_driver_exits_2_with_one_line(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home", store_url=URLS[0])
    hide = "".join(f"sys.modules[{m!r}] = None\n" for m in POSTGRES_DRIVERS)
    finished = subprocess.run(
        [sys.executable, "-c", f"import sys\n{hide}from blankett.flows.cli.app import main\nmain()",
         "status", "--home", str(home.root)], capture_output=True, text=True, timeout=120,
        check=False)
    assert finished.returncode == 2, finished.stderr
    (line,) = finished.stderr.splitlines()
    assert line.startswith("error: store.url names a PostgreSQL database, and its Python driver "
                           "is not installed (") and line.endswith(f"): {INSTALL}")
