"""Which files in the inbox are taken, and when: left alone what is not a form, and a file only
once it is whole."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from blankett.flows.pipeline.inbox import InboxFilter, StabilityTracker, candidates, wait_until_ready


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0  # float steps: advance a little past a limit to be past it

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _old(path: Path, seconds: float = 3600) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


@pytest.mark.parametrize("name", [
    "~$x.docx", ".~lock.x.docx#", ".hidden", "Thumbs.db", "thumbs.db", "desktop.ini",
    "Desktop.ini", ".DS_Store", "x.part", "x.tmp", "x.crdownload", "x.docx.partial",
    "ansökan.pdf.download", "x.docx~",
])
def test_lock_hidden_system_and_partial_files_are_ignored(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"PK\x03\x04 not a form")
    assert InboxFilter().ignored(path) is not None
    assert candidates(tmp_path, InboxFilter()) == []
    assert path.read_bytes() == b"PK\x03\x04 not a form"  # left alone


@pytest.mark.parametrize("name", ["ansökan Åmål.docx", "x.pdf", "ANSOKAN.PDF", "x", "x.docx.pdf"])
def test_ordinary_names_may_be_forms(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"%PDF-1.7")
    assert InboxFilter().ignored(path) is None
    assert candidates(tmp_path, InboxFilter()) == [path]


def test_directories_and_symlinks_are_not_taken(tmp_path: Path) -> None:
    inbox, outside = tmp_path / "inbox", tmp_path / "outside"
    inbox.mkdir()
    outside.mkdir()
    secret = outside / "secret.pdf"
    secret.write_bytes(b"%PDF-1.7 somebody else's file")
    (inbox / "a folder.pdf").mkdir()
    (inbox / "link.pdf").symlink_to(secret)
    (inbox / "link-to-folder").symlink_to(outside, target_is_directory=True)
    (inbox / "dangling.pdf").symlink_to(outside / "gone.pdf")
    real = inbox / "real.pdf"
    real.write_bytes(b"%PDF-1.7")
    _old(real)

    f = InboxFilter()
    assert f.ignored(inbox / "a folder.pdf") == "not a regular file"
    for link in ("link.pdf", "link-to-folder", "dangling.pdf"):
        assert f.ignored(inbox / link) == "symbolic link (not followed)"
    assert candidates(inbox, f) == [real]
    ready = wait_until_ready(inbox, f, StabilityTracker(0.2), patience=1.0)
    assert ready == [real]
    assert secret.read_bytes() == b"%PDF-1.7 somebody else's file"


def test_candidates_oldest_first_and_missing_inbox_is_empty(tmp_path: Path) -> None:
    names = ["c.pdf", "a.pdf", "b.pdf"]
    for i, name in enumerate(names):
        (tmp_path / name).write_bytes(b"x")
        os.utime(tmp_path / name, (1_700_000_000 + i, 1_700_000_000 + i))
    assert [p.name for p in candidates(tmp_path, InboxFilter())] == names
    assert candidates(tmp_path / "nowhere", InboxFilter()) == []


# --- stability, with a fake clock ------------------------------------------------------------------

def test_a_new_file_is_ready_only_after_stable_seconds(tmp_path: Path) -> None:
    clock = FakeClock()
    tracker = StabilityTracker(2.0, clock=clock)
    path = tmp_path / "a.docx"
    path.write_bytes(b"x" * 100)
    assert tracker.ready([path]) == []
    clock.advance(1.9)
    assert tracker.ready([path]) == []
    clock.advance(0.1)
    assert tracker.ready([path]) == [path]


def test_a_growing_file_is_not_ready(tmp_path: Path) -> None:
    clock = FakeClock()
    tracker = StabilityTracker(2.0, clock=clock)
    path = tmp_path / "a.pdf"
    path.write_bytes(b"x" * 100)
    assert tracker.ready([path]) == []
    for _ in range(5):
        clock.advance(1.5)
        with path.open("ab") as handle:
            handle.write(b"y" * 100)
        assert tracker.ready([path]) == [], "taken while still growing"
    clock.advance(1.9)
    assert tracker.ready([path]) == []
    clock.advance(0.1)
    assert tracker.ready([path]) == [path]


def test_an_old_file_is_ready_after_a_quick_second_look(tmp_path: Path) -> None:
    clock = FakeClock()
    tracker = StabilityTracker(2.0, clock=clock)
    path = tmp_path / "there-before.docx"
    path.write_bytes(b"x" * 100)
    _old(path)
    assert tracker.ready([path]) == [], "a first look alone cannot tell a file is whole"
    clock.advance(0.31)
    assert tracker.ready([path]) == [path]


def test_an_old_time_with_a_growing_size_is_still_watched(tmp_path: Path) -> None:
    """Some copy tools set the original's time first and write the bytes afterwards."""
    clock = FakeClock()
    tracker = StabilityTracker(2.0, clock=clock)
    path = tmp_path / "copied.pdf"
    path.write_bytes(b"x" * 100)
    _old(path)
    assert tracker.ready([path]) == []
    clock.advance(0.31)
    with path.open("ab") as handle:
        handle.write(b"y" * 100)
    _old(path)
    assert tracker.ready([path]) == []
    clock.advance(0.31)
    assert tracker.ready([path]) == [path]


def test_gone_files_are_forgotten(tmp_path: Path) -> None:
    clock = FakeClock()
    tracker = StabilityTracker(2.0, clock=clock)
    a, b = tmp_path / "a.pdf", tmp_path / "b.pdf"
    a.write_bytes(b"a")
    b.write_bytes(b"b")
    tracker.ready([a, b])
    assert tracker.waiting == 2
    b.unlink()
    assert tracker.ready([a, b]) == []
    assert tracker.waiting == 1


# --- a file being written while the inbox is looked at --------------------------------------------

def _slow_writer(path: Path, chunks: int, pause: float, started: threading.Event) -> threading.Thread:
    def write() -> None:
        with path.open("wb") as handle:
            for i in range(chunks):
                handle.write(bytes([i % 256]) * 1000)
                handle.flush()  # size and time change with every chunk
                if i == 0:
                    started.set()
                time.sleep(pause)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def test_a_file_still_being_written_is_not_taken_half_written(tmp_path: Path) -> None:
    whole = tmp_path / "whole.docx"
    whole.write_bytes(b"PK" + b"x" * 500)
    _old(whole)
    growing = tmp_path / "growing.pdf"
    started = threading.Event()
    writer = _slow_writer(growing, chunks=60, pause=0.02, started=started)  # about 1.2 s
    assert started.wait(5)

    ready = wait_until_ready(tmp_path, InboxFilter(), StabilityTracker(0.2), patience=0.6)
    writing = writer.is_alive()
    assert whole in ready
    assert growing not in ready or (not writing and growing.stat().st_size == 60_000)

    writer.join(10)
    ready = wait_until_ready(tmp_path, InboxFilter(), StabilityTracker(0.2), patience=2.0)
    assert set(ready) == {whole, growing}
    assert growing.stat().st_size == 60_000


def test_a_file_finished_within_the_patience_is_taken_whole(tmp_path: Path) -> None:
    growing = tmp_path / "arriving.pdf"
    started = threading.Event()
    writer = _slow_writer(growing, chunks=8, pause=0.05, started=started)
    assert started.wait(5)
    ready = wait_until_ready(tmp_path, InboxFilter(), StabilityTracker(0.2), patience=3.0)
    assert ready == [growing]
    assert not writer.is_alive()
    assert growing.stat().st_size == 8_000
