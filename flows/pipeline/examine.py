"""One received file from path to checked report: read, hash, extract, validate.

Plain functions, shared by the command line and the pipeline; nothing here needs Prefect.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import warnings
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from pathlib import Path

from blankett.extractors import ReadContext, Unreadable, read
from blankett.flows.pipeline.isolation import (
    Refused,
    WorkerUnavailable,
    can_fork_here,
    read_forked,
    readers,
)
from blankett.models.limits import MB, Limits
from blankett.models.messages import failure
from blankett.models.records import Extraction, Report
from blankett.models.spec import FormSpec, Routing
from blankett.models.text import one_line
from blankett.models.validation import Rules, check, flag_second_applications


@dataclass(frozen=True)
class Failure:
    """A file that could not be read, and why: in one line of English for logs and `extract`,
    and as a kind of reason (Unreadable.kind) with its values, which models.messages words in
    Swedish for the people who read reports, notes and `status`."""

    file: str
    reason: str
    kind: str = "unreadable"
    values: dict[str, object] = field(default_factory=dict, hash=False)

    @classmethod
    def of(cls, file: str, error: Unreadable) -> Failure:
        return cls(file, str(error), error.kind, dict(error.values))

    @property
    def line(self) -> str:
        # One line whatever a library put into its message.
        return f"error: {self.file} {' '.join(self.reason.split())}"

    @property
    def said(self) -> str:
        """Why, in Swedish."""
        return failure(self.kind, self.values)


class PendingRead:
    """A file being read in the reader pool; `result()` waits for what `Examiner.read` returns."""

    def __init__(self, name: str, future: Future[Extraction] | None = None,
                 done: Extraction | Failure | None = None) -> None:
        self.name = name
        self._future = future
        self._done = done

    def result(self) -> Extraction | Failure:
        """Raises WorkerUnavailable (no worker could be had: the machine's trouble)."""
        if self._done is None:
            assert self._future is not None
            try:
                self._done = self._future.result()
            except WorkerUnavailable:
                raise
            except Exception as exc:
                self._done = _failure(self.name, exc)
        return self._done

    def cancel(self) -> None:
        """Not read after all, if its reading has not begun."""
        if self._future is not None:
            self._future.cancel()


@dataclass
class Examiner:
    """Reads and checks files with one spec, one routing table and one grant year.

    Files are read in the process's reader pool (isolation.py), or, with `fork_here` (a
    command reading one file), in a child forked from this process."""

    spec: FormSpec
    routing: Routing
    year: int
    limits: Limits
    fork_here: bool = False

    def __post_init__(self) -> None:
        self.context = ReadContext(self.spec, self.limits)
        self.rules = Rules(self.spec, self.routing, self.year)

    def examine_path(self, path: Path, name: str | None = None) -> Report | Failure:
        shown = name or str(path)
        data = self._load(path, shown)
        if isinstance(data, Failure):
            return data
        return self.examine_bytes(shown, data)

    def examine_paths(self, paths: Iterable[Path]) -> Iterator[Report | Failure]:
        """What examine_path gives for each, in the order given; the files are read side by
        side in the reader pool, a few ahead of the one whose report is due."""
        ahead = 1 if self.fork_here or self.limits.read_seconds is None else 2 * readers().size
        started: deque[tuple[str, bytes, PendingRead] | Failure] = deque()
        waiting = iter(paths)
        try:
            while True:
                while len(started) < ahead and (path := next(waiting, None)) is not None:
                    shown = str(path)
                    data = self._load(path, shown)
                    started.append(data if isinstance(data, Failure)
                                   else (shown, data, self.read_soon(shown, data)))
                if not started:
                    return
                head = started.popleft()
                if isinstance(head, Failure):
                    yield head
                    continue
                shown, data, reading = head
                yield self._checked(shown, data, reading.result())
        finally:
            for left in started:  # the caller stopped early
                if not isinstance(left, Failure):
                    left[2].cancel()

    def _load(self, path: Path, shown: str) -> bytes | Failure:
        try:
            if path.is_dir():
                return Failure(shown, "is a folder, not a file", "folder")
            if too_large := self.limits.too_large(path.stat().st_size):
                return Failure.of(shown, too_large)
            return path.read_bytes()
        except FileNotFoundError:
            return Failure(shown, "does not exist", "not_found")
        except PermissionError:
            return Failure(shown, "cannot be opened: permission denied", "no_access")
        except OSError as exc:
            return Failure(shown, f"cannot be read ({exc.strerror or exc})", "io_error")

    def examine_bytes(self, name: str, data: bytes) -> Report | Failure:
        return self._checked(name, data, self.read(name, data))

    def _checked(self, name: str, data: bytes, extraction: Extraction | Failure) -> Report | Failure:
        if isinstance(extraction, Failure):
            return extraction
        return self.report(name, hashlib.sha256(data).hexdigest(), extraction)

    def read(self, name: str, data: bytes) -> Extraction | Failure:
        """What the file says, before any check; a Failure when it cannot be read."""
        return self.read_soon(name, data).result()

    def read_soon(self, name: str, data: bytes) -> PendingRead:
        """The file handed to a reader now, its reading waited for later: files read side by
        side. In this process (no limits) or forked from it, it is read at once."""
        if self.limits.read_seconds is None:
            try:
                with warnings.catch_warnings():
                    # The PDF libraries warn about every oddity of a file they can still read.
                    warnings.simplefilter("ignore")
                    return PendingRead(name, done=read(data, self.context))
            except Exception as exc:
                return PendingRead(name, done=_failure(name, exc))
        seconds, memory_bytes = self.limits.read_seconds, self.limits.read_memory_mb * MB
        if self.fork_here and can_fork_here():
            try:
                return PendingRead(name, done=read_forked(data, self.context, seconds=seconds,
                                                          memory_bytes=memory_bytes))
            except WorkerUnavailable:
                raise
            except Exception as exc:
                return PendingRead(name, done=_failure(name, exc))
        return PendingRead(name, readers().submit(data, self.context, seconds=seconds,
                                                  memory_bytes=memory_bytes))

    @cached_property
    def fingerprint(self) -> str:
        """The rules in force as one hash: the form spec, the routing, the grant year and the
        code of the checks. What was read once checked under a fingerprint is checked again
        only under another (or when read again): the same reading, the same rules, the same
        outcome. Stored with each result (Result.rules_fingerprint)."""
        digest = hashlib.sha256()
        for part in (self.spec.model_dump_json(), self.routing.model_dump_json(), str(self.year),
                     _checks_code()):
            digest.update(part.encode())
            digest.update(b"\0")
        return digest.hexdigest()

    def report(self, name: str, sha256: str, extraction: Extraction) -> Report:
        """The checks of the rules in force applied to what was read."""
        checked = check(extraction, self.rules)
        return Report(
            file=name,
            sha256=sha256,
            kind=extraction.kind,
            fields=checked.fields,
            complete=checked.complete,
            problems=checked.problems,
            consultants=checked.consultants,
            sources=checked.sources,
            needs_review=checked.needs_review,
            unplaced=checked.unplaced,
        )

    def cross_check(self, reports: list[Report]) -> None:
        """Checks across files: a municipality that sent two different applications."""
        flag_second_applications(reports, self.year)
        for report in reports:
            report.complete = not any(p.severity == "error" for p in report.problems)


@cache
def _checks_code() -> str:
    """A hash of the code the checks run: blankett.models (the rules, their data and the
    records), this module, and the word stemmer the rules use. Any change to them counts as a
    change of the rules: everything is checked again once, as it was every night before."""
    digest = hashlib.sha256()
    sources = [f for f in resources.files("blankett.models").iterdir()
               if f.name.endswith((".py", ".toml"))]
    for source in sorted(sources, key=lambda f: f.name):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    digest.update(Path(__file__).read_bytes())
    digest.update(importlib.metadata.version("snowballstemmer").encode())
    return digest.hexdigest()


def _failure(name: str, exc: Exception) -> Failure:
    """A reader's exception as the file's one-line failure."""
    if isinstance(exc, Refused):
        return Failure(name, f"could not be read: the reader failed ({exc})", "reader_failed")
    if isinstance(exc, Unreadable):
        return Failure.of(name, exc)
    if isinstance(exc, (RecursionError, MemoryError)):
        return Failure(name, "is too deeply nested or too large to read safely", "too_nested")
    logging.getLogger(__name__).debug("reading %s failed", name, exc_info=exc)
    return Failure(name, f"could not be read: the reader failed ({type(exc).__name__}: "
                         f"{one_line(str(exc), 160)})", "reader_failed")
