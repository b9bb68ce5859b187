"""The Prefect API a blankett command runs its flows against.

With PREFECT_API_URL set, that server. Otherwise a local server for as long as the command runs,
with its database inside the blankett home. Prefect's own temporary server would do for the
flows, but it outlives a process killed outright (SIGKILL, the out-of-memory killer): every
such death of `watch` would leave a server of about 200 MB behind. This one is told by the
kernel to stop when its command dies, however it dies.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from blankett.flows.home.settings import Home
from blankett.models.errors import BlankettError

STARTUP_SECONDS = 90
STOP_SECONDS = 20
_PR_SET_PDEATHSIG = 1
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1, never a proxy
# The server's services that look after deployments' runs and their workers (scheduling, late
# and stuck runs, cancellations, pauses, concurrency leases). Only `serve`'s server (the one with
# its UI) has deployments; for `run`, `watch` and `nightly`, which run their flows themselves,
# they would start and then wake every few seconds for as long as the command runs.
_NO_DEPLOYMENT_SERVICES = {f"PREFECT_SERVER_SERVICES_{name}_ENABLED": "false" for name in (
    "SCHEDULER", "LATE_RUNS", "FOREMAN", "CANCELLATION_CLEANUP", "PAUSE_EXPIRATIONS", "REPOSSESSOR")}


class ServerError(BlankettError):
    """The local Prefect server could not be started."""


@dataclass(frozen=True)
class Api:
    url: str
    log: Path | None = None  # the local server's log
    alive: Callable[[], bool] = lambda: True  # False once a local server has stopped


@contextmanager
def prefect_api(home: Home, variables: Mapping[str, str], *, ui: bool = False,
                say: Callable[[str], None] | None = None) -> Iterator[Api]:
    """The API, its address also set as PREFECT_API_URL for Prefect's client in this process."""
    given = variables.get("PREFECT_API_URL")
    if given:
        yield Api(given)
        return
    with local_server(home.prefect_home, ui=ui, say=say) as api:
        yield api


@contextmanager
def local_server(prefect_home: Path, *, ui: bool = False,
                 say: Callable[[str], None] | None = None) -> Iterator[Api]:
    log_path = prefect_home / "server.log"
    try:
        prefect_home.mkdir(parents=True, exist_ok=True)
        log = log_path.open("ab")
    except OSError as exc:
        raise ServerError(f"the local Prefect server cannot be started: {log_path}: "
                          f"{exc.strerror or exc}") from None
    with log:
        if say:
            say(f"Starting a local Prefect server (log: {log_path}) …")
        with _one_starting_at_a_time(prefect_home):
            server, url = _start(log, ui=ui, log_path=log_path)
        saved = {name: os.environ.get(name) for name in ("PREFECT_API_URL", "NO_PROXY", "no_proxy")}
        os.environ["PREFECT_API_URL"] = url
        for name in ("NO_PROXY", "no_proxy"):  # a proxy set for the outside must not get these
            os.environ[name] = ",".join(filter(None, [saved[name], "127.0.0.1"]))
        try:
            with _in_settings(url):
                yield Api(url, log_path, lambda: server.poll() is None)
        finally:
            for name, value in saved.items():
                _restore(name, value)
            server.terminate()
            try:
                server.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@contextmanager
def _in_settings(url: str) -> Iterator[None]:
    """Prefect reads the environment when it is imported; once it has been (a second command in
    one process), the address must also go into its settings, or it starts a server of its own."""
    if "prefect" not in sys.modules:
        yield
        return
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: url}):
        yield


@contextmanager
def _one_starting_at_a_time(prefect_home: Path) -> Iterator[None]:
    """Commands started together (nightly while watch restarts) share the server database; two
    servers creating or upgrading it at once make one of them fail."""
    from filelock import FileLock  # here: `init` and `status` import this module

    from blankett.flows.home.locking import acquire

    lock = FileLock(prefect_home / ".server-start.lock")
    try:
        # A start stuck elsewhere must not stop this one for good: after the wait it goes ahead.
        acquire(lock, 2 * STARTUP_SECONDS)
    except OSError as exc:
        raise ServerError(f"the local Prefect server cannot be started: {prefect_home}: "
                          f"{exc.strerror or exc}") from None
    try:
        yield
    finally:
        lock.release()


def _start(log: BinaryIO, *, ui: bool, log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    for attempt in range(3):
        port = _free_port()
        url = f"http://127.0.0.1:{port}/api"
        # -P: the current folder is not on the server's import path, so that a file there named
        # like a module the server imports (an html.py, say) cannot break it.
        command = [sys.executable, "-P", "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                   "--port", str(port)]
        if not ui:
            command.append("--no-ui")
        environment = {**os.environ, "PREFECT_API_URL": ""}
        if not ui:
            environment.update(_NO_DEPLOYMENT_SERVICES)
        try:
            # Its own session: a Ctrl-C in the terminal reaches only blankett, which then stops
            # the server in order instead of both racing to shut down.
            server = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                                      stderr=subprocess.STDOUT, env=environment,
                                      start_new_session=True,
                                      preexec_fn=_die_with_parent(os.getpid()))
        except (OSError, subprocess.SubprocessError) as exc:
            raise ServerError(f"the local Prefect server cannot be started ({exc})") from None
        try:
            _wait_healthy(url, server)
            return server, url
        except _StoppedWhileStarting:
            # Most likely another process took the port between our look and its bind.
            if attempt == 2:
                raise ServerError("the local Prefect server stopped while starting; "
                                  f"see {log_path}") from None
        except BaseException:
            server.kill()
            server.wait()
            raise
    raise AssertionError("unreachable")


def _die_with_parent(parent: int) -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    # Looked up here: between fork and exec the child must not load libraries.
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def arrange() -> None:
        # Runs in the child between fork and exec. Linux sends the signal when the thread that
        # started the child ends; blankett starts it from the main thread, which lives as long
        # as the process.
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # died before the request took effect
            os._exit(1)

    return arrange


class _StoppedWhileStarting(Exception):
    pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise _StoppedWhileStarting
        try:
            with _DIRECT.open(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    server.kill()
    server.wait()
    raise ServerError(f"the local Prefect server did not answer within {STARTUP_SECONDS} s")


def _restore(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
