"""The Prefect API a blankett command runs its flows against.

With PREFECT_API_URL set, that server. Otherwise a local server for as long as the command runs,
with its database inside the blankett home. Prefect's own temporary server would do for the
flows, but it outlives a process killed outright (SIGKILL, the out-of-memory killer): every
such death of `watch` would leave a server of about 200 MB behind. This one is told by the
kernel to stop when its command dies, however it dies.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from blankett.flows.settings import Home

STARTUP_SECONDS = 90
STOP_SECONDS = 20
_PR_SET_PDEATHSIG = 1


class ServerError(Exception):
    """The local Prefect server could not be started."""


@contextmanager
def prefect_api(home: Home, variables: Mapping[str, str], *, ui: bool = False,
                say: Callable[[str], None] | None = None) -> Iterator[str]:
    """The API's address, also set as PREFECT_API_URL for Prefect's client in this process."""
    given = variables.get("PREFECT_API_URL")
    if given:
        yield given
        return
    with local_server(home.prefect_home, ui=ui, say=say) as url:
        yield url


@contextmanager
def local_server(prefect_home: Path, *, ui: bool = False,
                 say: Callable[[str], None] | None = None) -> Iterator[str]:
    log_path = prefect_home / "server.log"
    prefect_home.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        with _one_starting_at_a_time(prefect_home):
            server, url = _start(log, ui=ui, log_path=log_path, say=say)
        before = os.environ.get("PREFECT_API_URL")
        os.environ["PREFECT_API_URL"] = url
        try:
            with _in_settings(url):
                yield url
        finally:
            _restore("PREFECT_API_URL", before)
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
    fd = os.open(prefect_home / ".server-start.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + 2 * STARTUP_SECONDS
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    break  # a start stuck elsewhere must not stop this one for good
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)


def _start(log: BinaryIO, *, ui: bool, log_path: Path,
           say: Callable[[str], None] | None) -> tuple[subprocess.Popen[bytes], str]:
    if say:
        say(f"Starting a local Prefect server (log: {log_path}) …")
    for attempt in range(3):
        port = _free_port()
        url = f"http://127.0.0.1:{port}/api"
        command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                   "--port", str(port)]
        if not ui:
            command.append("--no-ui")
        # Its own session: a Ctrl-C in the terminal reaches only blankett, which then stops the
        # server in order instead of both racing to shut down.
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                  env={**os.environ, "PREFECT_API_URL": ""},
                                  start_new_session=True, preexec_fn=_die_with_parent(os.getpid()))
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

    def arrange() -> None:
        # Runs in the child between fork and exec. Linux sends the signal when the thread that
        # started the child ends; blankett starts it from the main thread, which lives as long
        # as the process.
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
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
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
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
