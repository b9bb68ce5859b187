"""One run at a time per home: `watch`, `serve`, a person's `run` and the nightly run may start
together, and two of them must never take the same file or send the same message."""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger("blankett.lock")

LOCK_FILE = ".blankett.lock"


class Busy(Exception):
    """Another run held the home for longer than we were willing to wait."""


@contextmanager
def home_lock(root: Path, wait_seconds: float = 900.0) -> Iterator[None]:
    """Held for the whole of a run. The operating system releases it when the process dies,
    so a crashed run never leaves the home locked."""
    fd = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait_seconds
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise Busy(f"{root}: another blankett run has been busy for "
                               f"{wait_seconds:.0f} s; try again later") from None
                if not told:
                    log.info("waiting for another blankett run in %s to finish", root)
                    told = True
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)  # closing releases the lock
