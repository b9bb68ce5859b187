"""The inbox's changes as `watch` waits for them, watched from before its first pass.

watchfiles starts watching when its generator is first advanced: a pass run before that misses
every file dropped while it ran, and those waited for the next full scan (30 s by default). Here
the watching runs in a thread of its own from the start, and the passes take what it saw.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import watchfiles

_STARTUP_SECONDS = 5.0
_STOP_SECONDS = 5.0


class InboxEvents:
    """Use as a context manager; iterate for sets of changed paths (empty at each full scan's
    time, `interval` seconds without a change). An error of the watcher (the inbox deleted) is
    raised from the iteration."""

    def __init__(self, inbox: Path, interval: float) -> None:
        self._inbox = inbox
        self._interval_ms = max(1, int(interval * 1000))
        self._found: queue.Queue[set[str] | BaseException | None] = queue.Queue()
        self._stop = threading.Event()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="inbox-events", daemon=True)

    def __enter__(self) -> InboxEvents:
        self._thread.start()
        # watchfiles sets up its watch on the first step of the generator, before waiting.
        self._started.wait(_STARTUP_SECONDS)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(_STOP_SECONDS)

    def __iter__(self) -> Iterator[set[str]]:
        while True:
            item = self._found.get()
            # What came in while the last pass ran is one pass's worth, not one each.
            items = [item]
            while True:
                try:
                    items.append(self._found.get_nowait())
                except queue.Empty:
                    break
            changed: set[str] = set()
            for got in items:
                if got is None:
                    return
                if isinstance(got, BaseException):
                    raise got
                changed |= got
            yield changed

    def _watch(self) -> None:
        try:
            changes = watchfiles.watch(self._inbox, yield_on_timeout=True, debounce=200,
                                       rust_timeout=self._interval_ms, recursive=False,
                                       stop_event=self._stop, raise_interrupt=False)
            self._started.set()
            for found in changes:
                self._found.put({path for _, path in found})
        except Exception as exc:  # handed to the pass loop, which says it
            self._found.put(exc)
        finally:
            self._started.set()
            self._found.put(None)
