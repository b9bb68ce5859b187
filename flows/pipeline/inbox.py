"""Which files in the inbox are ready to be taken: not ignored, and no longer being written."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

# Left alone: what editors, sync clients and browsers write beside the real file.
_IGNORED_NAMES = {"thumbs.db", "desktop.ini", ".ds_store"}
_IGNORED_PREFIXES = ("~$", ".~lock", ".")
_SECOND_LOOK = 0.3
_POLL_SECONDS = 0.05
_IGNORED_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload", ".download", ".temp", "~")


class InboxFilter:
    """Tells why a path in the inbox is not a received form, or None when it may be one."""

    def ignored(self, path: Path) -> str | None:
        name = path.name
        lower = name.lower()
        if lower in _IGNORED_NAMES:
            return "system file"
        if name.startswith(_IGNORED_PREFIXES):
            return "hidden or lock file"
        if lower.endswith(_IGNORED_SUFFIXES):
            return "partial download or temporary file"
        if path.is_symlink():
            return "symbolic link (not followed)"
        if not path.is_file():
            return "not a regular file"
        return None


@dataclass(frozen=True)
class _Seen:
    size: int
    mtime_ns: int
    since: float


@dataclass
class StabilityTracker:
    """A file is complete once its size and modification time have stayed the same for
    `stable_seconds` and it can be opened for reading."""

    stable_seconds: float
    clock: Callable[[], float] = time.monotonic
    _seen: dict[Path, _Seen] = field(default_factory=dict)

    def ready(self, paths: Iterable[Path]) -> list[Path]:
        now = self.clock()
        ready: list[Path] = []
        present: set[Path] = set()
        for path in paths:
            try:
                stat = path.stat()
            except OSError:
                continue  # gone between listing and looking: a writer's rename, say
            present.add(path)
            seen = self._seen.get(path)
            if seen is None or (seen.size, seen.mtime_ns) != (stat.st_size, stat.st_mtime_ns):
                seen = _Seen(stat.st_size, stat.st_mtime_ns, now)
                self._seen[path] = seen
            # A file untouched for long enough before we first looked needs only a second,
            # quick look: some copy tools set the time early and the size grows afterwards.
            watched = now - seen.since
            untouched = time.time() - stat.st_mtime_ns / 1e9 >= self.stable_seconds
            settled = watched >= self.stable_seconds or (
                untouched and watched >= min(_SECOND_LOOK, self.stable_seconds))
            if settled and _openable(path):
                ready.append(path)
        for gone in set(self._seen) - present:
            del self._seen[gone]
        return ready

    @property
    def waiting(self) -> int:
        return len(self._seen)


def _openable(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            handle.read(1)
    except OSError:
        return False
    return True


def candidates(inbox: Path, inbox_filter: InboxFilter) -> list[Path]:
    """Files directly in the inbox that may be forms, oldest first."""
    try:
        entries = list(os.scandir(inbox))
    except OSError:
        return []
    found = []
    for entry in entries:
        path = Path(entry.path)
        try:
            if inbox_filter.ignored(path) is None:
                found.append(path)
        except OSError:
            # Listed but not to be looked at now (a network drive's hiccup, ESTALE or EIO, or
            # no permission): left for a later pass instead of failing this one.
            continue

    def age(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except OSError:
            return 0.0

    return sorted(found, key=age)


def wait_until_ready(inbox: Path, inbox_filter: InboxFilter, tracker: StabilityTracker,
                     patience: float, sleep: Callable[[float], None] = time.sleep) -> list[Path]:
    """One pass: the files ready now, after watching unsettled ones for at most `patience`
    seconds. A file still being written after that is left for the next pass."""
    deadline = tracker.clock() + patience
    while True:
        listed = candidates(inbox, inbox_filter)
        ready = tracker.ready(listed)
        if len(ready) == len(listed) or tracker.clock() >= deadline:
            return ready
        # Looked at often: the report's delay after a file settles is at most this (a listing
        # of the inbox costs well under a millisecond).
        sleep(min(_POLL_SECONDS, max(tracker.stable_seconds / 4, 0.01)))
