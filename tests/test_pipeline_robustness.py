"""What a trial as a new user found: overlapping runs, copies that pause, an archive that cannot
be written, a form that names no activity, Message-IDs across homes."""

from __future__ import annotations

import io
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path

import docx
import pytest
from pipeline_support import Recording, by_name, drop, intake_pass, make_home
from sqlalchemy import select, update

from blankett.fixtures.corpus import Case
from blankett.flows.cli.home import status_rows
from blankett.flows.home.locking import home_lock
from blankett.flows.home.settings import Home, load_home
from blankett.flows.pipeline.resources import open_pipeline
from blankett.flows.store.database import Application, Message, Result, Store


def _run(home, delivery=None):  # type: ignore[no-untyped-def]
    pipeline = open_pipeline(home, delivery=delivery or Recording())
    try:
        return intake_pass(pipeline)
    finally:
        pipeline.close()


def test_overlapping_runs_wait_for_each_other(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    order: list[str] = []

    def second() -> None:
        with home_lock(home.root, wait_seconds=10):
            order.append("second")

    with home_lock(home.root):
        other = threading.Thread(target=second)
        other.start()
        time.sleep(0.5)
        order.append("first done")
    other.join(timeout=10)
    assert order == ["first done", "second"]


def _waiting_for_unfinished_copies(root: Path, seconds: int) -> Home:
    make_home(root)
    settings = root / "blankett.toml"
    settings.write_text(settings.read_text().replace("unfinished_grace_seconds = 0",
                                                     f"unfinished_grace_seconds = {seconds}"))
    return load_home(root)


def test_a_damaged_file_changed_just_now_waits_then_is_filed(corpus: list[Case],
                                                             tmp_path: Path) -> None:
    home = _waiting_for_unfinished_copies(tmp_path / "home", 30)
    (broken,) = by_name(corpus, "ansokan_avbruten.pdf")  # a PDF cut short, as a paused copy is
    path = home.inbox / broken.name
    path.write_bytes(broken.data)
    past = time.time() - 1  # settled for the stability check, but changed a second ago
    os.utime(path, (past, past))

    taken, _ = _run(home)
    assert [t.outcome for t in taken] == ["skipped"]
    assert path.read_bytes() == broken.data
    assert list(home.failed.iterdir()) == []

    old = time.time() - 120
    os.utime(path, (old, old))
    taken, _ = _run(home)
    assert [t.outcome for t in taken] == ["unreadable"]
    assert not path.exists()


def test_a_file_that_looks_unfinished_is_said_once_while_it_waits(
        corpus: list[Case], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Every pass looks at it again (watch's, as often as the inbox changes); the log says it
    once, and again only for another file."""
    home = _waiting_for_unfinished_copies(tmp_path / "home", 60)
    (broken,) = by_name(corpus, "ansokan_avbruten.pdf")
    paths = [home.inbox / "avbruten.pdf", home.inbox / "tom.docx"]
    paths[0].write_bytes(broken.data)
    past = time.time() - 1  # settled for the stability check, but changed a second ago
    os.utime(paths[0], (past, past))
    with caplog.at_level(logging.INFO, logger="blankett.intake"):
        for _ in range(3):
            taken, _ = _run(home)
            assert [t.outcome for t in taken] == ["skipped"]
        paths[1].write_bytes(b"")
        os.utime(paths[1], (past, past))
        taken, _ = _run(home)
    assert sorted(t.outcome for t in taken) == ["skipped", "skipped"]
    said = [r.getMessage().split(" ", 1)[0] for r in caplog.records
            if r.levelno == logging.INFO and "looks unfinished" in r.getMessage()]
    assert said == ["avbruten.pdf", "tom.docx"]


def test_an_archive_that_cannot_be_written_keeps_the_file_in_the_inbox(
        corpus: list[Case], tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    cases = by_name(corpus, "docx_mall_goteborg.docx")
    drop(home, cases)
    # A file where the year's folder should be: the archive cannot take anything.
    (home.archive / "2026").write_text("in the way")
    taken, delivered = _run(home)
    assert [t.outcome for t in taken] == ["skipped"]
    assert "cannot be filed" in taken[0].detail
    assert (home.inbox / cases[0].name).read_bytes() == cases[0].data
    assert delivered.sent == 0
    (home.archive / "2026").unlink()
    taken, delivered = _run(home)
    assert [t.outcome for t in taken] == ["complete"]
    assert delivered.sent == 1


def _typed_form(lines: list[str]) -> bytes:
    """A form typed by hand as "Label: answer" lines."""
    document = docx.Document()
    for line in lines:
        document.add_paragraph(line)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_a_form_naming_no_activity_is_completed_by_its_corrected_version(
        store_url: str, tmp_path: Path) -> None:
    home = make_home(tmp_path / "home", store_url=store_url)
    common = ["Kommun: Ale kommun", "Bibliotek: Ale bibliotek", "Kontaktperson: Eva Ek",
              "E-post: eva.ek@ale.example.org", "Sökt belopp: 30 000 kr"]
    (home.inbox / "utan-namn.docx").write_bytes(_typed_form(common))
    _run(home)
    (home.inbox / "rattad.docx").write_bytes(
        _typed_form([*common, "Aktivitetens namn: Läslust i Ale"]))
    _run(home)
    store = Store(home.database_url)
    try:
        with store.session() as session:
            applications = session.scalars(select(Application)).all()
            assert len(applications) == 1
            assert applications[0].municipality == "Ale"
            assert [v.number for v in applications[0].versions] == [1, 2]
            assert applications[0].title == "Läslust i Ale"
    finally:
        store.close()


def test_two_homes_never_share_a_message_id(corpus: list[Case], tmp_path: Path) -> None:
    ids = []
    for name in ("one", "two"):
        home = make_home(tmp_path / name)
        drop(home, by_name(corpus, "docx_mall_goteborg.docx"))
        delivery = Recording()
        _run(home, delivery)
        ids.append({str(m["Message-ID"]) for m in delivery.messages})
    assert ids[0] and ids[1] and not ids[0] & ids[1]


def test_a_file_over_the_size_limit_is_refused_without_being_read_whole(tmp_path: Path) -> None:
    root = tmp_path / "home"
    make_home(root)
    settings = root / "blankett.toml"
    settings.write_text(settings.read_text() + "\n[limits]\nmax_file_mb = 1\n")
    home = load_home(root)
    big = home.inbox / "stor.pdf"
    big.write_bytes(b"%PDF-1.7\n" + b"0" * (2 * 1024 * 1024))
    past = time.time() - 60
    os.utime(big, (past, past))
    taken, _ = _run(home)
    assert [(t.outcome, t.detail) for t in taken] == [
        ("unreadable", "is too large (2 MB; the limit is 1 MB)")]
    assert len([p for p in home.failed.iterdir() if not p.name.endswith(".txt")]) == 1


def test_status_reads_the_store_while_a_long_run_writes_to_it(
        store_url: str, corpus: list[Case], tmp_path: Path) -> None:
    # As `status` while nightly checks every application again inside one transaction, on each
    # database: what was last committed is read at once.
    home = make_home(tmp_path / "home", store_url=store_url)
    drop(home, by_name(corpus, "docx_mall_goteborg.docx", "docx_ofullstandig_vara.docx"))
    _run(home)
    writer = Store(home.database_url)
    try:
        with writer.session() as session:
            session.execute(update(Result).values(complete=True, rules_fingerprint=None))
            session.execute(update(Message).values(state="pending"))
            session.flush()
            start = time.monotonic()
            rows = status_rows(home, 2026)
            assert time.monotonic() - start < 5
            assert sorted(r["status"] for r in rows) == ["complete", "incomplete"]
            assert all(r["pending_messages"] == 0 for r in rows)
            session.rollback()
    finally:
        writer.close()


def test_a_store_is_opened_while_a_long_run_holds_its_write_lock(tmp_path: Path) -> None:
    # As `status` while nightly re-reads files inside one write transaction.
    url = f"sqlite:///{tmp_path / 'blankett.db'}"
    Store(url).close()
    writer = sqlite3.connect(tmp_path / "blankett.db")
    try:
        writer.execute("BEGIN IMMEDIATE")
        start = time.monotonic()
        Store(url).close()
        assert time.monotonic() - start < 5
    finally:
        writer.close()
