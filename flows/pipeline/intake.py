"""Taking one file from the inbox: hash, read, check, file the original, record, queue reports.

The original bytes are moved, never rewritten or deleted: into archive/<year>/ when readable,
into failed/ with a note beside it when not.

A pass reads its files side by side in the reader pool, a few ahead of the one being filed
(ReadAhead); filing, recording and reporting stay in this process, one file after another in
the order of the pass. Reading ahead changes nothing on disk or in the store: a run killed
meanwhile loses only reads, done again by the next pass.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import shutil
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from blankett.extractors import convert
from blankett.flows.home.durable import fsync_folder
from blankett.flows.mail.messaging import (
    queue_failure_report,
    queue_version_report,
    queue_warning_reports,
)
from blankett.flows.mail.reports import searchable_copy
from blankett.flows.pipeline.examine import Failure, PendingRead
from blankett.flows.pipeline.isolation import WorkerUnavailable, readers
from blankett.flows.pipeline.resources import Pipeline, relative
from blankett.flows.store.database import Submission, store_problem
from blankett.flows.store.ledger import as_utc, record_version, status_of
from blankett.models.errors import Unreadable
from blankett.models.messages import unread_file
from blankett.models.records import Extraction

log = logging.getLogger("blankett.intake")

Outcome = Literal["complete", "incomplete", "unreadable", "duplicate", "skipped"]


@dataclass(frozen=True)
class Taken:
    name: str
    outcome: Outcome
    detail: str = ""  # where the file went, or why it was skipped
    application_id: int | None = None
    version: int | None = None
    # Skipped because something is wrong (the archive or store cannot be written, no reader
    # can start), not because the file is still arriving or went away: the run has failed.
    failed: bool = False
    # For people (the run's artifact), in Swedish: why it could not be read, or what it repeats.
    said: str = ""


@dataclass
class _Started:
    """A file of the pass read ahead: its bytes, as they were when read, and its reading."""

    data: bytes
    sha: str
    seen: tuple[int, int, int]  # inode, size, modification time: unchanged since?
    reading: PendingRead | None  # None: known already (a duplicate), not read


class ReadAhead:
    """The files of a pass read in the reader pool ahead of the one being taken, so that every
    worker has a file while this process files, records and reports them in order. Use it as
    a context manager around the pass; `take_file(pipeline, path, ahead)` takes what is ready."""

    def __init__(self, pipeline: Pipeline, paths: Sequence[Path], window: int | None = None) -> None:
        self.pipeline = pipeline
        self._paths = list(paths)
        self._place = {path: n for n, path in enumerate(self._paths)}
        self._next = 0  # the first path not started
        self._started: dict[Path, _Started] = {}
        # Nothing to read, no pool: its server process would start for nothing (`run` with
        # nothing new, most of `watch`'s passes).
        reads_in_pool = pipeline.examiner.limits.read_seconds is not None and bool(self._paths)
        self.window = window if window is not None else \
            (2 * readers().size if reads_in_pool else 0)
        self._fill()

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Reads not begun are dropped (a pass that stopped early)."""
        for started in self._started.values():
            if started.reading is not None:
                started.reading.cancel()
        self._started.clear()
        self._next = len(self._paths)

    def claim(self, path: Path) -> _Started | None:
        """The file's read begun ahead, if it was and the file is still as it was read; the
        next files' reads are begun meanwhile."""
        # Those before it, taken out of turn, are taken as they come, unread ahead.
        self._next = max(self._next, self._place.get(path, -1) + 1)
        started = self._started.pop(path, None)
        self._fill()
        if started is None:
            return None
        try:
            unchanged = _seen(path) == started.seen
        except OSError:
            unchanged = False  # gone or locked: take_file says so
        if not unchanged:
            if started.reading is not None:
                started.reading.cancel()
            return None  # changed since: taken as it is now
        return started

    def _fill(self) -> None:
        while len(self._started) < self.window and self._next < len(self._paths):
            path = self._paths[self._next]
            self._next += 1
            started = self._start(path)
            if started is not None:
                self._started[path] = started

    def _start(self, path: Path) -> _Started | None:
        limits = self.pipeline.examiner.limits
        try:
            seen = _seen(path)
            if limits.too_large(seen[1]):
                return None  # refused unread by take_file
            data = path.read_bytes()
        except OSError:
            return None  # take_file sees to it
        sha = hashlib.sha256(data).hexdigest()
        if _known(self.pipeline, sha):
            return _Started(data, sha, seen, None)
        try:
            return _Started(data, sha, seen, self.pipeline.examiner.read_soon(path.name, data))
        except WorkerUnavailable:
            return None  # take_file tries again, and says so


def _seen(path: Path) -> tuple[int, int, int]:
    found = os.stat(path)
    return found.st_ino, found.st_size, found.st_mtime_ns


def _known(pipeline: Pipeline, sha: str) -> bool:
    """Filed already (so taken as a duplicate, unread)."""
    try:
        with pipeline.store.session() as session:
            known = pipeline.store.submission_by_sha(session, sha)
            return known is not None and known.state != "moving"
    except SQLAlchemyError:
        return False  # read it; take_file finds out


def take_file(pipeline: Pipeline, path: Path, ahead: ReadAhead | None = None) -> Taken:
    name = path.name
    started = ahead.claim(path) if ahead is not None else None
    try:
        if started is not None:
            size, too_large, data = len(started.data), None, started.data
        else:
            size = path.stat().st_size
            too_large = pipeline.examiner.limits.too_large(size)
            data = b"" if too_large else path.read_bytes()
    except OSError as exc:
        # Gone or locked between listing and reading: the next pass sees it again if it is back.
        return Taken(name, "skipped", f"cannot be read now ({exc.strerror or exc})")
    try:
        if too_large:
            return _take_oversized(pipeline, path, name, size, too_large)
        sha = started.sha if started is not None else hashlib.sha256(data).hexdigest()
        return _take(pipeline, path, name, data, sha, pipeline.clock(),
                     started.reading if started is not None else None)
    except WorkerUnavailable as exc:
        log.error("%s: %s; left in the inbox for the next pass", name, exc)
        return Taken(name, "skipped", str(exc), failed=True)
    except OSError as exc:
        if exc.errno == errno.ENOENT and not os.path.lexists(path):
            # Renamed, deleted or hidden between its reading and its move: no error, nothing
            # to file; what it became (a new name, say) is seen by the next pass.
            log.info("%s: gone from the inbox before it could be filed", name)
            return Taken(name, "skipped", "gone from the inbox before it could be filed")
        # The archive or failed/ cannot be written (full, read-only): the file stays where it
        # is, nothing is recorded, and the next pass tries again.
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        reason = f"cannot be filed ({exc.strerror or exc}{where})"
        log.error("%s %s; left in the inbox", name, reason)
        return Taken(name, "skipped", reason, failed=True)
    except ChangedMeanwhile as exc:
        log.warning("%s %s; left in the inbox", name, exc)
        return Taken(name, "skipped", str(exc))
    except SQLAlchemyError as exc:
        # The store cannot take the record (its disk full, say): as above, the file is put back
        # and the next pass tries again; one line, not the SQL statement with its parameters.
        # A filing caught half-way (the file moved, its record not) is finished by recover().
        reason = f"cannot be recorded ({store_problem(exc)})"
        log.error("%s %s; left in the inbox", name, reason)
        return Taken(name, "skipped", reason, failed=True)


def _file_if_duplicate(pipeline: Pipeline, path: Path, name: str, sha: str,
                       received: datetime) -> Taken | None:
    with pipeline.store.session() as session:
        known = pipeline.store.submission_by_sha(session, sha)
        if known is not None and known.state == "moving":
            # A crashed run meant to file this very file and never did: start again.
            session.delete(known)
            known = None
        if known is not None:
            # Beside the first copy: a repeated unreadable file stays with the unreadable ones.
            first = pipeline.home.failed if known.state == "failed" else \
                pipeline.home.archive / str(pipeline.year)
            target = _destination(first / "duplicates", _stamp(pipeline, received), sha, name)
            target = _move(path, target)
            _same_as_read(target, path, sha)
            known.duplicates += 1
            log.info("%s: the same file as %s, received before; filed as %s", name,
                     known.original_name, relative(pipeline.home, target))
            return Taken(name, "duplicate", f"same as {known.original_name}",
                         said=f"samma fil som {known.original_name}, som redan kommit in")

    return None


def _take_oversized(pipeline: Pipeline, path: Path, name: str, size: int,
                    reason: Unreadable) -> Taken:
    """Refused without being read into memory: hashed as a stream, filed in failed/."""
    try:
        with open(path, "rb") as handle:
            sha = hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as exc:
        return Taken(name, "skipped", f"cannot be read now ({exc.strerror or exc})")
    failure = Failure.of(name, reason)
    received = pipeline.clock()
    # Whatever cannot be filed or recorded is said and left in the inbox by take_file.
    duplicate = _file_if_duplicate(pipeline, path, name, sha, received)
    if duplicate is not None:
        return duplicate
    return _file(pipeline, path, name, sha, size, received, failure)


def _take(pipeline: Pipeline, path: Path, name: str, data: bytes, sha: str,
          received: datetime, reading: PendingRead | None = None) -> Taken:
    duplicate = _file_if_duplicate(pipeline, path, name, sha, received)
    if duplicate is not None:
        if reading is not None:
            reading.cancel()
        return duplicate

    extraction = (reading or pipeline.examiner.read_soon(name, data)).result()
    if isinstance(extraction, Failure) and _maybe_unfinished(pipeline, path, extraction, received):
        reason = ("looks unfinished (damaged or empty and changed just now); left in the inbox "
                  f"for up to {pipeline.home.settings.inbox.unfinished_grace_seconds:g} s in case "
                  "its copy is still going on, then filed as it is")
        _say_once(path, sha, f"{name} {reason}")
        return Taken(name, "skipped", reason)
    return _file(pipeline, path, name, sha, len(data), received, extraction)


# What was said of the files waiting in the inbox, by path and content: every pass looks at such
# a file again (in `watch`, as often as the inbox changes) and the log says it once.
_said: set[tuple[Path, str]] = set()


def _say_once(path: Path, sha: str, line: str) -> None:
    if (path, sha) in _said:
        log.debug("%s", line)
        return
    # Those gone from the inbox (filed, removed) are forgotten: a watch runs for months.
    _said.intersection_update({said for said in _said if said[0].exists()})
    _said.add((path, sha))
    log.info("%s", line)


def _file(pipeline: Pipeline, path: Path, name: str, sha: str, size: int, received: datetime,
          extraction: Extraction | Failure) -> Taken:
    stamp = _stamp(pipeline, received)
    folder = pipeline.home.failed if isinstance(extraction, Failure) else \
        pipeline.home.archive / str(pipeline.year)
    target = _free(_destination(folder, stamp, sha, name))
    # Write-ahead: the store learns where the file is going before it goes, so that a crash
    # between the move and the record is finished by `recover`, never forgotten.
    intent = _intend(pipeline, sha, name, size, received, target)
    try:
        _move_to(path, target)
    except BaseException:
        _forget(pipeline, intent)
        raise
    try:
        _same_as_read(target, path, sha)
    except ChangedMeanwhile:  # back in the inbox; should it not get there, recover() sees to it
        _forget(pipeline, intent)
        raise
    keep_searchable(pipeline, target, extraction)
    try:
        return _record(pipeline, intent, target, name, sha, extraction)
    except BaseException:
        if not _still_moving(pipeline, intent):
            raise  # recorded after all (stopped just after the commit): the filing stands
        # Not recorded: put the file back so that nothing is lost and the next pass retries.
        # Its note in failed/ and its searchable copy go too, or they would name a file that is
        # not there.
        _move(target, _free(path))
        _drop_notes(target)
        searchable_copy(target).unlink(missing_ok=True)
        _forget(pipeline, intent)
        raise


def _still_moving(pipeline: Pipeline, intent: int) -> bool:
    try:
        with pipeline.store.session() as session:
            submission = session.get(Submission, intent)
            return submission is None or submission.state == "moving"
    except SQLAlchemyError:
        return True  # the store cannot be read: its write failed with it


class ChangedMeanwhile(Exception):
    """What was moved out of the inbox is not what was read there."""


def _same_as_read(moved: Path, source: Path, sha: str) -> None:
    """The file moved must hold the bytes that were read and hashed. Between the two, a flaky
    network drive or a sync client may cut the file short, rewrite it, or put a folder in its
    place; the move then takes whatever is there, and the record would name bytes the archive
    does not hold. Such a file goes back to the inbox, for a later pass to take as it is then."""
    if not _holds(moved, sha):
        _move(moved, _free(source))
        raise ChangedMeanwhile("changed while it was being filed (it is taken once it settles)")


def _holds(path: Path, sha: str) -> bool:
    """Whether `path` is a file (not a folder, not a link) holding the bytes hashed as `sha`."""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return False
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest() == sha
    except OSError:
        return False


def _intend(pipeline: Pipeline, sha: str, name: str, size: int, received: datetime,
            target: Path) -> int:
    with pipeline.store.session() as session:
        submission = Submission(sha256=sha, original_name=name, received_at=received, size=size,
                                state="moving", stored_path=relative(pipeline.home, target),
                                year=pipeline.year)
        session.add(submission)
        session.flush()
        return submission.id


def _forget(pipeline: Pipeline, intent: int) -> None:
    with pipeline.store.session() as session:
        submission = session.get(Submission, intent)
        if submission is not None and submission.state == "moving":
            session.delete(submission)


def recover(pipeline: Pipeline) -> list[Taken]:
    """Finish what a crashed run left half-done: a file moved into the archive or failed/ whose
    record was never completed is recorded and reported now; an intent whose file never left
    the inbox is dropped, and the file is taken again as new."""
    with pipeline.store.session() as session:
        intents = [(s.id, s.stored_path, s.original_name, s.sha256)
                   for s in session.scalars(select(Submission).where(Submission.state == "moving"))]
    done: list[Taken] = []
    for intent, stored, name, sha in intents:
        try:
            done += _finish(pipeline, intent, stored, name, sha)
        except Exception as exc:
            # One line: a store error's text holds the SQL statement and its parameters.
            said = store_problem(exc) if isinstance(exc, SQLAlchemyError) else str(exc)
            log.error("%s: a crashed run's filing cannot be finished yet (%s: %s)", name,
                      type(exc).__name__, said)
            done.append(Taken(name, "skipped", f"filing left by a crashed run: {said}"))
    return done


def retake_failed(pipeline: Pipeline, *, only_awaiting_setup: bool = False) -> list[Taken]:
    """Read the grant year's unreadable files in failed/ again (after an upgrade, or once OCR
    or LibreOffice is installed). Those now read are taken in as applications with the time
    they were received, filed into the archive and reported; the others stay where they are,
    with the reason they fail now. With `only_awaiting_setup` (the nightly run), only files that
    failed for want of a program on this machine are tried: a damaged file stays damaged."""
    with pipeline.store.session() as session:
        failed = [(s.id, s.stored_path, s.original_name, s.sha256, s.received_at, s.failure_reason,
                   s.failure_kind)
                  for s in session.scalars(select(Submission).where(
                      Submission.state == "failed", Submission.year == pipeline.year))]
    taken: list[Taken] = []
    for intent, stored, name, sha, received, reason, kind in failed:
        if only_awaiting_setup and not awaits_setup(reason or "", kind):
            continue
        try:
            taken += _retake(pipeline, intent, stored, name, sha, received)
        except (OSError, SQLAlchemyError, WorkerUnavailable) as exc:
            said = store_problem(exc) if isinstance(exc, SQLAlchemyError) else str(exc)
            log.error("%s: cannot be read again from %s now (%s: %s)", name, stored,
                      type(exc).__name__, said)
            taken.append(Taken(name, "skipped", f"not read again: {said}"))
    return taken


def awaits_setup(reason: str, kind: str | None = None) -> bool:
    """Whether a file failed only because a program it needs is not installed here (by its
    reason's wording where it failed before failures had kinds)."""
    return kind == "needs_libreoffice" or (kind is None and convert.INSTALL_HINT in reason)


def _retake(pipeline: Pipeline, intent: int, stored: str, name: str, sha: str,
            received: datetime) -> list[Taken]:
    source = pipeline.home.root / stored
    if pipeline.examiner.limits.too_large(source.stat().st_size):
        return []  # refused for its size, unread: nothing new to learn from it
    extraction = pipeline.examiner.read(name, source.read_bytes())
    if isinstance(extraction, Failure):
        with pipeline.store.session() as session:
            submission = session.get(Submission, intent)
            if submission is not None and submission.state == "failed" and (
                    submission.failure_reason, submission.failure_kind, submission.failure_values) \
                    != (extraction.reason, extraction.kind, extraction.values):
                _failed(submission, extraction)
                _write_note(source, name, extraction)
        return []
    target = _free(_destination(pipeline.home.archive / str(pipeline.year),
                                _stamp(pipeline, as_utc(received)), sha, name))
    # Write-ahead as for a new file: where it goes is recorded before it goes. Its name in
    # failed/ is the same, so that recover() can tell an interrupted move from a lost file.
    with pipeline.store.session() as session:
        submission = session.get(Submission, intent)
        if submission is None or submission.state != "failed":
            return []
        submission.state = "moving"
        submission.stored_path = relative(pipeline.home, target)
    _move_to(source, target)
    _drop_notes(source)
    keep_searchable(pipeline, target, extraction)
    log.info("%s: read now, taken from failed/ as received %s", name, as_utc(received))
    return [_record(pipeline, intent, target, name, sha, extraction)]


def _finish(pipeline: Pipeline, intent: int, stored: str, name: str, sha: str) -> list[Taken]:
    target = pipeline.home.root / stored
    left = _left_in_failed(pipeline, target, sha)
    if not target.exists() and left is not None:
        # A file being taken again from failed/ when the run stopped: it stays a failure.
        with pipeline.store.session() as session:
            submission = session.get(Submission, intent)
            if submission is not None:
                submission.state = "failed"
                submission.stored_path = relative(pipeline.home, left)
        return []
    if not target.exists():
        _forget(pipeline, intent)
        return []
    if not _holds(target, sha):
        # Changed in the inbox between its reading and its move, and it could not be put back
        # then (see _same_as_read): back now, to be taken as what it is.
        _move(target, _free(pipeline.home.inbox / name))
        _forget(pipeline, intent)
        return []
    extraction = pipeline.examiner.read(name, target.read_bytes())
    if isinstance(extraction, Failure) != (target.parent == pipeline.home.failed):
        # Read differently now (a new limit, say): kept where it is; the record says why.
        log.warning("%s: read differently after a restart; kept at %s", name, stored)
    log.info("%s: finishing a crashed run's work", name)
    if target.parent != pipeline.home.failed:
        # A retake stopped between its move and the removal of the note: no note of a file
        # that is no longer there.
        for note in pipeline.home.failed.glob(f"*-{sha[:12]}-*.txt"):
            if not _noted(note).exists():
                note.unlink(missing_ok=True)
    keep_searchable(pipeline, target, extraction)
    return [_record(pipeline, intent, target, name, sha, extraction)]


def _left_in_failed(pipeline: Pipeline, target: Path, sha: str) -> Path | None:
    """The file in failed/ that a retake was moving to `target`: of the same name, or (should the
    time zone of names have changed since) another holding the same bytes."""
    same = pipeline.home.failed / target.name
    if _holds(same, sha):
        return same
    return next((p for p in sorted(pipeline.home.failed.glob(f"*-{sha[:12]}-*"))
                 if not p.name.endswith(NOTE_SUFFIX) and _holds(p, sha)), None)


def _stamp(pipeline: Pipeline, moment: datetime) -> str:
    """Arrival time in the grant office's time zone, as people read file names."""
    zone = ZoneInfo(pipeline.home.settings.schedule.timezone)
    return moment.astimezone(zone).strftime("%Y%m%d-%H%M%S")


def _maybe_unfinished(pipeline: Pipeline, path: Path, failure: Failure,
                      now: datetime) -> bool:
    """A copy that paused longer than the stability wait reads as a damaged file. While such a
    file is young it is left alone; only one that stays damaged is filed as unreadable."""
    if failure.kind != "empty" and not failure.kind.startswith("damaged"):
        return False
    try:
        age = now.timestamp() - path.stat().st_mtime
    except OSError:
        return False
    return age < pipeline.home.settings.inbox.unfinished_grace_seconds


def _record(pipeline: Pipeline, intent: int, target: Path, name: str, sha: str,
            extraction: Extraction | Failure) -> Taken:
    with pipeline.store.session() as session:
        submission = session.get(Submission, intent)
        if submission is None or submission.state != "moving":
            raise RuntimeError(f"{name}: its record changed while it was being filed")
        submission.state = "failed" if isinstance(extraction, Failure) else "archived"
        if isinstance(extraction, Failure):
            _failed(submission, extraction)
        session.flush()
        if isinstance(extraction, Failure):
            _write_note(target, name, extraction)
            queue_failure_report(pipeline, session, submission)
            taken = Taken(name, "unreadable", extraction.reason, said=extraction.said)
            said = (logging.WARNING, "%s cannot be read: %s; moved to %s",
                    (name, extraction.reason, submission.stored_path))
        else:
            report = pipeline.examiner.report(name, sha, extraction)
            recorded = record_version(session, submission, report, extraction, pipeline.year,
                                      pipeline.examiner.fingerprint)
            queue_version_report(pipeline, session, recorded)
            queue_warning_reports(pipeline, session, recorded.application, recorded.warned)
            outcome: Outcome = status_of(recorded.result)
            taken = Taken(name, outcome, submission.stored_path, recorded.application.id,
                          recorded.version.number)
            said = (logging.INFO, "%s: %s, %s version %d, archived as %s",
                    (name, outcome, recorded.application.municipality or "unknown municipality",
                     recorded.version.number, submission.stored_path))
    # Said once committed: a store that refuses the record (full, say) must not leave a line
    # telling that the file was archived, when it is back in the inbox.
    log.log(said[0], said[1], *said[2])
    return taken


def keep_searchable(pipeline: Pipeline, target: Path, extraction: Extraction | Failure) -> None:
    """A scan's searchable copy, made by OCR, beside the original as received, before the report
    that attaches it is written. Only a copy: a disk that cannot take it costs the copy, never
    the filing."""
    if isinstance(extraction, Failure) or not extraction.searchable_pdf:
        return
    copy = searchable_copy(target)
    partial = copy.with_name(copy.name + ".part")
    try:
        partial.write_bytes(extraction.searchable_pdf)
        os.replace(partial, copy)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        log.warning("%s: its searchable copy cannot be kept (%s)", target.name, exc.strerror or exc)
        return
    log.info("%s: searchable copy kept as %s", target.name, relative(pipeline.home, copy))


def _failed(submission: Submission, failure: Failure) -> None:
    submission.failure_reason = failure.reason
    submission.failure_kind = failure.kind
    submission.failure_values = dict(failure.values)


# The note beside a file in failed/ that says why it could not be read. Named apart from any file
# received: a received "ansokan.txt" is noted in "….ansokan.txt.orsak.txt", never in an
# "….ansokan.txt.txt" that reads as a second copy of it.
NOTE_SUFFIX = ".orsak.txt"
# What notes were named before, found and removed with the new ones.
_OLD_NOTE_SUFFIX = ".txt"


def note_of(target: Path) -> Path:
    """The note beside a file in failed/."""
    return target.with_name(target.name + NOTE_SUFFIX)


def _noted(note: Path) -> Path:
    """The file a note in failed/ is about."""
    suffix = NOTE_SUFFIX if note.name.endswith(NOTE_SUFFIX) else _OLD_NOTE_SUFFIX
    return note.with_name(note.name.removesuffix(suffix))


def _drop_notes(target: Path) -> None:
    # An old note too: its file's name and hash prefix make it no file received.
    for note in (note_of(target), target.with_name(target.name + _OLD_NOTE_SUFFIX)):
        note.unlink(missing_ok=True)


def _write_note(target: Path, name: str, failure: Failure) -> None:
    note = note_of(target)
    try:
        note.write_text(f"{name}\n\n{unread_file(failure.kind, failure.values)}\n", encoding="utf-8")
    except OSError as exc:
        # No room for the note (the file itself fitted): no empty note is left behind, and the
        # error says which file could not be written.
        note.unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror, str(note)) from None
    # Written again (`rerun --failed`) beside a note of an older blankett: one note, the new.
    target.with_name(target.name + _OLD_NOTE_SUFFIX).unlink(missing_ok=True)


_UNSAFE = re.compile(r"[^\w.\- ]+")


def _destination(folder: Path, stamp: str, sha: str, name: str) -> Path:
    """A name that sorts by arrival, cannot collide, and keeps the original name readable."""
    safe = _UNSAFE.sub("_", name).strip(" .") or "file"
    stem, dot, suffix = safe.rpartition(".")
    safe = f"{stem[:120]}.{suffix}" if dot and len(suffix) <= 8 else safe[:128]
    return folder / f"{stamp}-{sha[:12]}-{safe}"


def _free(path: Path) -> Path:
    candidate, n = path, 1
    while candidate.exists():
        candidate = path.with_name(f"{path.stem} ({n}){path.suffix}")
        n += 1
    return candidate


def _move_to(source: Path, target: Path) -> None:
    """To exactly `target`, which the caller has made free."""
    moved = _move(source, target)
    if moved != target:  # taken meanwhile by another process: undo rather than misfile
        os.replace(moved, source)
        raise FileExistsError(errno.EEXIST, "the archive name was taken meanwhile", str(target))


_NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _move(source: Path, target: Path) -> Path:
    """Atomic within one file system; across file systems the copy is made durable before the
    source is removed, so that a crash leaves the file in one place or both, never none."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target = _free(target)
    try:
        os.replace(source, target)
    except OSError as exc:
        if exc.errno != 18:  # EXDEV: another file system
            raise
        partial = target.with_name(target.name + ".partial")
        try:
            shutil.copyfile(source, partial)
            with open(partial, "rb+") as handle:
                os.fsync(handle.fileno())
        except BaseException as exc:
            # A copy cut short (the disk full, say) is removed: it would hold the very room that
            # is missing, and sit in the archive beside the files as if it were one. shutil's
            # error names the original in the inbox; a lack of room is the folder's.
            partial.unlink(missing_ok=True)
            if isinstance(exc, OSError) and exc.errno in _NO_ROOM:
                raise OSError(exc.errno, exc.strerror, str(target.parent)) from None
            raise
        os.replace(partial, target)
        source.unlink()
    fsync_folder(target.parent)
    return target
