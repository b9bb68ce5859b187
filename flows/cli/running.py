"""Running a flow for a command: the home and what a flow opens checked first, Prefect set up for
the home, a failed run told in one line. Prefect is imported only when a flow runs."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blankett.flows.cli.environment import Environment
from blankett.flows.home.settings import Home, SettingsError, load_home
from blankett.flows.orchestration.server import Api, ServerError
from blankett.flows.store.database import StoreError
from blankett.models.errors import BlankettError, SettingWrong
from blankett.models.spec import ConfigError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_ERROR = 2

USER_ERRORS = (SettingsError, ConfigError, StoreError)


def open_home(env: Environment, root: Path, inbox_needed: bool = True) -> Home | None:
    try:
        return load_home(root, env.variables, inbox_needed=inbox_needed)
    except SettingsError as exc:
        env.error(f"error: {exc}")
        return None


@contextmanager
def prefect_flows(env: Environment, home: Home) -> Iterator[tuple[Any, Api]]:
    """The flows, with Prefect set up for this home, and the API they report to."""
    from blankett.flows.orchestration.server import prefect_api
    from blankett.flows.orchestration.setup import flow_settings, prepare_prefect, send_what_is_left

    prepare_prefect(home)
    with prefect_api(home, env.variables) as api, flow_settings():
        from prefect.exceptions import TerminationSignal

        from blankett.flows.orchestration import (
            flows as orchestration,  # Prefect reads its settings on import
        )

        orchestration.STOP.clear()  # a stop asked of an earlier command in this process

        def stop(_signum: int, _frame: object) -> None:
            orchestration.STOP.set()
            raise KeyboardInterrupt

        previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield orchestration, api
        except TerminationSignal:  # Prefect's own SIGTERM handler, during a flow run
            orchestration.STOP.set()
            raise KeyboardInterrupt from None
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            send_what_is_left()


def check_pipeline(env: Environment, home: Home) -> bool:
    """Open what a flow will open, so that a wrong setting is one line here, not a failed run."""
    from blankett.flows.pipeline.resources import open_pipeline

    try:
        open_pipeline(home).close()
    except USER_ERRORS as exc:
        env.error(f"error: {exc}")
        return False
    return True


@dataclass(frozen=True)
class Failed:
    """A flow run that failed, said in one line already; `code` is the exit status it calls for."""

    code: int


def flow(env: Environment, name: str, call: Any) -> Any:
    """A run that failed for a reason nobody caused (a bug, a dead server): one line, the
    details in the run's log; an error the user can mend is its one line. Failed when it failed."""
    try:
        return call()
    except SettingWrong as exc:  # the same at every attempt, until the setting is mended
        env.error(f"error: {exc}")
        return Failed(EXIT_ERROR)
    except BlankettError as exc:  # another run held the home too long...
        env.error(f"error: {exc}")
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        env.error(f"error: the {name} run failed ({type(exc).__name__}: {first}); "
                  "nothing was lost, see the log above and run it again")
    return Failed(EXIT_FAILED)


def said_setting_wrong(env: Environment, counts: Mapping[str, Any]) -> bool:
    """A run that ended with its messages waiting for an SMTP setting to be mended (the files
    are filed): that setting, in one line."""
    if counts.get("setting_wrong"):
        env.error(f"error: {counts['setting_wrong']}")
        return True
    return False


def run_flow(env: Environment, home: Home, name: str, call: Callable[[Any], Any]) -> Any:
    """One flow run, as `flow`; Failed when it failed or no Prefect API could be had (said)."""
    try:
        with prefect_flows(env, home) as (flows, _):
            return flow(env, name, lambda: call(flows))
    except ServerError as exc:
        env.error(f"error: {exc}")
        return Failed(EXIT_FAILED)


def ready_home(env: Environment, root: Path, inbox_needed: bool = True) -> Home | None:
    """The home, once it and everything a flow opens in it are known to be usable."""
    home = open_home(env, root, inbox_needed)
    return home if home is not None and check_pipeline(env, home) else None
