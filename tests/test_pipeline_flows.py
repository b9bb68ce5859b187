"""The Prefect flows `intake`, `nightly` and `rerun` under Prefect's test harness, delivering to a
real SMTP server (aiosmtpd on 127.0.0.1); `blankett status --json` on what they recorded."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from io import StringIO
from pathlib import Path
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pipeline_support import (
    AREAS,
    CONSULTANTS,
    FALLBACK,
    Collector,
    by_name,
    drop,
    expected_outcome,
    expected_recipients,
    intake_pass,
    make_home,
    plain_body,
    smtp_server,
    write_routing,
)
from sqlalchemy import select

from blankett.extractors import EXTRACTOR_VERSION
from blankett.fixtures.corpus import Case
from blankett.flows.cli.environment import Environment
from blankett.flows.cli.home import cmd_status
from blankett.flows.home.settings import Home
from blankett.flows.pipeline.resources import open_pipeline
from blankett.flows.store.database import Application, Message, Result, Store
from blankett.models.records import SCAN_KINDS
from blankett.models.spec import load_spec

FILES = (
    "docx_mall_goteborg.docx", "docx_mall_sammanslagna_celler_molndal.docx",
    "docx_kontroller_inline_lerum.docx", "docx_kontroller_ofullstandig_ale.docx",
    "docx_formularfalt_mariestad.docx", "docx_ofullstandig_vara.docx", "docx_alingsas_v1.docx",
    "pdf_formular_tva_kryss_tibro.pdf", "pdf_formular_mall_skara.pdf",
    "pdf_utskrift_rubriker_stromstad.pdf", "pdf_skannad_amal.pdf", "ansokan_word97.doc",
)
REQUIRED = {f.key for f in load_spec().fields if f.required and not f.warn_when_missing}
STATUS_SV = {"complete": "komplett", "incomplete": "ofullständig", "unreadable": "oläslig"}


@pytest.fixture(scope="session")
def flows(prefect_api_url: str) -> ModuleType:
    """The flows module, run against Prefect's test harness (tests/conftest.py)."""
    from blankett.flows.orchestration import flows as orchestration

    return orchestration


@pytest.fixture
def smtp() -> Iterator[tuple[Collector, int]]:
    with smtp_server() as server:
        yield server


def _home(tmp_path: Path, port: int, corpus: list[Case], names: tuple[str, ...] = FILES
          ) -> tuple[Home, list[Case]]:
    home = make_home(tmp_path / "home", smtp_port=port)
    cases = by_name(corpus, *names)
    drop(home, cases)
    return home, cases


def _taken_in(home: Home) -> None:
    """The files taken in without Prefect, reports sent by the home's own SMTP settings."""
    pipeline = open_pipeline(home)
    try:
        taken, delivered = intake_pass(pipeline)
    finally:
        pipeline.close()
    assert taken and delivered.failed == 0 and delivered.pending == 0


def _subject_start(case: Case) -> str:
    if case.kind in (None, *SCAN_KINDS):
        return f"Oläslig fil: {case.name}"
    return f"Ansökan: {case.fields['municipality']} – {case.fields['project_title']} ("


def _summary_line(case: Case, version: int = 1) -> str:
    status = STATUS_SV[expected_outcome(case)]
    if case.kind in (None, *SCAN_KINDS):
        return f"Ny: {case.name} ({status})."
    name = f"{case.fields['municipality']} – {case.fields['project_title']}"
    return f"Ny: {name} ({status})." if version == 1 else f"Ny version {version}: {name} ({status})."


def _news(body: str) -> list[str]:
    """The lines under "Nytt sedan förra sammanställningen:" (the first summary: "Nytt (din
    första sammanställning):")."""
    section = re.split(r"\nNytt (?:sedan förra sammanställningen|\(din första sammanställning\)):\n",
                       body, maxsplit=1)[1].split("\n\n", 1)[0]
    return sorted(line.strip().removeprefix("- ") for line in section.splitlines())


def _result_and_artifacts(state: Any) -> tuple[Any, list[Any]]:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
    return state.result(), artifacts


# --- intake -----------------------------------------------------------------------------------------

def test_intake_flow_reports_to_each_areas_consultants_by_smtp(
        flows: ModuleType, smtp: tuple[Collector, int], corpus: list[Case], tmp_path: Path) -> None:
    collector, port = smtp
    home, cases = _home(tmp_path, port, corpus)

    state = flows.intake(str(home.root), return_state=True)
    assert state.is_completed()
    counts, artifacts = _result_and_artifacts(state)
    assert counts == {"complete": 6, "incomplete": 4, "unreadable": 2, "duplicate": 0,
                      "skipped": 0, "failed": 0, "sent": len(cases), "pending": 0,
                      "setting_wrong": ""}
    assert {o: counts[o] for o in ("complete", "incomplete", "unreadable")} == dict(
        Counter(expected_outcome(c) for c in cases))

    # Who received what: one message per file, each to exactly its area's consultants.
    assert len(collector.distinct()) == len(cases)
    expected: dict[str, list[str]] = {}
    for case in cases:
        for address in expected_recipients(case):
            expected.setdefault(address, []).append(_subject_start(case))
    got = collector.by_recipient()
    assert sorted(got) == sorted(expected)
    for address, subjects in got.items():
        starts = sorted(expected[address])
        assert len(subjects) == len(starts), address
        for start in starts:
            assert sum(s.startswith(start) for s in subjects) == 1, (address, start, subjects)
    # Each message goes to exactly the addresses in its To header, each once (one envelope each).
    delivered: dict[str, list[str]] = {}
    headers: dict[str, list[str]] = {}
    for envelope_to, message in collector.messages():
        delivered.setdefault(str(message["Message-ID"]), []).extend(envelope_to)
        headers[str(message["Message-ID"])] = [a.addr_spec for a in message["To"].addresses]
        assert str(message["From"]) == "blankett@example.org"
    assert {k: sorted(v) for k, v in delivered.items()} == {k: sorted(v) for k, v in headers.items()}

    (artifact,) = [a for a in artifacts if a.key == "intake-pass"]
    assert artifact.type == "markdown"
    for case in cases:
        assert case.name in artifact.data
    assert f"Skickade meddelanden: {len(cases)}" in artifact.data

    # Filed: the inbox is empty, the readable in archive/2026/, the unreadable in failed/.
    assert list(home.inbox.iterdir()) == []
    assert len([p for p in (home.archive / "2026").iterdir() if p.is_file()]) == 11
    assert len(list(home.failed.iterdir())) == 2  # the .doc and its note

    # A second pass with a copy of a file already taken: a duplicate, nothing sent.
    collector.envelopes.clear()
    drop(home, cases[:1], name=lambda c: f"kopia av {c.name}")
    again = flows.intake(str(home.root))
    assert again == {"complete": 0, "incomplete": 0, "unreadable": 0, "duplicate": 1,
                     "skipped": 0, "failed": 0, "sent": 0, "pending": 0,
                     "setting_wrong": ""}
    assert collector.envelopes == []
    assert list(home.inbox.iterdir()) == []


def test_intake_flow_keeps_messages_for_the_next_run_when_smtp_is_down(
        flows: ModuleType, corpus: list[Case], tmp_path: Path) -> None:
    with smtp_server() as (collector, port):
        pass  # a port where nobody listens any more
    home, cases = _home(tmp_path, port, corpus, FILES[:2])
    counts = flows.intake(str(home.root))
    assert counts["complete"] == 2 and counts["sent"] == 0 and counts["pending"] == 2

    with smtp_server() as (collector, live):
        settings = home.root / "blankett.toml"
        settings.write_text(settings.read_text(encoding="utf-8").replace(f"port = {port}",
                                                                          f"port = {live}"))
        counts = flows.intake(str(home.root))
        assert counts["sent"] == 2 and counts["pending"] == 0 and counts["complete"] == 0
        assert sorted(collector.by_recipient()) == sorted({a for c in cases
                                                           for a in expected_recipients(c)})
        assert len(collector.distinct()) == 2


def test_a_wrong_smtp_setting_stops_the_run_at_once_and_keeps_the_reports(
        flows: ModuleType, corpus: list[Case], tmp_path: Path) -> None:
    """STARTTLS asked of a server that offers none fails alike at every attempt: the run says
    which setting, without Prefect's retries, and ends as a run (no failed run, whose traceback
    Prefect prints); the forms are filed, their reports wait."""
    with smtp_server() as (collector, port):
        home, _ = _home(tmp_path, port, corpus, FILES[:2])
        settings = home.root / "blankett.toml"
        settings.write_text(settings.read_text(encoding="utf-8").replace(
            "starttls = false", "starttls = true"), encoding="utf-8")
        started = time.monotonic()
        counts = flows.intake(str(home.root))
        assert "smtp.starttls = false" in counts["setting_wrong"]
        assert (counts["sent"], counts["pending"]) == (0, 2)
        assert time.monotonic() - started < 5, "retried"
        assert collector.envelopes == []
    assert len(list((home.archive / "2026").iterdir())) == 2
    store = Store(home.database_url)
    try:
        with store.session() as session:
            assert {m.state for m in session.scalars(select(Message))} == {"pending"}
    finally:
        store.close()


def test_io_steps_are_retried(flows: ModuleType) -> None:
    assert flows.take.retries >= 1 and flows.deliver.retries >= 1


# --- nightly ----------------------------------------------------------------------------------------

def test_nightly_sends_each_consultant_their_summary_once_a_day(
        flows: ModuleType, smtp: tuple[Collector, int], corpus: list[Case], tmp_path: Path) -> None:
    collector, port = smtp
    home, cases = _home(tmp_path, port, corpus)
    _taken_in(home)
    collector.envelopes.clear()
    # One application read by an older reader: nightly reads it again.
    store = Store(home.database_url)
    try:
        with store.session() as session:
            oldest = session.scalars(select(Result).order_by(Result.id)).first()
            assert oldest is not None
            oldest.extractor_version = EXTRACTOR_VERSION - 1
            reread_id = oldest.id
    finally:
        store.close()

    today = datetime.now(UTC).astimezone().date()  # the flow's default day
    result = flows.nightly(str(home.root))
    assert result == {"checked": 11, "changed": 0, "reread": 1, "summaries": len(CONSULTANTS),
                      "sent": len(CONSULTANTS), "pending": 0, "retaken": 0,
                      "setting_wrong": ""}
    store = Store(home.database_url)
    try:
        with store.session() as session:
            assert session.get(Result, reread_id).extractor_version == EXTRACTOR_VERSION
    finally:
        store.close()

    summaries = collector.messages()
    assert sorted(to[0] for to, _ in summaries) == sorted(CONSULTANTS)
    for to, message in summaries:
        (address,) = to
        assert [a.addr_spec for a in message["To"].addresses] == [address]
        assert str(message["Subject"]).startswith("Sammanställning ")
        mine = [c for c in cases if address in expected_recipients(c)]
        assert _news(plain_body(message)) == sorted(_summary_line(c) for c in mine), address
        others = [c for c in cases if c not in mine]
        body = plain_body(message)
        for case in others:
            assert case.name not in body
            if case.fields.get("project_title"):
                assert f"{case.fields['municipality']} – {case.fields['project_title']}" not in body
    reading = next(m for to, m in summaries if to == ["reading1@example.org"])
    assert "Hej Läsa Ett!" in plain_body(reading)
    assert "Det läs- och skrivfrämjande biblioteket" in str(reading["Subject"])
    fallback = next(m for to, m in summaries if to == [FALLBACK[0]])
    table = plain_body(fallback).split("\nAnsökningar:\n", 1)[1]
    # Unreadable first, then incomplete: what the consultant acts on comes first.
    assert table.index("ansokan_word97.doc") < table.index("pdf_skannad_amal.pdf") \
        < table.index("Ale ") < table.index("Tibro")
    # What each lacks, under its row.
    ale = table[table.index("Ale "):].split("\n")
    assert ale[1].strip().startswith("Brister: Strategisk inriktning")
    word97 = table[table.index("ansokan_word97.doc"):].split("\n")
    assert ale[1] and "Filen kunde inte läsas" in word97[1]

    # Again the same day: nothing.
    collector.envelopes.clear()
    result = flows.nightly(str(home.root), day=today.isoformat())
    assert result["summaries"] == 0 and result["sent"] == 0
    assert collector.envelopes == []

    # The corrected form comes in; the next day's summaries say what changed, to whom it concerns.
    (v2,) = by_name(corpus, "docx_alingsas_v2_rattad.docx")
    drop(home, [v2])
    _taken_in(home)
    collector.envelopes.clear()
    tomorrow = (today + timedelta(days=1)).isoformat()
    result = flows.nightly(str(home.root), day=tomorrow)
    assert result["summaries"] == len(CONSULTANTS) and result["sent"] == len(CONSULTANTS)
    for to, message in collector.messages():
        news = _news(plain_body(message))
        if to[0] in AREAS["reading"]:
            assert news == [_summary_line(v2, version=2)]
        else:
            assert news == ["Inget nytt."], to


def test_the_intake_artifact_says_in_swedish_what_came_of_each_file(
        corpus: list[Case], tmp_path: Path) -> None:
    """What a person reads of a pass in Prefect's UI: results and reasons in Swedish."""
    from blankett.flows.mail.delivery import OutboxDelivery
    from blankett.flows.orchestration.flows import intake_table

    home = make_home(tmp_path / "home")
    cases = by_name(corpus, "docx_mall_goteborg.docx", "docx_alingsas_v1.docx", "ansokan_tom.docx")
    drop(home, cases)
    drop(home, cases[:1], name=lambda c: f"kopia av {c.name}", age=60)  # after the others
    pipeline = open_pipeline(home, delivery=OutboxDelivery(home.outbox))
    try:
        taken, delivered = intake_pass(pipeline)
    finally:
        pipeline.close()
    table = intake_table(taken, delivered)
    rows = {row.split(" | ")[0].removeprefix("| "): row.split(" | ")[1:] for row in table.splitlines()[2:6]}
    filed = {t.name: t.detail for t in taken}
    assert rows == {
        "docx_mall_goteborg.docx": ["komplett", f"arkiverad som {filed['docx_mall_goteborg.docx']} |"],
        "docx_alingsas_v1.docx": ["ofullständig", f"arkiverad som {filed['docx_alingsas_v1.docx']} |"],
        "ansokan_tom.docx": ["oläslig", "Filen är tom (0 byte). |"],
        "kopia av docx_mall_goteborg.docx": [
            "dubblett", "samma fil som docx_mall_goteborg.docx, som redan kommit in |"],
    }
    assert table.endswith("Skickade meddelanden: 3; väntar: 0")


# --- rerun ------------------------------------------------------------------------------------------

def test_rerun_reports_only_where_the_result_changed(
        flows: ModuleType, smtp: tuple[Collector, int], corpus: list[Case], tmp_path: Path) -> None:
    collector, port = smtp
    home, cases = _home(tmp_path, port, corpus)
    _taken_in(home)
    collector.envelopes.clear()

    assert flows.rerun(str(home.root)) == {"checked": 11, "changed": 0, "sent": 0, "pending": 0,
                                               "retaken": 0, "still_failed": 0,
                                               "setting_wrong": ""}
    assert collector.envelopes == []

    digital = [c for c in cases if c.fields.get("strategic_area") == "digital"]
    assert len(digital) == 2
    write_routing(home.root, {**AREAS, "digital": ("digital2@example.org",)})
    store = Store(home.database_url)
    try:
        with store.session() as session:
            first = session.scalar(select(Application).where(
                Application.title == digital[0].fields["project_title"]))
            assert first is not None
            first_id = first.id
    finally:
        store.close()

    result = flows.rerun(str(home.root), [first_id])
    assert result == {"checked": 1, "changed": 1, "sent": 1, "pending": 0, "retaken": 0,
                      "still_failed": 0, "setting_wrong": ""}
    ((to, message),) = collector.messages()
    assert to == ["digital2@example.org"]
    assert str(message["Subject"]).startswith(_subject_start(digital[0]))
    assert "Läst om med nya regler eller ny läsare." in plain_body(message)

    collector.envelopes.clear()
    result = flows.rerun(str(home.root))
    assert result == {"checked": 11, "changed": 1, "sent": 1, "pending": 0, "retaken": 0,
                      "still_failed": 0, "setting_wrong": ""}
    ((to, message),) = collector.messages()
    assert to == ["digital2@example.org"]
    assert str(message["Subject"]).startswith(_subject_start(digital[1]))

    collector.envelopes.clear()
    assert flows.rerun(str(home.root))["sent"] == 0
    assert collector.envelopes == []


# --- status -----------------------------------------------------------------------------------------

def test_status_json_has_one_row_per_application(
        smtp: tuple[Collector, int], corpus: list[Case], tmp_path: Path) -> None:
    _, port = smtp
    home, cases = _home(tmp_path, port, corpus)
    _taken_in(home)
    out, err = StringIO(), StringIO()
    env = Environment(stdout=out, stderr=err, variables={}, today=date(2026, 11, 25))
    assert cmd_status(env, home.root, True) == 0
    assert err.getvalue() == ""
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(rows) == len(cases)  # 11 applications and the unreadable .doc
    by_file = {Path(r["file"]).name.split("-", 3)[3]: r for r in rows}  # stamp-sha-name
    for case in cases:
        row = by_file[case.name]
        assert row["status"] == expected_outcome(case), case.name
        if case.kind is None:
            assert row["id"] is None and row["reason"]
            continue
        assert row["consultants"] == list(expected_recipients(case)), case.name
        assert row["version"] == 1 and row["last_report_sent"]
        missing = sorted(f for f, code in case.problems if code == "missing" and f in REQUIRED)
        assert sorted(row["missing"]) == missing, case.name
        if case.kind not in SCAN_KINDS:
            assert row["municipality"] == case.fields["municipality"]
            assert row["area"] == case.fields["strategic_area"]


def test_a_file_that_breaks_a_step_does_not_stop_the_others(
        flows: ModuleType, smtp: tuple[Collector, int], corpus: list[Case], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A fault while taking one file (here injected into the checks) leaves that file in the inbox
    for the next pass; the other files are still taken and reported in this one."""
    from blankett.flows.pipeline.examine import Examiner

    collector, port = smtp
    home, cases = _home(tmp_path, port, corpus, FILES[:3])
    poison = cases[1]
    check = Examiner.report

    def report(self: Examiner, name: str, sha256: str, extraction: Any) -> Any:
        if name == poison.name:
            raise RuntimeError("injected fault")
        return check(self, name, sha256, extraction)

    monkeypatch.setattr(Examiner, "report", report)
    monkeypatch.setattr(flows, "take", flows.take.with_options(retry_delay_seconds=0))
    state = flows.intake(str(home.root), return_state=True)
    assert state.is_completed()
    counts, artifacts = _result_and_artifacts(state)
    assert counts["complete"] == 2 and counts["skipped"] == 1 and counts["sent"] == 2
    assert [p.name for p in home.inbox.iterdir()] == [poison.name]
    assert (home.inbox / poison.name).read_bytes() == poison.data
    assert len(collector.distinct()) == 2
    (artifact,) = [a for a in artifacts if a.key == "intake-pass"]
    assert poison.name in artifact.data and "injected fault" in artifact.data

    monkeypatch.setattr(Examiner, "report", check)
    counts = flows.intake(str(home.root))
    assert counts["complete"] == 1 and counts["skipped"] == 0 and counts["sent"] == 1
    assert list(home.inbox.iterdir()) == []


# --- what consultants do --------------------------------------------------------------------------

def test_nightly_and_rerun_keep_corrections_and_nightly_publishes_the_years_overview(
        flows: ModuleType, smtp: tuple[Collector, int], corpus: list[Case], tmp_path: Path) -> None:
    from blankett.flows.pipeline.actions import correct, decide
    from blankett.flows.store.overview import application_record

    collector, port = smtp
    home, cases = _home(tmp_path, port, corpus, FILES[:6])
    _taken_in(home)
    pipeline = open_pipeline(home)
    try:
        rows = {row["municipality"]: row["id"] for row in _status_rows(home)}
        vara = rows["Vara"]
        correct(pipeline, vara, "contact_email", "nils@vara.example.org", by="anna")
        decide(pipeline, rows["Göteborg"], "granted", "anna", amount=40000)
    finally:
        pipeline.close()

    def vara_email() -> tuple[object, str]:
        store = Store(home.database_url)
        try:
            record = application_record(store, load_spec(), vara, ZoneInfo("Europe/Stockholm"))
        finally:
            store.close()
        (field,) = [f for f in record["fields"] if f["key"] == "contact_email"]
        return field["value"], field["source"]["label"]

    state = flows.nightly(str(home.root), return_state=True)
    counts, artifacts = _result_and_artifacts(state)
    assert counts["changed"] == 0 and counts["checked"] == len(cases)
    (table,) = [a for a in artifacts if a.key == "year-overview"]
    assert table.type == "table"
    published = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert sorted(row["Id"] for row in published) == sorted(rows.values())
    goteborg = next(row for row in published if row["Kommun"] == "Göteborg")
    assert (goteborg["Beviljat (kr)"], goteborg["Beslut"]) == (40000, "beviljad")

    # Other rules (a new routing): everything is checked again, the correction with it; and all
    # read again from the files: it stands, once, and nobody is told of a change it did not make.
    write_routing(home.root, {**AREAS, "open": ("open2@example.org",)})
    assert flows.nightly(str(home.root), day="2026-12-01")["changed"] >= 1
    assert vara_email() == ("nils@vara.example.org", "rättat av anna")
    collector.envelopes.clear()
    result = flows.rerun(str(home.root))
    assert result["changed"] == 0 and collector.envelopes == []
    assert vara_email() == ("nils@vara.example.org", "rättat av anna")


def _status_rows(home: Home) -> list[dict[str, Any]]:
    from blankett.flows.cli.home import status_rows

    return status_rows(home, 2026)
