"""Taking files from the inbox, over plain functions and real parts: the corpus's files copied into
a home, a real SQLite file (and a PostgreSQL database for the tests taking `store_url`), reports
written as .eml files or handed to a recording delivery."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pipeline_support import (
    AREAS,
    CONSULTANTS,
    FALLBACK,
    Collector,
    Recording,
    by_name,
    drop,
    drop_ignored,
    expected_outcome,
    expected_recipients,
    free_port,
    intake_pass,
    make_home,
    parse,
    plain_body,
    smtp_server,
)
from sqlalchemy import func, select, update

from blankett.extractors import EXTRACTOR_VERSION
from blankett.fixtures.corpus import Case, _Builder
from blankett.fixtures.docx_builders import template_document
from blankett.fixtures.pdf_forms import fill_with_pypdf
from blankett.fixtures.themes import THEMES
from blankett.flows.home.settings import Home
from blankett.flows.mail.delivery import OutboxDelivery
from blankett.flows.mail.messaging import DeliveryOutcome, deliver_pending, queue_summaries
from blankett.flows.pipeline.intake import Taken, note_of
from blankett.flows.pipeline.resources import open_pipeline
from blankett.flows.pipeline.revalidation import revalidate_all
from blankett.flows.store.database import Application, Message, Result, Store, Submission
from blankett.models.messages import FAILURES, unread_file
from blankett.models.records import SCAN_KINDS


@dataclass
class Run:
    home: Home
    cases: list[Case]
    taken: dict[str, Taken]
    delivered: DeliveryOutcome
    ignored: dict[str, bytes]
    outside: Path


@pytest.fixture(scope="module")
def whole_corpus(corpus: list[Case], tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Every corpus file dropped at once beside lock files, a folder and a symlink; one pass."""
    root = tmp_path_factory.mktemp("home")
    home = make_home(root)
    ignored = drop_ignored(home)
    (home.inbox / "a folder").mkdir()
    outside = tmp_path_factory.mktemp("outside") / "elsewhere.pdf"
    outside.write_bytes(corpus[0].data)
    (home.inbox / "link.docx").symlink_to(outside)
    drop(home, corpus)
    pipeline = open_pipeline(home, delivery=OutboxDelivery(home.outbox))
    try:
        taken, delivered = intake_pass(pipeline)
    finally:
        pipeline.close()
    return Run(home, corpus, {t.name: t for t in taken}, delivered, ignored, outside)


def _submissions(home: Home) -> dict[str, Submission]:
    store = Store(home.database_url)
    try:
        with store.session() as session:
            return {s.original_name: s for s in session.scalars(select(Submission))}
    finally:
        store.close()


def _messages(home: Home) -> list[Message]:
    store = Store(home.database_url)
    try:
        with store.session() as session:
            return list(session.scalars(select(Message).order_by(Message.id)))
    finally:
        store.close()


def test_every_file_is_taken_once_with_the_expected_outcome(whole_corpus: Run) -> None:
    assert set(whole_corpus.taken) == {c.name for c in whole_corpus.cases}
    for case in whole_corpus.cases:
        assert whole_corpus.taken[case.name].outcome == expected_outcome(case), case.name


def test_readable_forms_are_archived_byte_identical(whole_corpus: Run) -> None:
    home = whole_corpus.home
    submissions = _submissions(home)
    readable = [c for c in whole_corpus.cases if c.kind is not None]
    archived = sorted(p for p in (home.archive / "2026").iterdir() if p.is_file())
    assert len(archived) == len(readable)
    for case in readable:
        sub = submissions[case.name]
        assert sub.state == "archived" and sub.sha256 == case.sha256 and sub.size == len(case.data)
        path = home.root / sub.stored_path
        assert path.parent == home.archive / "2026"
        assert case.name.split(".")[0][:40] in path.name
        assert path.read_bytes() == case.data, case.name


def test_unreadable_files_go_to_failed_with_a_note(whole_corpus: Run) -> None:
    home = whole_corpus.home
    submissions = _submissions(home)
    bad = [c for c in whole_corpus.cases if c.kind is None]
    assert bad
    assert len(list(home.failed.iterdir())) == 2 * len(bad)  # each file and its note
    for case in bad:
        sub = submissions[case.name]
        assert sub.state == "failed"
        path = home.root / sub.stored_path
        assert path.parent == home.failed
        assert path.read_bytes() == case.data, case.name
        note = note_of(path).read_text(encoding="utf-8")
        assert case.name in note
        # The reason in English for the log, its kind worded in Swedish for people.
        assert case.error and case.error.lower() in (sub.failure_reason or "").lower(), case.name
        assert sub.failure_kind in FAILURES and sub.failure_kind != "unreadable", case.name
        assert unread_file(sub.failure_kind, sub.failure_values) in note, (case.name, note)
        assert sub.failure_reason not in note


def test_inbox_keeps_only_what_is_not_a_form(whole_corpus: Run) -> None:
    inbox = whole_corpus.home.inbox
    left = {p.name for p in inbox.iterdir()}
    assert left == {*whole_corpus.ignored, "a folder", "link.docx"}
    for name, data in whole_corpus.ignored.items():
        assert (inbox / name).read_bytes() == data
    assert (inbox / "link.docx").is_symlink()
    assert whole_corpus.outside.read_bytes() == whole_corpus.cases[0].data


def test_corrected_form_in_the_same_pass_is_version_2(whole_corpus: Run) -> None:
    v1, v2 = whole_corpus.taken["docx_alingsas_v1.docx"], whole_corpus.taken["docx_alingsas_v2_rattad.docx"]
    assert v1.application_id == v2.application_id
    assert (v1.version, v2.version) == (1, 2)
    others = [t for t in whole_corpus.taken.values() if t.version is not None and t.version > 1]
    assert others == [v2]


def test_each_report_reaches_only_its_areas_consultants(whole_corpus: Run) -> None:
    """Over the whole corpus: every report in every consultant's outbox folder, and no other."""
    home = whole_corpus.home
    by_id = {s.id: s.original_name for s in _submissions(home).values()}
    cases = {c.name: c for c in whole_corpus.cases}
    expected: dict[str, set[str]] = {}
    for case in whole_corpus.cases:
        for address in expected_recipients(case):
            expected.setdefault(address, set()).add(case.name)
    found: dict[str, set[str]] = {}
    for folder in home.outbox.iterdir():
        for eml in folder.glob("*.eml"):
            message = parse(eml.read_bytes())
            key = str(message["X-Blankett-Key"])
            assert key.startswith("report:submission:")
            name = by_id[int(key.split("@", 1)[0].rsplit(":", 1)[1])]  # key@instance
            assert folder.name in expected_recipients(cases[name]), (folder.name, name)
            assert name not in found.get(folder.name, set()), f"{name} twice to {folder.name}"
            found.setdefault(folder.name, set()).add(name)
            to = [a.addr_spec for a in message["To"].addresses]
            assert sorted(to) == sorted(expected_recipients(cases[name]))
    assert found == expected
    assert set(found) == set(CONSULTANTS)
    # Scans and unreadable files: the fallback consultants, and they alone.
    for case in whole_corpus.cases:
        if case.kind in (None, *SCAN_KINDS):
            assert expected_recipients(case) == FALLBACK


def test_every_message_recorded_and_sent_once(whole_corpus: Run) -> None:
    messages = _messages(whole_corpus.home)
    assert len(messages) == len(whole_corpus.cases)  # one report per received file
    assert whole_corpus.delivered == DeliveryOutcome(sent=len(messages), failed=0, pending=0)
    for message in messages:
        assert message.kind == "report" and message.state == "sent"
        assert message.attempts == 1 and message.sent_at is not None and message.last_error is None


def test_a_second_pass_over_an_empty_inbox_sends_nothing(whole_corpus: Run) -> None:
    home = whole_corpus.home
    before = sorted(home.outbox.rglob("*"))
    recording = Recording()
    pipeline = open_pipeline(home, delivery=recording)
    try:
        taken, delivered = intake_pass(pipeline, patience=0.5)
    finally:
        pipeline.close()
    assert taken == []
    assert delivered == DeliveryOutcome(0, 0, 0)
    assert recording.messages == []
    assert sorted(home.outbox.rglob("*")) == before
    assert len(_messages(home)) == len(whole_corpus.cases)


def test_one_application_per_form_the_corrected_pair_one_with_two_versions(whole_corpus: Run) -> None:
    store = Store(whole_corpus.home.database_url)
    try:
        with store.session() as session:
            apps = session.scalars(select(Application)).all()
            assert all(a.latest.result.extractor_version == EXTRACTOR_VERSION for a in apps)
            readable = [c for c in whole_corpus.cases if c.kind is not None]
            # One application per form, but the corrected pair is one with two versions.
            assert len(apps) == len(readable) - 1
    finally:
        store.close()


# --- one home per scenario ---------------------------------------------------------------------------

def _pass(home: Home, delivery: Recording | OutboxDelivery | None = None
          ) -> tuple[list[Taken], DeliveryOutcome, Recording | OutboxDelivery]:
    delivery = delivery if delivery is not None else Recording()
    pipeline = open_pipeline(home, delivery=delivery)
    try:
        taken, delivered = intake_pass(pipeline)
    finally:
        pipeline.close()
    return taken, delivered, delivery


def test_the_same_bytes_again_are_a_duplicate_and_not_reported_twice(
        store_url: str, corpus: list[Case], tmp_path: Path) -> None:
    home = make_home(tmp_path / "home", store_url=store_url)
    (case,) = by_name(corpus, "docx_mall_goteborg.docx")
    drop(home, [case])
    taken, delivered, recording = _pass(home)
    assert [t.outcome for t in taken] == ["complete"] and delivered.sent == 1

    drop(home, [case], name=lambda c: "Ansökan Göteborg (kopia).docx")
    taken, delivered, recording = _pass(home)
    assert [(t.outcome, t.name) for t in taken] == [("duplicate", "Ansökan Göteborg (kopia).docx")]
    assert case.name in taken[0].detail
    assert delivered == DeliveryOutcome(0, 0, 0) and recording.messages == []  # type: ignore[union-attr]

    drop(home, [case])  # and the very same name once more
    taken, delivered, _ = _pass(home)
    assert [t.outcome for t in taken] == ["duplicate"] and delivered.sent == 0

    # Nothing is lost: the original archived once, each copy kept beside it, none altered.
    kept = [p for p in (home.archive / "2026").rglob("*") if p.is_file()]
    assert len(kept) == 3 and all(p.read_bytes() == case.data for p in kept)
    assert list(home.inbox.iterdir()) == []
    (sub,) = _submissions(home).values()
    assert sub.duplicates == 2
    assert len(_messages(home)) == 1


def test_a_corrected_form_is_version_2_and_its_report_says_what_changed(
        store_url: str, corpus: list[Case], tmp_path: Path) -> None:
    home = make_home(tmp_path / "home", store_url=store_url)
    v1, v2 = (c for c in corpus if "corrected" in c.tags)
    drop(home, [v1])
    taken, _, first = _pass(home)
    assert [(t.outcome, t.version) for t in taken] == [("incomplete", 1)]
    drop(home, [v2])
    taken, delivered, second = _pass(home)
    assert [(t.outcome, t.version) for t in taken] == [("complete", 2)]
    assert delivered.sent == 1

    (message,) = second.messages  # type: ignore[union-attr]
    assert "version 2" in str(message["Subject"]) and "komplett" in str(message["Subject"])
    assert sorted(a.addr_spec for a in message["To"].addresses) == sorted(expected_recipients(v2))
    body = plain_body(message)
    assert "Version:      2, ersätter version 1" in body
    assert "Ändringar mot förra versionen:" in body
    assert "Nu komplett." in body
    assert "Sökt belopp" in body.split("Ändringar mot förra versionen:")[1].split("\n\n")[0]
    (before,) = first.messages  # type: ignore[union-attr]
    assert "Ändringar mot förra versionen" not in plain_body(before)

    store = Store(home.database_url)
    try:
        with store.session() as session:
            (app,) = session.scalars(select(Application)).all()
            assert [v.number for v in app.versions] == [1, 2]
            assert [v.submission.original_name for v in app.versions] == [v1.name, v2.name]
            assert app.latest.result.complete and not app.versions[0].result.complete
    finally:
        store.close()


def _another_activity(municipality: str, written: str, theme: int, name: str) -> Case:
    builder = _Builder(2026)
    app = builder.app(municipality, written, THEMES[theme])
    builder.docx(name, app, template_document(app), "template")
    return builder.cases[-1]


@pytest.mark.parametrize("same_pass", [False, True], ids=["later-pass", "same-pass"])
def test_two_activities_of_one_municipality_warn_on_both(
        store_url: str, corpus: list[Case], tmp_path: Path, same_pass: bool) -> None:
    (first,) = by_name(corpus, "docx_mall_goteborg.docx")
    second = _another_activity("Göteborg", "Göteborgs stad", 3, "goteborg_bokstart.docx")
    first_title, second_title = first.fields["project_title"], second.fields["project_title"]
    assert first_title != second_title and second.fields["municipality"] == "Göteborg"

    home = make_home(tmp_path / "home", store_url=store_url)
    recording = Recording()
    drop(home, [first])
    if not same_pass:
        _pass(home, recording)
    drop(home, [second])
    _pass(home, recording)

    store = Store(home.database_url)
    try:
        with store.session() as session:
            apps = session.scalars(select(Application).order_by(Application.id)).all()
            assert [a.title for a in apps] == [first_title, second_title]
            for app, other in ((apps[0], second_title), (apps[1], first_title)):
                warnings = [p for p in app.latest.result.problems if p.code == "second_application"]
                assert len(warnings) == 1 and warnings[0].severity == "warning"
                assert str(other) in warnings[0].message
    finally:
        store.close()

    # Both applications' consultants are told, each of the other activity.
    told: dict[str, list[str]] = {}
    for message in recording.messages:
        for address in (a.addr_spec for a in message["To"].addresses):
            told.setdefault(address, []).append(plain_body(message))
    for case, other in ((first, second_title), (second, first_title)):
        for address in expected_recipients(case):
            assert any(str(other) in body for body in told[address]), (address, other)
    subjects = sorted(str(m["Subject"]) for m in recording.messages)
    if same_pass:
        # The first report had not left yet: it went out with the warning in it, not twice.
        assert len(subjects) == 2
    else:
        # The first report had gone without it: a further report tells what is new.
        assert len(subjects) == 3
        (late,) = [m for m in recording.messages[1:] if second_title not in str(m["Subject"])]
        assert "Ny varning:" in plain_body(late) and str(first_title) in str(late["Subject"])


def test_a_nul_in_an_answer_is_filed_and_checked_again_as_unchanged(
        store_url: str, corpus: list[Case], tmp_path: Path) -> None:
    """A fillable PDF may carry a NUL character in a field, which PostgreSQL's text cannot hold:
    the form is filed and reported all the same, stored without the NUL on every database, and
    neither its next version nor a check under new rules finds a change that is none."""
    (skara,) = by_name(corpus, "pdf_formular_mall_skara.pdf")
    title = "Sagostunder\x00 för alla"
    nul = replace(skara, name="skara_sagostunder.pdf", data=fill_with_pypdf(
        skara.data, {"project_title": title, "contact_email": "kontakt\x00skara.se"}))
    corrected = replace(skara, name="skara_sagostunder_v2.pdf",
                        data=fill_with_pypdf(skara.data, {"project_title": title}))
    home = make_home(tmp_path / "home", store_url=store_url)
    drop(home, [skara, nul])
    taken, delivered, _ = _pass(home)
    assert [(t.outcome, t.version) for t in taken] == [("complete", 1), ("incomplete", 1)], taken
    assert delivered.sent == 2 and list(home.inbox.iterdir()) == []

    drop(home, [corrected])  # the second activity's next version: nothing new for the first
    taken, delivered, recording = _pass(home)
    assert [(t.outcome, t.version) for t in taken] == [("complete", 2)], taken
    assert delivered.sent == 1 and list(home.inbox.iterdir()) == []
    (report,) = recording.messages  # type: ignore[union-attr]
    assert "Sagostunder för alla" in str(report["Subject"]).replace("\x00", "")

    pipeline = open_pipeline(home, delivery=Recording())
    try:
        with pipeline.store.session() as session:
            first, second = session.scalars(select(Application).order_by(Application.id)).all()
            assert second.title == "Sagostunder för alla"
            assert [len(second.versions), len(first.versions)] == [2, 1]
            warnings = [p.message for p in first.latest.result.problems
                        if p.code == "second_application"]
            assert len(warnings) == 1 and "Sagostunder för alla" in warnings[0]
            email = [p.message for p in second.versions[0].result.problems
                     if p.field == "contact_email"]
            assert email and not any("\x00" in m for m in email)
            session.execute(update(Result).values(rules_fingerprint=None))
        assert revalidate_all(pipeline).__dict__ == {"checked": 2, "changed": 0, "reread": 0}
    finally:
        pipeline.close()


def test_messages_are_recorded_before_they_are_sent_and_marked_sent_after(
        store_url: str, corpus: list[Case], tmp_path: Path) -> None:
    home = make_home(tmp_path / "home", store_url=store_url)
    drop(home, by_name(corpus, "docx_mall_goteborg.docx", "ansokan_tom.docx"))
    seen: list[tuple[str, str]] = []
    store = Store(home.database_url)

    def look(message: object) -> None:
        key = str(message["X-Blankett-Key"]).rsplit("@", 1)[0]  # type: ignore[index]  # key@instance
        with store.session() as session:
            row = session.scalar(select(Message).where(Message.key == key))
            assert row is not None, "sent before it was recorded"
            seen.append((key, row.state))

    try:
        _, delivered, _ = _pass(home, Recording(before_send=look))
        assert delivered.sent == 2
        # Each of the two messages, to each of its recipients, was still pending when sent.
        assert len({key for key, _ in seen}) == 2
        assert {state for _, state in seen} == {"pending"}
        with store.session() as session:
            rows = session.scalars(select(Message)).all()
            assert {(m.key, m.state) for m in rows} == {(k, "sent") for k, _ in seen}
            assert all(m.sent_at is not None for m in rows)
    finally:
        store.close()


def test_a_failed_delivery_is_retried_on_the_next_run_and_never_sent_twice(
        corpus: list[Case], tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    cases = by_name(corpus, "docx_mall_goteborg.docx", "docx_kontroller_inline_lerum.docx",
                    "ansokan_word97.doc")
    drop(home, cases)
    failing = Recording(failing=True)
    taken, delivered, _ = _pass(home, failing)
    assert [t.outcome for t in taken] == ["complete", "complete", "unreadable"]
    assert delivered == DeliveryOutcome(sent=0, failed=3, pending=3)
    assert all(m.state == "pending" and m.attempts == 1 and "refused" in (m.last_error or "")
               for m in _messages(home))
    # The files are filed all the same: the report waits, not the form.
    assert list(home.inbox.iterdir()) == []

    working = Recording()
    taken, delivered, _ = _pass(home, working)
    assert taken == []
    assert delivered == DeliveryOutcome(sent=3, failed=0, pending=0)
    expected = {address: 0 for case in cases for address in expected_recipients(case)}
    for case in cases:
        for address in expected_recipients(case):
            expected[address] += 1
    got: dict[str, int] = {}
    for message in working.messages:
        for address in (a.addr_spec for a in message["To"].addresses):
            got[address] = got.get(address, 0) + 1
    assert got == expected
    assert len({str(m["Message-ID"]) for m in working.messages}) == 3
    assert all(m.state == "sent" and m.attempts == 2 and m.last_error is None
               for m in _messages(home))

    again = Recording()
    pipeline = open_pipeline(home, delivery=again)
    try:
        assert deliver_pending(pipeline) == DeliveryOutcome(0, 0, 0)
    finally:
        pipeline.close()
    assert again.messages == []


def test_reports_carry_the_original_and_failed_notes_name_it(corpus: list[Case], tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    cases = by_name(corpus, "docx_kontroller_ofullstandig_ale.docx", "ansokan_600_sidor.pdf")
    drop(home, cases)
    _, _, recording = _pass(home)
    by_subject = {str(m["Subject"]): m for m in recording.messages}  # type: ignore[union-attr]
    unreadable = by_subject["Oläslig fil: ansokan_600_sidor.pdf"]
    (attachment,) = list(unreadable.iter_attachments())
    assert attachment.get_filename() == "ansokan_600_sidor.pdf"
    assert hashlib.sha256(attachment.get_content()).hexdigest() == cases[1].sha256
    assert "Filen kunde inte läsas. PDF-filen har för många sidor (600; gränsen är 200)." \
        in " ".join(plain_body(unreadable).split())
    incomplete = next(m for s, m in by_subject.items() if s.startswith("Ansökan: Ale"))
    assert "ofullständig" in str(incomplete["Subject"])
    assert sorted(a.addr_spec for a in incomplete["To"].addresses) == sorted(FALLBACK)


def test_a_received_text_file_and_its_note_are_told_apart(corpus: list[Case], tmp_path: Path) -> None:
    """The note beside an unreadable file is not named like a second copy of it (a received
    "ansokan.txt" beside "ansokan.txt.txt"), and says in Swedish why it could not be read."""
    home = make_home(tmp_path / "home")
    (case,) = by_name(corpus, "ansokan.txt")
    drop(home, [case])
    taken, _, _ = _pass(home)
    assert [t.outcome for t in taken] == ["unreadable"]
    (original,) = [p for p in home.failed.iterdir() if p.name.endswith("-ansokan.txt")]
    assert original.read_bytes() == case.data
    note = original.with_name(f"{original.name}.orsak.txt")
    assert sorted(p.name for p in home.failed.iterdir()) == sorted([original.name, note.name])
    assert note.read_text(encoding="utf-8") == f"ansokan.txt\n\n{unread_file('not_a_form')}\n"
    assert unread_file("not_a_form").startswith("Filen kunde inte läsas. Filen är inte i något format")


def test_one_submission_row_per_file(whole_corpus: Run) -> None:
    store = Store(whole_corpus.home.database_url)
    try:
        with store.session() as session:
            count = session.scalar(select(func.count()).select_from(Submission))
            assert count == len(whole_corpus.cases)
    finally:
        store.close()


def test_the_store_is_sqlite_in_wal_mode_with_a_busy_timeout(whole_corpus: Run) -> None:
    store = Store(whole_corpus.home.database_url)
    try:
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert int(connection.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0) >= 1000
    finally:
        store.close()
    assert (whole_corpus.home.root / "blankett.db").is_file()


# --- summaries, over plain functions ----------------------------------------------------------------

def test_what_changed_since_the_last_summary_is_each_consultants_own(
        store_url: str, corpus: list[Case], tmp_path: Path) -> None:
    """Addresses that look alike to SQL LIKE ('_' matches any character) are still two people."""
    areas = {**AREAS, "open": ("a_b@example.org",), "reading": ("axb@example.org",)}
    home = make_home(tmp_path / "home", areas=areas, store_url=store_url, empty_summaries=True)
    drop(home, by_name(corpus, "docx_mall_sammanslagna_celler_molndal.docx",
                       "docx_kontroller_inline_lerum.docx"))
    _pass(home)
    recording = Recording()
    pipeline = open_pipeline(home, delivery=recording)
    try:
        now = datetime.now(UTC)
        assert queue_summaries(pipeline, "2026-11-24", now).queued == len(set(CONSULTANTS) - {
            *AREAS["open"], *AREAS["reading"]}) + 2
        assert queue_summaries(pipeline, "2026-11-24", now).queued == 0  # once a day
        queue_summaries(pipeline, "2026-11-25", now)
        deliver_pending(pipeline)
    finally:
        pipeline.close()
    news = {}
    for message in recording.messages:
        (address,) = (a.addr_spec for a in message["To"].addresses)
        body = plain_body(message)
        heading, section = body.split("\n\nNytt", 1)[1].split(":\n", 1)
        news.setdefault(address, []).append((heading, section.split("\n\n", 1)[0].strip()))
    # The first summary has no last one to be new since, and says so.
    first, later = " (din första sammanställning)", " sedan förra sammanställningen"
    assert news["a_b@example.org"] == [(first, "- Ny: Mölndal – Ett öppnare bibliotek (komplett)."),
                                       (later, "Inget nytt.")]
    assert news["axb@example.org"] == [(first, "- Ny: Lerum – Bokstart i Lerum (komplett)."),
                                       (later, "Inget nytt.")]
    assert all(said[0][0] == first for said in news.values())


@pytest.mark.parametrize("asked", [False, True])
def test_a_consultant_with_no_application_gets_no_daily_summary_unless_asked(
        corpus: list[Case], tmp_path: Path, asked: bool) -> None:
    """An "inga ansökningar" summary every day is noise: only those who ask for it get it."""
    home = make_home(tmp_path / "home", empty_summaries=asked)
    (case,) = by_name(corpus, "docx_mall_goteborg.docx")
    drop(home, [case])
    _pass(home)
    recording = Recording()
    pipeline = open_pipeline(home, delivery=recording)
    try:
        queue_summaries(pipeline, "2026-11-24", datetime.now(UTC))
        deliver_pending(pipeline)
    finally:
        pipeline.close()
    subjects = {a.addr_spec: str(m["Subject"]) for m in recording.messages for a in m["To"].addresses}
    assert len(subjects) == len(recording.messages)
    theirs = set(expected_recipients(case))
    assert set(subjects) == (set(CONSULTANTS) if asked else theirs)
    for address, subject in subjects.items():
        assert subject.endswith("inga ansökningar") == (address not in theirs), (address, subject)


@dataclass
class RefusesOnce(Collector):
    """Refuses one mailbox once (452: full for now), as a real server may; takes it later."""

    refuse: str = ""
    refused: int = 0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address == self.refuse and not self.refused:
            self.refused += 1
            return "452 4.2.2 Mailbox full, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_a_recipient_refused_once_does_not_make_the_others_get_it_twice(
        corpus: list[Case], tmp_path: Path) -> None:
    handler = RefusesOnce(refuse="reading2@example.org")
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        home = make_home(tmp_path / "home", smtp_port=port)
        drop(home, by_name(corpus, "docx_kontroller_inline_lerum.docx"))  # to reading1 and 2
        _, first = intake_pass_with_home_delivery(home)
        _, second = intake_pass_with_home_delivery(home)
    finally:
        controller.stop()
    assert first.sent + second.sent == 1 and second.pending == 0
    copies: dict[str, int] = {}
    for to, _ in handler.envelopes:
        for address in to:
            copies[address] = copies.get(address, 0) + 1
    assert copies == {"reading1@example.org": 1, "reading2@example.org": 1}


def test_each_message_is_logged_as_sent_once(corpus: list[Case], tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    """One line a message, however many recipients it goes to (each on their own)."""
    with smtp_server() as (collector, port):
        home = make_home(tmp_path / "home", smtp_port=port)
        drop(home, by_name(corpus, "docx_kontroller_inline_lerum.docx", "docx_mall_goteborg.docx"))
        with caplog.at_level(logging.DEBUG, logger="blankett"):
            _, delivered = intake_pass_with_home_delivery(home)
    assert delivered.sent == 2 and len(collector.envelopes) == 3
    sent = [r.getMessage().split() for r in caplog.records
            if r.levelno >= logging.INFO and r.getMessage().startswith("sent ")]
    assert sorted(line[2] for line in sent) == sorted(collector.distinct())
    assert ["reading1@example.org,", "reading2@example.org"] in [line[4:] for line in sent]


def intake_pass_with_home_delivery(home: Home) -> tuple[list[Taken], DeliveryOutcome]:
    pipeline = open_pipeline(home)
    try:
        return intake_pass(pipeline)
    finally:
        pipeline.close()
