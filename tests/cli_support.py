"""The `blankett` command run inside the test's process, through the same entry the script uses
(`blankett.flows.cli.app.invoke`): exit status, stdout and stderr as a person sees them, without
the two seconds of CPU a new Python process spends importing the libraries. For what a command
says and decides; what happens to processes (signals, servers, the import path of a fresh
interpreter) stays with the tests that start the command as a process."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from datetime import date
from io import StringIO
from pathlib import Path

from blankett.flows.cli.app import invoke
from blankett.flows.cli.environment import Environment


def blankett_here(*args: str | Path, home_env: Path | None = None,
                  variables: dict[str, str] | None = None,
                  today: date | None = None) -> subprocess.CompletedProcess[str]:
    """`home_env`: the BLANKETT_HOME the command sees; `variables`: more of its environment
    (none of the test process's PREFECT_ and BLANKETT_ variables reach it, as for a person)."""
    seen = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "BLANKETT_"))}
    seen.update(variables or {})
    if home_env is not None:
        seen["BLANKETT_HOME"] = str(home_env)
    return run_here(args, Environment(stdout=StringIO(), stderr=StringIO(), variables=seen,
                                      today=today or date.today()))


def run_here(args: Iterable[str | Path], env: Environment) -> subprocess.CompletedProcess[str]:
    """The command on `args` with `env` for its surroundings (its streams StringIO)."""
    args = [str(a) for a in args]
    before = dict(os.environ)
    code = invoke(args, env)
    # A command run here that set up Prefect would leave its variables behind for the next
    # test: such a command belongs with the tests that start a process.
    assert dict(os.environ) == before, f"`blankett {' '.join(args)}` changed os.environ"
    return subprocess.CompletedProcess(args, code, env.stdout.getvalue(),  # type: ignore[attr-defined]
                                       env.stderr.getvalue())  # type: ignore[attr-defined]
