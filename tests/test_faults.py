"""Faults from outside: a disk that fills while a file is filed, a store that fills, an SMTP
server that drops the connection in the middle of a message or answers with an error, an inbox
whose files appear, change and vanish while passes run. Real parts throughout: the corpus's
files, a real full file system (tmpfs; or a real EFBIG under RLIMIT_FSIZE where mounting is not
allowed), SQLite's own SQLITE_FULL, aiosmtpd on loopback.

The counts are small for CI; `BLANKETT_FAULT_ROUNDS=20 .venv/bin/pytest -s tests/test_faults.py`
for the long run (`BLANKETT_FAULT_NO_MOUNT=1` tries the fallback without tmpfs).
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import io
import itertools
import json
import logging
import math
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pipeline_support import Collector, free_port, intake_pass, make_home
from sqlalchemy import event, select, text

from blankett.fixtures.corpus import Case
from blankett.flows.home.settings import Home, load_home
from blankett.flows.mail.messaging import DeliveryOutcome
from blankett.flows.pipeline.intake import NOTE_SUFFIX, Taken
from blankett.flows.pipeline.resources import Pipeline, open_pipeline
from blankett.flows.store.database import Message, Store, StoreError, Submission
from blankett.models.records import SCAN_KINDS

ROUNDS = int(os.environ.get("BLANKETT_FAULT_ROUNDS", "2"))
PAGE = 4096
# Under RLIMIT_FSIZE no file may grow past this: the files meant to hit it are larger, and the
# store's and outbox's files of one pass stay far below it.
FILE_SIZE_LIMIT = 2 * 1024 * 1024


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _readable(corpus: list[Case]) -> list[Case]:
    return [c for c in corpus if c.kind not in (None, *SCAN_KINDS)]


def _unreadable(corpus: list[Case]) -> list[Case]:
    # Not the 600-page PDF and the zip bomb: correct, but slow to refuse, and nothing to add here.
    return [c for c in corpus if c.kind is None and c.name not in ("ansokan_600_sidor.pdf",
                                                                   "ansokan_zipbomb.docx")]


def _renamed(case: Case, name: str, data: bytes | None = None) -> Case:
    return replace(case, name=name, data=case.data if data is None else data)


def _drop(home: Home, cases: list[Case]) -> None:
    """Into the inbox as a finished copy: whole, and settled a while ago, oldest first."""
    base = time.time() - 600
    for i, case in enumerate(cases):
        path = home.inbox / case.name
        path.write_bytes(case.data)
        os.utime(path, (base + i, base + i))


def _run(home: Home, patience: float = 1.0) -> tuple[list[Taken], DeliveryOutcome]:
    pipeline = open_pipeline(home)
    try:
        return intake_pass(pipeline, patience)
    finally:
        pipeline.close()


# --- what must hold after any pass ----------------------------------------------------------------

def _records(home: Home) -> list[tuple[str, str, str]]:
    """(sha256, state, stored path) of every submission."""
    store = Store(home.database_url)
    try:
        with store.session() as session:
            return [(s.sha256, s.state, s.stored_path)
                    for s in session.scalars(select(Submission).order_by(Submission.id))]
    finally:
        store.close()


def _filed(home: Home) -> dict[str, Path]:
    """What lies in archive/ and failed/ (not the test's fillers) by its path in the home."""
    return {str(p.relative_to(home.root)): p for place in (home.archive, home.failed)
            for p in place.rglob("*") if p.is_file() and p.name != FILLER}


def _assert_consistent(home: Home) -> dict[str, str]:
    """Nothing half-written and nothing unrecorded in the archive or failed/: each file there is
    a recorded filing holding exactly the bytes recorded, its note in failed/, or a duplicate of
    a recorded file. A filing caught half-way ("moving") may be in either place: the next
    pass's recover() finishes or drops it. Returns sha -> state of what is recorded."""
    files = _filed(home)
    assert [p for p in files if p.endswith(".partial")] == [], "a half-written copy was left"
    records = _records(home)
    done = {stored: (sha, state) for sha, state, stored in records if state != "moving"}
    moving = {stored for _, state, stored in records if state == "moving"}
    for stored, (sha, state) in done.items():
        assert stored in files, f"recorded as {stored}, but no such file"
        assert _sha(files[stored].read_bytes()) == sha, f"{stored} does not hold the bytes recorded"
        if state == "failed":
            assert f"{stored}{NOTE_SUFFIX}" in files, f"{stored} has no note"
    states = {sha: state for sha, state in done.values()}
    for stored, path in files.items():
        if stored in done or stored in moving:
            continue
        if stored.endswith(NOTE_SUFFIX) and stored.removesuffix(NOTE_SUFFIX) in done:
            continue  # failed/'s note beside its file
        assert "duplicates" in path.parts, f"{stored}: in the archive, but recorded nowhere"
        assert _sha(path.read_bytes()) in states, f"{stored}: a duplicate of nothing recorded"
    return states


def _copies(home: Home) -> Counter[str]:
    """sha -> how many copies are filed (the first, and any under duplicates/)."""
    notes = {f"{stored}{NOTE_SUFFIX}" for _, state, stored in _records(home) if state == "failed"}
    return Counter(_sha(p.read_bytes()) for stored, p in _filed(home).items() if stored not in notes)


def _assert_all_filed_once(home: Home, dropped: dict[str, bytes]) -> None:
    states = _assert_consistent(home)
    assert "moving" not in {state for _, state, _ in _records(home)}
    assert sorted(p.name for p in home.inbox.iterdir() if p.is_file()) == []
    assert set(states) == {_sha(d) for d in dropped.values()}
    # A second copy of the same bytes under another name is filed under duplicates/.
    assert _copies(home) == Counter(_sha(d) for d in dropped.values())


# --- a real full disk: tmpfs, or RLIMIT_FSIZE -----------------------------------------------------

FILLER = "filler.bin"


@cache
def _can_mount() -> bool:
    if os.environ.get("BLANKETT_FAULT_NO_MOUNT") or os.geteuid() != 0 or not shutil.which("mount"):
        return False
    probe = Path(tempfile.mkdtemp(prefix="blankett-mount-probe-"))
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)],
                              capture_output=True, check=False)
        if done.returncode != 0:
            return False
        subprocess.run(["umount", str(probe)], capture_output=True, check=False)
        return True
    finally:
        with suppress(OSError):
            probe.rmdir()


@contextmanager
def _tmpfs(folder: Path, size: int) -> Iterator[None]:
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                   capture_output=True, check=True)
    try:
        yield
    finally:
        if subprocess.run(["umount", str(folder)], capture_output=True, check=False).returncode:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


def _fill(folder: Path, leave_pages: int) -> int:
    """Fill the file system of `folder` but for `leave_pages` pages; returns the pages left."""
    free = os.statvfs(folder).f_bavail
    (folder / FILLER).write_bytes(b"\0" * max(0, free - leave_pages) * PAGE)
    return os.statvfs(folder).f_bavail


def _pages(data: bytes) -> int:
    return math.ceil(len(data) / PAGE)


@cache
def _other_file_system(near: str) -> Path | None:
    """A folder on another file system than `near`, where a move becomes a copy."""
    here = os.stat(near).st_dev
    for candidate in ("/dev/shm", "/run/shm", os.environ.get("XDG_RUNTIME_DIR", ""), "/var/tmp"):
        if candidate and os.path.isdir(candidate) and os.access(candidate, os.W_OK) \
                and os.stat(candidate).st_dev != here:
            return Path(candidate)
    return None


def _padded_docx(data: bytes, size: int, rng: random.Random) -> bytes:
    """The same form with a part no reader looks at, stored uncompressed, to make it `size`."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            target.writestr(item, source.read(item.filename))
        target.writestr(zipfile.ZipInfo("customXml/padding.bin"), rng.randbytes(size - len(data)),
                        compress_type=zipfile.ZIP_STORED)
    return out.getvalue()


def _limited_passes(roots: list[Path], limit: int, prefix: tuple[str, ...] = ()
                    ) -> dict[Path, tuple[list[Taken], list[str]]]:
    """One pass over each home, in one process whose files may not grow past `limit` (when not
    0): a write beyond it fails with EFBIG (SIGXFSZ ignored), as one fails with ENOSPC on a full
    disk. `prefix` runs the process under another command. Returns each home's outcomes and
    error lines."""
    done = subprocess.run([*prefix, sys.executable, __file__, "limited-pass", str(limit),
                           *map(str, roots)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    results = [[Taken(**t) for t in json.loads(line)] for line in done.stdout.splitlines()
               if line.startswith("[")]
    errors: list[list[str]] = []
    for line in done.stderr.splitlines():
        if line.startswith("=== "):
            errors.append([])
        elif line.startswith("ERROR blankett"):
            errors[-1].append(line.split(" ", 2)[2])
    assert len(results) == len(errors) == len(roots)
    return dict(zip(roots, zip(results, errors, strict=True), strict=True))


def _limited_passes_main(limit: int, roots: list[Path]) -> None:
    if limit:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE,
                           (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    for root in roots:
        print(f"=== {root}", file=sys.stderr, flush=True)
        taken, _ = _run(load_home(root))
        print(json.dumps([asdict(t) for t in taken]), flush=True)
        sys.stderr.flush()


@dataclass
class _Tally:
    dropped: int = 0
    hit: int = 0  # files the full disk kept in the inbox
    at_note: int = 0  # of which the copy fitted and failed/'s note did not
    filed_meanwhile: int = 0  # files of the pass filed all the same (elsewhere, or room enough)
    errors: Counter[str] = field(default_factory=Counter)


@dataclass
class _Round:
    home: Home
    cases: list[Case]
    bound: set[str]  # the names of the files bound for the full place

    @property
    def dropped(self) -> dict[str, bytes]:
        return {c.name: c.data for c in self.cases}


@pytest.mark.parametrize("place", ["archive", "failed"])
def test_a_full_disk_while_filing_keeps_the_file_in_the_inbox(
        place: str, corpus: list[Case], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The copy into archive/ (or failed/) on another file system runs out of room: the file
    stays in the inbox byte for byte, nothing half-written stays behind, one line says why, the
    pass goes on with the others, and once there is room the next pass files it exactly once."""
    caplog.set_level(logging.INFO)
    mount = _can_mount()
    rng = random.Random(f"disk-full-{place}")
    tally = _Tally()
    rounds = [_disk_full_round(tmp_path / f"home{n}", place, corpus, rng, large=not mount)
              for n in range(ROUNDS)]
    if mount:
        for n, round_ in enumerate(rounds):
            full = round_.home.archive if place == "archive" else round_.home.failed
            first = round_.cases[0].data
            with _tmpfs(full, 8 * 1024 * 1024):
                # Room for part of the first file; for exactly the first file (in failed/: and
                # then none for its note); none at all.
                leave = [rng.randrange(_pages(first)), _pages(first), 0][n % 3]
                assert _fill(full, leave) == leave
                caplog.clear()
                _drop(round_.home, round_.cases)
                taken, _ = _run(round_.home)
                errors = [r.getMessage() for r in caplog.records
                          if r.levelno >= logging.ERROR and r.name.startswith("blankett")]
                _check_full_pass(round_, place, taken, errors, tally)
                (full / FILLER).unlink()  # room again
                _after_room_again(round_)
    else:
        # Without the right to mount: files that may not grow past a limit, in a process of
        # their own, copied across to another file system (/dev/shm), as a real move is.
        elsewhere = _other_file_system(str(tmp_path))
        assert elsewhere is not None, "no second file system here to copy across to"
        folders = []
        try:
            for round_ in rounds:
                full = round_.home.archive if place == "archive" else round_.home.failed
                folders.append(Path(tempfile.mkdtemp(dir=elsewhere)))
                full.rmdir()
                full.symlink_to(folders[-1], target_is_directory=True)
                _drop(round_.home, round_.cases)
            passes = _limited_passes([r.home.root for r in rounds], FILE_SIZE_LIMIT)
            for round_ in rounds:
                taken, errors = passes[round_.home.root]
                _check_full_pass(round_, place, taken, errors, tally)
                _after_room_again(round_)  # in this process: no limit
        finally:
            for folder in folders:
                shutil.rmtree(folder, ignore_errors=True)
    how = "tmpfs" if mount else f"RLIMIT_FSIZE {FILE_SIZE_LIMIT // 1024 // 1024} MB"
    print(f"\ndisk full in {place}/ ({how}): {len(rounds)} rounds, {tally.dropped} files dropped; "
          f"{tally.hit} kept in the inbox by the full disk ({tally.at_note} of them when only "
          f"failed/'s note did not fit), {tally.filed_meanwhile} filed in the same pass; errors: "
          f"{dict(tally.errors)}; every file filed exactly once, byte for byte, once there was room")
    assert tally.hit >= ROUNDS


def _disk_full_round(root: Path, place: str, corpus: list[Case], rng: random.Random,
                     large: bool) -> _Round:
    """Two files bound for the full place and a copy of the first under another name, between
    two bound for the other place. `large`: larger than the file size limit."""
    home = make_home(root)
    bound_pool, other_pool = ((_readable(corpus), _unreadable(corpus)) if place == "archive"
                              else (_unreadable(corpus), _readable(corpus)))
    if large and place == "archive":  # Word documents, which can be made larger
        bound_pool = [c for c in bound_pool if c.data.startswith(b"PK")]
    bound = rng.sample([c for c in bound_pool if c.data], 2)
    if large:
        size = FILE_SIZE_LIMIT + rng.randrange(1, 1024 * 1024)
        # Still a readable form, or still unreadable (garbage after a broken file).
        bound = [_renamed(c, c.name, _padded_docx(c.data, size, rng) if place == "archive"
                          else c.data + rng.randbytes(size)) for c in bound]
    bound.append(_renamed(bound[0], f"kopia-{bound[0].name}"))  # the same bytes again
    others = rng.sample(other_pool, 2)
    cases = [bound[0], others[0], bound[1], others[1], bound[2]]
    assert len({c.name for c in cases}) == len(cases)
    return _Round(home, cases, {c.name for c in bound})


def _after_room_again(round_: _Round) -> None:
    _run(round_.home)
    _assert_all_filed_once(round_.home, round_.dropped)
    again, delivered = _run(round_.home)
    assert again == [] and delivered.sent == 0


def _check_full_pass(round_: _Round, place: str, taken: list[Taken], errors: list[str],
                     tally: _Tally) -> None:
    home, dropped, bound = round_.home, round_.dropped, round_.bound
    tally.dropped += len(dropped)
    _assert_consistent(home)
    filed = {sha for sha, state, _ in _records(home) if state != "moving"}
    assert {t.name for t in taken} == set(dropped), "a file was not even tried"
    for item in taken:
        data = dropped[item.name]
        path = home.inbox / item.name
        if item.outcome != "skipped":
            assert not path.exists() and _sha(data) in filed
            tally.filed_meanwhile += 1
            continue
        # What goes to the other place goes on as usual.
        assert item.name in bound, f"{item.name} was not filed: {item.detail}"
        # Kept: in the inbox byte for byte, and said so in one line that names the place.
        assert path.read_bytes() == data
        assert item.detail.startswith("cannot be filed (")
        mine = [e for e in errors if e.startswith(f"{item.name} ")]
        assert len(mine) == 1 and "\n" not in mine[0], errors
        reason = mine[0].split("(", 1)[1]
        assert reason.startswith(("No space left on device", "File too large")), mine[0]
        assert f"/{place}" in mine[0], mine[0]
        tally.hit += 1
        tally.at_note += ".txt)" in mine[0]
        tally.errors[reason.split(":")[0]] += 1


# --- the store's disk full -------------------------------------------------------------------------

@dataclass
class _Switch(Collector):
    """A loopback SMTP server that can be told to turn every recipient away for now (451)."""

    down: bool = False

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if self.down:
            return "451 4.3.0 Not now, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@contextmanager
def _serving(handler: Collector) -> Iterator[int]:
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def _pairs(collector: Collector) -> Counter[tuple[str, str]]:
    """(message key, recipient) of every message the server accepted, with how often."""
    got: Counter[tuple[str, str]] = Counter()
    for to, raw in collector.envelopes:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        key = str(message["X-Blankett-Key"]).rsplit("@", 1)[0]
        got.update((key, address) for address in to)
    return got


def _expected_pairs(home: Home) -> Counter[tuple[str, str]]:
    store = Store(home.database_url)
    try:
        with store.session() as session:
            messages = session.scalars(select(Message)).all()
            assert {m.state for m in messages} == {"sent"}
            return Counter((m.key, a) for m in messages for a in m.recipients["to"])
    finally:
        store.close()


def _limit_pages(pipeline: Pipeline, pages: int) -> None:
    """SQLite refuses to grow the database past `pages` (SQLITE_FULL), on every connection."""
    engine = pipeline.store.engine

    @event.listens_for(engine, "connect")
    def _limit(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute(f"PRAGMA max_page_count = {pages}")
        cursor.close()

    engine.dispose()  # the connections opened already get it too


def _page_count(home: Home) -> int:
    store = Store(home.database_url)
    try:
        with store.session() as session:
            return int(session.execute(text("PRAGMA page_count")).scalar_one())
    finally:
        store.close()


def _pass_with_a_full_store(home: Home, how: str, rng: random.Random) -> list[Taken] | None:
    """A pass with a store that has no room to grow; None when it could not even be opened."""
    pipeline: Pipeline | None = None
    try:
        pipeline = open_pipeline(home)
        if how == "max_page_count":
            _limit_pages(pipeline, _page_count(home) + rng.randrange(0, 12))
        taken, _ = intake_pass(pipeline, 1.0)
        return taken
    except StoreError as exc:  # so full that the store cannot even be opened: said in one line
        assert "\n" not in str(exc) and "disk" in str(exc), exc
        return None
    finally:
        if pipeline is not None:
            pipeline.close()


@pytest.mark.parametrize("how", ["max_page_count", "tmpfs"])
def test_a_full_store_loses_nothing_and_the_next_pass_completes(
        how: str, corpus: list[Case], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The database cannot grow (SQLITE_FULL) during a pass, while reports from before wait to be
    sent: every file stays in the inbox or is filed with its record (a filing caught half-way is
    finished by the next pass's recover()), each problem is one line, no report goes out twice,
    and once there is room the next pass takes and reports everything."""
    if how == "tmpfs" and not _can_mount():
        pytest.skip("mounting a tmpfs needs root; max_page_count gives the same SQLITE_FULL")
    caplog.set_level(logging.INFO)
    rng = random.Random(f"store-full-{how}")
    pool = _readable(corpus) + _unreadable(corpus)
    outcomes: Counter[str] = Counter()
    errors_seen: Counter[str] = Counter()
    sent_while_full = refused = again_sent = 0
    for round_ in range(ROUNDS):
        handler = _Switch(down=True)
        with _serving(handler) as port:
            root = tmp_path / f"home{round_}"
            home = make_home(root, smtp_port=port)
            db = root / "db"
            db.mkdir()
            with _tmpfs(db, 4 * 1024 * 1024) if how == "tmpfs" else nullcontext():
                if how == "tmpfs":
                    settings = root / "blankett.toml"
                    settings.write_text(settings.read_text() + f'\n[store]\nurl = "sqlite:///{db}/b.db"\n')
                    home = load_home(root)
                picked = rng.sample(pool, 5)
                before, during = picked[:2], picked[2:]
                _drop(home, before)
                _run(home)  # filed; their reports wait, the server turning everyone away
                handler.down = False
                _drop(home, during)
                caplog.clear()
                if how == "tmpfs":
                    _fill(db, rng.randrange(0, 40))
                taken = _pass_with_a_full_store(home, how, rng)
                # A second pass before there is room again: what the first caught half-way is
                # for its recover() to finish, and it cannot yet.
                again = _pass_with_a_full_store(home, how, rng)
                outcomes["store could not be opened"] += (taken is None) + (again is None)
                errors = [r.getMessage() for r in caplog.records
                          if r.levelno >= logging.ERROR and r.name.startswith("blankett")]
                assert all("\n" not in e for e in errors), errors
                errors_seen.update("database or disk is full" if "full" in e else e for e in errors)
                if how == "tmpfs":
                    # Room again, first: a full tmpfs lets no new connection open the store, not
                    # even to read it (no room for its -shm file).
                    (db / FILLER).unlink()
                for item in (taken or []) + (again or []):
                    outcomes[item.outcome] += 1
                    if item.outcome == "skipped":  # said in one line, naming the file
                        assert any(e.startswith(f"{item.name} ") for e in errors), errors
                records = _records(home)
                for case in during:  # nothing lost: in the inbox, or filed (perhaps half-way)
                    kept = home.inbox / case.name
                    if kept.exists():
                        assert kept.read_bytes() == case.data
                    else:
                        assert _sha(case.data) in {sha for sha, _, _ in records}
                outcomes["caught half-way"] += sum(state == "moving" for _, state, _ in records)
                sent_while_full += sum(_pairs(handler).values())
                # The one window left: a report sent whose sending the store then refused to
                # record goes again. It needs that refusal, and delivery stops at it.
                refused += sum("was sent, but the store cannot record it" in e for e in errors)
                _assert_consistent(home)
                _run(home)
                again, delivered = _run(home)
                assert again == [] and delivered.sent == 0 and delivered.pending == 0
                _assert_all_filed_once(home, {c.name: c.data for c in picked})
                got, expected = _pairs(handler), _expected_pairs(home)
                assert set(got) == set(expected), "a report lost"
                again_sent += sum(got.values()) - len(expected)
                assert again_sent <= refused, "a report sent twice, its delivery recorded"
    print(f"\nstore full ({how}): {ROUNDS} rounds, two passes each with the store full, "
          f"{3 * ROUNDS} files dropped then (while the reports of {2 * ROUNDS} files filed before "
          f"waited); the full passes gave {dict(outcomes)}; errors: {dict(errors_seen)}; "
          f"{sent_while_full} reports delivered while it was full, {refused} of them unrecorded "
          f"(the store refused), {again_sent} so sent a second time; after: every file filed "
          f"once, every report delivered")


# --- an SMTP server that drops the connection or answers with an error ---------------------------

_REPLIES = {"421-after-data": "421 4.3.2 Service shutting down, closing transmission channel",
            "451-after-data": "451 4.3.0 Temporary failure, try again later",
            "554-after-data": "554 5.3.0 Transaction failed"}


@dataclass
class _Faulty(Collector):
    """Takes messages as a server does, but ends each of the first `faults` transactions after
    the whole message came in, as `mode` says: "drop-in-data" closes the connection without a
    word; "drop-after-taking" keeps the message first (the client cannot tell the two apart);
    the others answer the message with that error code."""

    mode: str = ""
    faults: int = 0
    injected: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.mode in (*_REPLIES, "drop-in-data", "drop-after-taking") \
                and self.injected < self.faults:
            self.injected += 1
            if self.mode in _REPLIES:
                return _REPLIES[self.mode]
            if self.mode == "drop-after-taking":
                await super().handle_DATA(server, session, envelope)
            server.transport.close()  # before any reply
            return "250 never seen"
        return await super().handle_DATA(server, session, envelope)


class _Relay:
    """A TCP relay on loopback in front of a good server. The first `faults` connections it
    answers "421" at once ("greeting-421") or cuts a random number of bytes into the message,
    after the DATA command ("cut-mid-message"); the message never reaches the server whole."""

    def __init__(self, upstream: int, mode: str, faults: int, rng: random.Random) -> None:
        self.upstream, self.mode, self.faults, self.rng = upstream, mode, faults, rng
        self.injected = 0
        self.cut_at: list[int] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> _Relay:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        with suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept()
        self._listener.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with self._lock:
            faulty = self.injected < self.faults
            self.injected += faulty
            cut_at = self.rng.randrange(1, 30000)
        if faulty and self.mode == "greeting-421":
            client.sendall(b"421 4.3.2 Too busy, try again later\r\n")
            client.close()
            return
        upstream = socket.create_connection(("127.0.0.1", self.upstream))
        back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
        back.start()
        head, tail, in_body, body = b"", b"", False, 0
        try:
            while chunk := client.recv(65536):
                tail = (tail + chunk)[-5:]
                if faulty and in_body and (body + len(chunk) >= cut_at or tail == b"\r\n.\r\n"):
                    # Never the last two bytes of the message: a short message is cut just
                    # before its end, so that no cut message is ever complete.
                    sent = min(cut_at - body, len(chunk) - 2)
                    upstream.sendall(chunk[:max(0, sent)])
                    self.cut_at.append(body + max(0, sent))
                    break  # cut: both ends closed below, the message unfinished
                upstream.sendall(chunk)
                body += len(chunk) if in_body else 0
                head = (head + chunk.lower())[-64:]
                in_body = in_body or head.endswith(b"data\r\n")
        except OSError:
            pass
        finally:
            for end in (client, upstream):
                with suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()
            back.join(timeout=5)


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        with suppress(OSError):
            target.shutdown(socket.SHUT_WR)


def _delivered_as_recorded(home: Home, collector: Collector) -> int:
    """What the store says each recipient has is what the server took, each once; the rest is
    pending. Returns how many messages are pending."""
    got = _pairs(collector)
    assert max(got.values(), default=1) == 1, "a message went to a recipient twice"
    store = Store(home.database_url)
    try:
        with store.session() as session:
            messages = session.scalars(select(Message)).all()
            for message in messages:
                taken = {a for (key, a) in got if key == message.key}
                assert taken == set(message.recipients.get("sent", [])), message.key
                assert (message.state == "sent") == (taken == set(message.recipients["to"]))
            return sum(m.state == "pending" for m in messages)
    finally:
        store.close()


SMTP_FAULTS = ["drop-in-data", "cut-mid-message", "greeting-421", "421-after-data",
               "451-after-data", "554-after-data"]


@pytest.mark.parametrize("fault", SMTP_FAULTS)
def test_an_smtp_fault_keeps_messages_queued_and_each_is_delivered_once(
        fault: str, corpus: list[Case], tmp_path: Path) -> None:
    """The first few transactions fail as `fault` says; the server never took those messages.
    After each pass the store knows exactly who has what, what is not taken stays pending, and
    in the end every (message, recipient) pair has arrived exactly once."""
    rng = random.Random(f"smtp-{fault}")
    faults = 2 * ROUNDS
    relayed = fault in ("cut-mid-message", "greeting-421")
    handler = _Faulty(mode="" if relayed else fault, faults=faults)
    forms = rng.sample(_readable(corpus), 3) + rng.sample(_unreadable(corpus), 1)
    passes = 0
    pending_after: list[int] = []
    with _serving(handler) as port, _Relay(port, fault, faults, rng) as relay:
        home = make_home(tmp_path / "home", smtp_port=relay.port if relayed else port)
        _drop(home, forms)
        while passes < faults + 5:
            _, delivered = _run(home)
            passes += 1
            pending = _delivered_as_recorded(home, handler)
            assert pending == delivered.pending
            pending_after.append(pending)
            if pending == 0:
                break
    injected = relay.injected if relayed else handler.injected
    assert injected == faults, "the fault never came into play"
    assert pending_after[-1] == 0, f"still pending after {passes} passes"
    if fault not in ("451-after-data", "554-after-data"):
        # The server cannot be talked to now: the rest waits, one failed try a pass.
        assert passes == faults + 1
    expected = _expected_pairs(home)
    assert _pairs(handler) == expected
    cuts = f" (cut {min(relay.cut_at)}-{max(relay.cut_at)} bytes into the message)" \
        if relay.cut_at else ""
    shown = ", ".join(f"{n}×{k}" if k > 1 else str(n)
                      for n, k in ((n, len(list(g))) for n, g in itertools.groupby(pending_after)))
    print(f"\nSMTP {fault}: {injected} transactions failed{cuts}; {len(expected)} (message, "
          f"recipient) pairs; messages pending after each of {passes} passes: {shown}; each "
          f"pair delivered exactly once, none lost")


def test_a_connection_lost_after_the_server_took_a_message_repeats_only_that_message(
        corpus: list[Case], tmp_path: Path) -> None:
    """The limit of SMTP itself: a server that keeps a message and loses the connection before
    saying so cannot be told from one that lost it. That message is sent again (the same
    Message-ID, which mail systems use to drop the copy); nothing else is repeated."""
    rng = random.Random("smtp-drop-after-taking")
    faults = 2 * ROUNDS
    handler = _Faulty(mode="drop-after-taking", faults=faults)
    forms = rng.sample(_readable(corpus), 3) + rng.sample(_unreadable(corpus), 1)
    with _serving(handler) as port:
        home = make_home(tmp_path / "home", smtp_port=port)
        _drop(home, forms)
        passes, pending = 0, 1
        while pending and passes < faults + 5:
            pending = _run(home)[1].pending
            passes += 1
    expected = _expected_pairs(home)
    got = _pairs(handler)
    assert set(got) == set(expected)
    assert sum(got.values()) - len(expected) == handler.injected == faults
    ids = Counter(str(m["Message-ID"]) for _, m in handler.messages())
    print(f"\nSMTP drop after taking: {faults} connections lost after the server kept the message, "
          f"{passes} passes; {len(expected)} pairs, {sum(got.values()) - len(expected)} extra copies "
          f"(one per such loss, under the message's own Message-ID: {len(ids)} distinct ids)")


# --- a flaky inbox --------------------------------------------------------------------------------

_OPS = {"create": 24, "slow write": 8, "rename": 14, "truncate": 12, "delete": 10, "hide": 9,
        "show again": 9, "folder": 7, "file becomes folder": 4}


@dataclass
class _Chaos:
    """Keeps changing the inbox, as a flaky network file system or a busy person does: files
    appear whole or slowly, are renamed, cut short, deleted, vanish (hidden) and come back,
    folders come and go, a file becomes a folder. Each change is one call on a path, as a sync
    client's would be. It keeps account of what it left where; a change that finds its file gone
    means a pass took the file, with the bytes it last had."""

    inbox: Path
    pool: list[Case]
    rng: random.Random
    alive: dict[str, bytes] = field(default_factory=dict)  # visible files it made: their bytes
    hidden: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    folders: dict[str, bytes] = field(default_factory=dict)  # folder -> bytes of its one file
    written: set[str] = field(default_factory=set)  # sha of all it ever showed whole
    unique: set[str] = field(default_factory=set)  # of those, the bytes it showed under one name
    destroyed: set[str] = field(default_factory=set)  # sha of bytes it deleted or cut short
    taken: set[str] = field(default_factory=set)  # sha of bytes a pass took
    done: Counter[str] = field(default_factory=Counter)
    found_gone: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    _n: int = 0

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                op = self.rng.choices(list(_OPS), weights=list(_OPS.values()))[0]
                if getattr(self, "_" + op.replace(" ", "_"))():
                    self.done[op] += 1
                self.stop.wait(self.rng.uniform(0, 0.03))
        except BaseException as exc:  # seen by the test
            self.error = exc

    def _name(self, case: Case) -> str:
        self._n += 1
        return f"{self._n:04d}-{case.name.split('-', 1)[-1]}"

    def _bytes(self) -> bytes:
        case = self.rng.choice(self.pool)
        if self.rng.random() < 0.5:
            return case.data  # the same bytes again, now and then: a duplicate
        data = case.data + b"\n%% %d\n" % self.rng.randrange(10**12)
        self.unique.add(_sha(data))
        return data

    def _show(self, name: str, data: bytes) -> None:
        self.alive[name] = data
        self.written.add(_sha(data))

    def _gone(self, name: str) -> None:
        self.found_gone += 1
        self.taken.add(_sha(self.alive.pop(name)))

    def _pick(self) -> str | None:
        return self.rng.choice(list(self.alive)) if self.alive else None

    def _create(self) -> bool:
        data = self._bytes()
        name = self._name(self.rng.choice(self.pool))
        temporary = self.inbox / f".{name}.part"
        temporary.write_bytes(data)
        if self.rng.random() < 0.5:  # a copy that keeps the original's time
            past = time.time() - 600
            os.utime(temporary, (past, past))
        os.replace(temporary, self.inbox / name)
        self._show(name, data)
        return True

    def _slow_write(self) -> bool:
        data = self._bytes()
        name = self._name(self.rng.choice(self.pool))
        with open(self.inbox / name, "wb") as handle:
            for start in range(0, len(data), 8192):
                handle.write(data[start:start + 8192])
                handle.flush()
                time.sleep(self.rng.uniform(0.005, 0.04))
        self._show(name, data)
        return True

    def _rename(self) -> bool:
        name = self._pick()
        if name is None:
            return False
        new = f"{name[:4]}-{self._name(self.rng.choice(self.pool))}"
        try:
            os.rename(self.inbox / name, self.inbox / new)
        except FileNotFoundError:
            self._gone(name)
            return False
        self.alive[new] = self.alive.pop(name)
        return True

    def _truncate(self) -> bool:
        name = self._pick()
        if name is None:
            return False
        before = self.alive[name]
        size = self.rng.randrange(0, max(1, len(before)))
        try:
            os.truncate(self.inbox / name, size)
        except FileNotFoundError:
            self._gone(name)
            return False
        self.destroyed.add(_sha(before))
        self._show(name, before[:size])
        return True

    def _delete(self) -> bool:
        return self._remove() is not None

    def _remove(self) -> str | None:
        """A file picked and deleted: its name, or None when there was none to delete."""
        name = self._pick()
        if name is None:
            return None
        try:
            os.unlink(self.inbox / name)
        except FileNotFoundError:
            self._gone(name)
            return None
        self.destroyed.add(_sha(self.alive.pop(name)))
        return name

    def _hide(self) -> bool:
        name = self._pick()
        if name is None:
            return False
        try:
            os.rename(self.inbox / name, self.inbox / f".{name}")
        except FileNotFoundError:
            self._gone(name)
            return False
        self.hidden[f".{name}"] = (name, self.alive.pop(name))
        return True

    def _show_again(self) -> bool:
        if not self.hidden:
            return False
        hidden = self.rng.choice(list(self.hidden))
        name, data = self.hidden.pop(hidden)
        os.rename(self.inbox / hidden, self.inbox / name)
        self.alive[name] = data
        return True

    def _folder(self) -> bool:
        if self.folders and self.rng.random() < 0.4:
            folder = self.rng.choice(list(self.folders))
            shutil.rmtree(self.inbox / folder)
            del self.folders[folder]
            return True
        return self._make_folder(f"mapp-{self._n:04d}")

    def _make_folder(self, folder: str) -> bool:
        data = self.rng.choice(self.pool).data
        (self.inbox / folder).mkdir()
        (self.inbox / folder / "inne.pdf").write_bytes(data)
        self.folders[folder] = data
        self._n += 1
        return True

    def _file_becomes_folder(self) -> bool:
        name = self._remove()
        return name is not None and self._make_folder(name)

    def show_all(self) -> None:
        for hidden, (name, data) in self.hidden.items():
            os.rename(self.inbox / hidden, self.inbox / name)
            self.alive[name] = data
        self.hidden.clear()


def test_a_flaky_inbox_never_breaks_a_pass_and_loses_nothing(corpus: list[Case],
                                                             tmp_path: Path) -> None:
    """While intake passes run, the inbox keeps changing under them. No pass fails; every file
    that stayed long enough is filed exactly once, byte for byte, with a record of exactly those
    bytes; what was deleted or cut short before it was taken is not recorded; folders are left
    alone; and once the changes stop, everything left is taken."""
    root = tmp_path / "home"
    make_home(root)
    settings = root / "blankett.toml"
    # A second of quiet before a file is taken: the slow writer pauses for at most 40 ms.
    settings.write_text(settings.read_text().replace("stable_seconds = 0.2", "stable_seconds = 1.0"))
    home = load_home(root)
    pool = [c for c in _readable(corpus) + _unreadable(corpus) if len(c.data) < 100_000]
    chaos = _Chaos(home.inbox, pool, random.Random("flaky-inbox"))
    writer = threading.Thread(target=chaos.run, daemon=True)
    outcomes: Counter[str] = Counter()
    escaped: list[str] = []
    passes = ROUNDS + 1
    writer.start()
    try:
        for _ in range(passes):
            try:
                taken, _ = _run(home, patience=1.5)
            except Exception as exc:  # what the test is about
                escaped.append(f"{type(exc).__name__}: {exc}")
                continue
            outcomes.update(t.outcome if t.outcome != "skipped" else
                            f"skipped: {t.detail.split('(')[0].strip()}" for t in taken)
    finally:
        chaos.stop.set()
        writer.join(timeout=30)
    assert chaos.error is None, repr(chaos.error)
    assert escaped == [], escaped
    chaos.show_all()
    for _ in range(4):  # the changes stopped: the rest is taken
        taken, _ = _run(home, patience=2.5)
        outcomes.update(t.outcome if t.outcome != "skipped" else
                        f"skipped: {t.detail.split('(')[0].strip()}" for t in taken)
        if not [p for p in home.inbox.iterdir() if p.is_file() and not p.name.startswith(".")]:
            break
    left = {p.name for p in home.inbox.iterdir()}
    assert left == set(chaos.folders), "a file was left in the inbox, or a folder taken"
    for folder, data in chaos.folders.items():
        assert (home.inbox / folder / "inne.pdf").read_bytes() == data
    taken_all = chaos.taken | {_sha(d) for d in chaos.alive.values()}
    states = _assert_consistent(home)
    assert "moving" not in {state for _, state, _ in _records(home)}
    filed = set(states)
    assert taken_all <= filed, "a file the inbox held was lost"
    assert filed <= chaos.written, "recorded bytes the inbox never held whole"
    vanished = (chaos.destroyed & chaos.unique) - taken_all
    assert not vanished & filed, "a file deleted or cut short before it was taken is recorded"
    print(f"\nflaky inbox: {passes} passes while {sum(chaos.done.values())} changes were made "
          f"{dict(chaos.done)}; {chaos.found_gone} changes found their file taken; outcomes "
          f"{dict(outcomes)}; {len(filed)} distinct files filed once each, byte for byte, "
          f"{len(chaos.destroyed & chaos.unique - taken_all)} deleted or cut short before being "
          f"taken and not recorded; {len(chaos.folders)} folders left alone")


def test_an_inbox_whose_files_cannot_be_looked_at_leaves_them_for_a_later_pass(
        corpus: list[Case], tmp_path: Path) -> None:
    """A network drive that lists the inbox but will not tell about its files for a while
    (no permission to look, as here; ESTALE or EIO alike): the pass takes nothing, fails in
    nothing, and the next pass, once the files can be seen, takes them."""
    home = make_home(tmp_path / "home")
    cases = random.Random("no-look").sample(_readable(corpus), 2)
    _drop(home, cases)
    home.inbox.chmod(0o644)  # may be listed, but what it holds may not be looked at
    try:
        if os.geteuid() == 0:  # root looks anyway: without the capabilities that let it
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                pytest.skip("setpriv (util-linux) is needed to take root's right to look")
            taken, errors = _limited_passes(
                [home.root], 0, (setpriv, "--bounding-set=-dac_override,-dac_read_search"))[home.root]
        else:
            (taken, _), errors = _run(home), []
    finally:
        home.inbox.chmod(0o755)
    assert taken == [] and errors == []
    assert sorted(p.read_bytes() for p in home.inbox.iterdir()) == sorted(c.data for c in cases)
    taken, _ = _run(home)
    assert sorted(t.name for t in taken) == sorted(c.name for c in cases)
    assert all(t.outcome != "skipped" for t in taken)
    _assert_all_filed_once(home, {c.name: c.data for c in cases})
    print("\ninbox listed but its files not to be looked at: 1 pass took nothing and failed in "
          "nothing; the next took both files")


if __name__ == "__main__" and sys.argv[1:2] == ["limited-pass"]:
    _limited_passes_main(int(sys.argv[2]), [Path(a) for a in sys.argv[3:]])
