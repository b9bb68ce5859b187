"""`blankett serve`: both flows as Prefect deployments, on a Prefect server that can schedule.

Prefect's temporary (ephemeral) server cannot run schedules, so without PREFECT_API_URL a local
server is started for as long as `serve` runs, with its database inside the blankett home.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from blankett.flows.environment import Environment
from blankett.flows.home_commands import EXIT_ERROR, EXIT_OK, _ready_home
from blankett.flows.prefect_setup import prepare_prefect
from blankett.flows.settings import Home

STARTUP_SECONDS = 90


def cmd_serve(env: Environment, root) -> int:  # type: ignore[no-untyped-def]
    home = _ready_home(env, root)
    if home is None:
        return EXIT_ERROR
    prepare_prefect(home)
    api = env.variables.get("PREFECT_API_URL")
    try:
        with (_shared_server(api) if api else _local_server(env, home)) as url:
            return _serve(env, home, url)
    except ServerError as exc:
        env.error(f"error: {exc}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("Stopped.", file=env.stdout)
        return EXIT_OK


class ServerError(Exception):
    pass


@contextmanager
def _shared_server(url: str) -> Iterator[str]:
    yield url


@contextmanager
def _local_server(env: Environment, home: Home) -> Iterator[str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    log = (home.prefect_home / "server.log").open("ab")
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
         "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PREFECT_API_URL": ""},
        start_new_session=True)
    try:
        print(f"Starting a local Prefect server (log: {home.prefect_home / 'server.log'}) …",
              file=env.stdout, flush=True)
        _wait_healthy(url, server)
        os.environ["PREFECT_API_URL"] = url
        print(f"Prefect UI: http://127.0.0.1:{port}", file=env.stdout, flush=True)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise ServerError("the local Prefect server stopped while starting; see its log")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise ServerError(f"the local Prefect server did not answer within {STARTUP_SECONDS} s")


def _serve(env: Environment, home: Home, url: str) -> int:
    from prefect import serve
    from prefect.schedules import Cron, Interval

    from blankett.flows import orchestration

    schedule = home.settings.schedule
    parameters = {"home": str(home.root)}
    intake = orchestration.intake.to_deployment(
        name="blankett-intake", parameters=parameters,
        schedules=[Interval(schedule.intake_interval_seconds)],
        description=f"Takes forms from {home.inbox}")
    nightly = orchestration.nightly.to_deployment(
        name="blankett-nightly", parameters=parameters,
        schedules=[Cron(schedule.nightly_cron, timezone=schedule.timezone)],
        description="Re-validates the grant year and sends the triage summaries")
    print(f"Serving intake (every {schedule.intake_interval_seconds} s) and nightly "
          f"({schedule.nightly_cron}, {schedule.timezone}) against {url}. Stop with Ctrl-C.",
          file=env.stdout, flush=True)
    serve(intake, nightly, print_starting_message=False)
    return EXIT_OK
