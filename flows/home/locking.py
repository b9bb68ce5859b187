"""One run at a time per home: `watch`, `serve`, a person's `run` and the nightly run may start
together, and two of them must never take the same file or send the same message."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from blankett.models.errors import BlankettError

log = logging.getLogger("blankett.lock")

LOCK_FILE = ".blankett.lock"


class Busy(BlankettError):
    """Another run held the home for longer than we were willing to wait."""


@contextmanager
def home_lock(root: Path, wait_seconds: float = 900.0) -> Iterator[None]:
    """Held for the whole of a run. The operating system releases it when the process dies,
    so a crashed run never leaves the home locked."""
    lock = FileLock(root / LOCK_FILE)

    def tell() -> None:
        log.info("waiting for another blankett run in %s to finish", root)

    if not acquire(lock, wait_seconds, on_wait=tell):
        raise Busy(f"{root}: another blankett run has been busy for "
                   f"{wait_seconds:.0f} s; try again later")
    try:
        yield
    finally:
        lock.release()


def acquire(lock: FileLock, seconds: float, on_wait: Callable[[], None] | None = None) -> bool:
    """`lock`, waited for up to `seconds`; whether it was had. `on_wait` is called once, when the
    lock is found taken."""
    try:
        lock.acquire(blocking=False)
        return True
    except Timeout:
        if on_wait is not None:
            on_wait()
    try:
        lock.acquire(timeout=seconds, poll_interval=0.1)
    except Timeout:
        return False
    return True
