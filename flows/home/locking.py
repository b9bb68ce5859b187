"""One run at a time per home: `watch`, `serve`, a person's `run` and the nightly run may start
together, and two of them must never take the same file or send the same message."""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from blankett.models.errors import BlankettError

log = logging.getLogger("blankett.lock")

LOCK_FILE = ".blankett.lock"


class Busy(BlankettError):
    """Another run held the home for longer than we were willing to wait."""


@contextmanager
def home_lock(root: Path, wait_seconds: float = 900.0) -> Iterator[None]:
    """Held for the whole of a run. The operating system releases it when the process dies,
    so a crashed run never leaves the home locked."""
    fd = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        def tell() -> None:
            log.info("waiting for another blankett run in %s to finish", root)

        if not wait_for_lock(fd, wait_seconds, on_wait=tell):
            raise Busy(f"{root}: another blankett run has been busy for "
                       f"{wait_seconds:.0f} s; try again later")
        yield
    finally:
        os.close(fd)  # closing releases the lock


def wait_for_lock(fd: int, seconds: float, on_wait: Callable[[], None] | None = None) -> bool:
    """An exclusive lock on the open file `fd`, waited for up to `seconds`; whether it was had.
    `on_wait` is called once, when the lock is found taken."""
    deadline = time.monotonic() + seconds
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            if on_wait is not None and not told:
                on_wait()
                told = True
            time.sleep(0.1)
