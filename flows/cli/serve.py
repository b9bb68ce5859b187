"""`blankett serve`: both flows as Prefect deployments, on a Prefect server that can schedule.

Without PREFECT_API_URL a local server runs for as long as `serve` does, with its UI, its
scheduler and its database inside the blankett home.
"""

from __future__ import annotations

import os
from pathlib import Path

from blankett.flows.cli.environment import Environment
from blankett.flows.cli.running import EXIT_ERROR, EXIT_OK, ready_home
from blankett.flows.home.settings import SETTINGS_FILE, Home
from blankett.flows.orchestration.server import ServerError, prefect_api
from blankett.flows.orchestration.setup import prepare_prefect, send_what_is_left


def cmd_serve(env: Environment, root: Path) -> int:
    home = ready_home(env, root)
    if home is None:
        return EXIT_ERROR
    prepare_prefect(home)
    from prefect.schedules import Cron

    schedule = home.settings.schedule
    try:
        Cron(schedule.nightly_cron, timezone=schedule.timezone)
    except ValueError as exc:  # what the settings' own check lets through and Prefect does not
        first = str(exc).splitlines()[-1] if str(exc) else type(exc).__name__
        env.error(f"error: {home.root / SETTINGS_FILE}: schedule.nightly_cron: {first}")
        return EXIT_ERROR
    try:
        with prefect_api(home, env.variables, ui=True, say=lambda line: print(
                line, file=env.stdout, flush=True)) as api:
            if not env.variables.get("PREFECT_API_URL"):
                print(f"Prefect UI: {api.url.removesuffix('/api')}", file=env.stdout, flush=True)
            try:
                return _serve(env, home, api.url)
            finally:
                send_what_is_left()
    except ServerError as exc:
        env.error(f"error: {exc}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("Stopped.", file=env.stdout)
        return EXIT_OK


def _serve(env: Environment, home: Home, url: str) -> int:
    from prefect import serve
    from prefect.deployments.runner import RunnerDeployment
    from prefect.schedules import Cron, Interval

    from blankett.flows.cli import served

    # Each run is a `python -m prefect.engine`, which would put the current folder first on its
    # import path: an html.py or json.py there would stop every run.
    os.environ["PYTHONSAFEPATH"] = "1"
    schedule = home.settings.schedule
    parameters = {"home": str(home.root)}
    # By module name: each run's process imports the flows that print what they did (`served`)
    # rather than the file of the plain ones, and needs no folder put on its import path for it.
    intake = RunnerDeployment.from_entrypoint(
        f"{served.__name__}.intake", name="blankett-intake", parameters=parameters,
        schedules=[Interval(schedule.intake_interval_seconds)],
        description=f"Takes forms from {home.inbox}")
    nightly = RunnerDeployment.from_entrypoint(
        f"{served.__name__}.nightly", name="blankett-nightly", parameters=parameters,
        schedules=[Cron(schedule.nightly_cron, timezone=schedule.timezone)],
        description="Re-validates the grant year and sends the triage summaries")
    print(f"Serving intake (every {schedule.intake_interval_seconds} s) and nightly "
          f"({schedule.nightly_cron}, {schedule.timezone}) against {url}. Stop with Ctrl-C.",
          file=env.stdout, flush=True)
    # One run at a time: they take the home's lock in turn anyway, and a pass that outlasts the
    # interval would otherwise have runs pile up as processes, each waiting for the lock.
    serve(intake, nightly, print_starting_message=False, limit=1)
    # Prefect's runner returns when stopped (SIGTERM) once it has run something; before that the
    # signal comes through as KeyboardInterrupt. Said alike either way.
    print("Stopped.", file=env.stdout)
    return EXIT_OK
