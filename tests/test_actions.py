"""What consultants do with what they receive, against a real store and real forms: corrections
(checked at once, kept by the nightly checks and by reading again, compared with the applicant's
next version), applications and unreadable files marked handled, decisions within the grant's
rules, letters to applicants, the record `show` prints, and the year's overview as a workbook."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from datetime import date
from email.message import EmailMessage
from importlib import resources
from io import StringIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pipeline_support import (
    AREAS,
    FALLBACK,
    Collector,
    by_name,
    command,
    drop,
    intake_pass,
    make_home,
    parse,
    plain_body,
    smtp_server,
)
from sqlalchemy import func, select

from blankett.fixtures.corpus import Case
from blankett.flows.cli.actions import cmd_overview, cmd_show
from blankett.flows.cli.environment import Environment
from blankett.flows.home.settings import Home, load_home
from blankett.flows.mail.messaging import application_view, queue_summaries
from blankett.flows.mail.reports import format_amount, render_report
from blankett.flows.mail.views import CompletenessReport
from blankett.flows.pipeline.actions import Refused, correct, decide, mark_handled, write_letter
from blankett.flows.pipeline.resources import Pipeline, open_pipeline
from blankett.flows.pipeline.revalidation import revalidate_all
from blankett.flows.store.database import Application, Correction, Handling, Message, Result, Store
from blankett.flows.store.ledger import as_utc
from blankett.flows.store.overview import application_record, overview_rows
from blankett.flows.store.queries import UnknownTarget, status_rows
from blankett.models.messages import status_word
from blankett.models.spec import load_spec

ZONE = ZoneInfo("Europe/Stockholm")
SPEC = load_spec()
LABELS = {f.key: f.label for f in SPEC.fields}
# What keeps an application from being complete: a required field missing, or any error.
REQUIRED = {f.key for f in SPEC.fields if f.required and not f.warn_when_missing}


@pytest.fixture
def home(tmp_path: Path, store_url: str) -> Home:
    """A test home on SQLite, and on PostgreSQL where BLANKETT_TEST_POSTGRES names a server."""
    return make_home(tmp_path / "home", store_url=store_url)


def _taken(home: Home, cases: list[Case]) -> Pipeline:
    drop(home, cases)
    pipeline = open_pipeline(home)
    intake_pass(pipeline)
    assert list(home.inbox.iterdir()) == []
    return pipeline


@pytest.fixture
def pipeline(home: Home, corpus: list[Case]) -> Iterator[Pipeline]:
    """Alingsås's first version (its amount above the limit), Vara (incomplete), Göteborg and
    Mölndal (complete), and a damaged file."""
    opened = _taken(home, by_name(corpus, "docx_alingsas_v1.docx", "docx_ofullstandig_vara.docx",
                                  "docx_mall_goteborg.docx",
                                  "docx_mall_sammanslagna_celler_molndal.docx",
                                  "ansokan_trasig.docx"))
    yield opened
    opened.close()


def _ids(pipeline: Pipeline) -> dict[str, int]:
    """Application ids by municipality."""
    rows = status_rows(pipeline.store, 2026, ZONE, list(FALLBACK))
    return {row["municipality"]: row["id"] for row in rows if row["id"]}


def _status(pipeline: Pipeline, municipality: str) -> dict[str, object]:
    rows = status_rows(pipeline.store, 2026, ZONE, list(FALLBACK))
    return next(row for row in rows if row["municipality"] == municipality)


def _reports(pipeline: Pipeline, application_id: int) -> list[EmailMessage]:
    with pipeline.store.session() as session:
        return [parse(m.raw) for m in session.scalars(select(Message).where(
            Message.application_id == application_id, Message.kind.in_(("report", "update")))
            .order_by(Message.id))]


# --- correct ------------------------------------------------------------------------------------

def test_a_correction_is_checked_at_once_and_used_by_status_and_the_report(
        pipeline: Pipeline, corpus: list[Case]) -> None:
    (v1,) = by_name(corpus, "docx_alingsas_v1.docx")
    assert ("requested_amount_sek", "amount_too_high") in v1.problems
    alingsas = _ids(pipeline)["Alingsås"]
    assert _status(pipeline, "Alingsås")["status"] == "incomplete"

    done = correct(pipeline, alingsas, "Sökt belopp", "50 000", by="anna")
    assert (done.value, done.status, done.lacks) == (50000, "complete", ())
    assert _status(pipeline, "Alingsås")["status"] == "complete"
    # The consultants of the area are told, the corrected answer marked as such.
    report = _reports(pipeline, alingsas)[-1]
    assert str(report["To"]) == ", ".join(AREAS["reading"])
    body = plain_body(report)
    # An update (the version is the same): what changed, the correction first.
    assert report["Subject"].startswith("Uppdaterad rapport")
    assert "Rättat av anna: Sökt belopp är nu ”50\u00a0000” (var ”60\u00a0000”)." in body
    assert "Nu komplett." in body
    # The whole report, as one who had none gets it, marks the corrected answer.
    with pipeline.store.session() as session:
        view = application_view(pipeline, session.get(Application, alingsas))
    whole = plain_body(render_report(CompletenessReport(key="whole", application=view,
                                                        recipients=AREAS["reading"]),
                                     sender=pipeline.sender))
    assert f"{LABELS['requested_amount_sek']}: 50\u00a0000 (rättat av anna)" in whole


def test_a_correction_the_rules_refuse_or_that_names_nothing_changes_nothing(
        pipeline: Pipeline) -> None:
    goteborg = _ids(pipeline)["Göteborg"]
    with pytest.raises(Refused, match=re.escape("E-postadressen ”ida.berglund” är inte en giltig adress")):
        correct(pipeline, goteborg, "contact_email", "ida.berglund", by="anna")
    with pytest.raises(Refused, match="Målgrupp saknas"):
        correct(pipeline, goteborg, "Målgrupp", " ", by="anna")
    with pytest.raises(UnknownTarget, match=r"^budget: inget fält i blanketten"):
        correct(pipeline, goteborg, "budget", "1", by="anna")
    with pytest.raises(UnknownTarget, match=r"^999: ingen ansökan"):
        correct(pipeline, 999, "Kommun", "Ale", by="anna")
    with pipeline.store.session() as session:
        assert session.scalar(select(func.count()).select_from(Correction)) == 0


def test_a_correction_is_kept_once_by_the_nightly_checks_and_by_reading_again(
        pipeline: Pipeline) -> None:
    vara = _ids(pipeline)["Vara"]
    correct(pipeline, vara, "E-post", "nils.jakobsson@vara.example.org", by="anna")
    correct(pipeline, vara, "requested_amount_sek", "20 000", by="anna")
    correct(pipeline, vara, "requested_amount_sek", "30 000", by="bo")  # the later one stands

    def standing() -> tuple[int, dict[str, object], int]:
        with pipeline.store.session() as session:
            results = session.scalar(select(func.count()).select_from(Result))
            messages = session.scalar(select(func.count()).select_from(Message))
        row = _status(pipeline, "Vara")
        return results, {k: row[k] for k in ("status", "missing")}, messages

    before = standing()
    assert before[1]["missing"] == sorted(["goal", "knowledge", "target_group"],
                                          key=list(LABELS).index)
    # The nightly check: checked at once under the rules in force, nothing to check again.
    assert revalidate_all(pipeline).changed == 0
    # Under other rules (all checked again), and read again from the file (`rerun --all`): the
    # corrections stand, each applied once, and nobody is told of a change that did not happen.
    with pipeline.store.session() as session:
        for result in session.scalars(select(Result)):
            result.rules_fingerprint = None
    assert revalidate_all(pipeline, report=True).changed == 0
    assert revalidate_all(pipeline, reread=True, report=True).changed == 0
    assert standing() == before
    record = application_record(pipeline.store, pipeline.spec, vara, ZONE)
    fields = {f["key"]: f for f in record["fields"]}
    assert fields["requested_amount_sek"]["value"] == 30000
    assert fields["requested_amount_sek"]["source"]["label"] == "rättat av bo"
    assert fields["contact_email"]["value"] == "nils.jakobsson@vara.example.org"
    assert [(c["field"], c["value"], c["by"]) for c in record["corrections"]] == [
        ("contact_email", "nils.jakobsson@vara.example.org", "anna"),
        ("requested_amount_sek", "20 000", "anna"), ("requested_amount_sek", "30 000", "bo")]


def test_a_new_version_is_read_fresh_and_says_whether_the_corrections_agree(
        home: Home, pipeline: Pipeline, corpus: list[Case]) -> None:
    (v2,) = by_name(corpus, "docx_alingsas_v2_rattad.docx")
    alingsas = _ids(pipeline)["Alingsås"]
    correct(pipeline, alingsas, "Sökt belopp (kr)", "50 000", by="anna")  # as v2 will say
    correct(pipeline, alingsas, "library", "Stadsbiblioteket", by="anna")  # v2 says otherwise
    mark_handled(pipeline, str(alingsas), "anna", note="brev skickat")
    assert _status(pipeline, "Alingsås")["handled"]
    drop(home, [v2])
    intake_pass(pipeline)
    row = _status(pipeline, "Alingsås")
    assert row["version"] == 2 and row["status"] == "complete"
    # What the applicant sent since it was marked handled is new to act on.
    assert not row["handled"]
    record = application_record(pipeline.store, pipeline.spec, alingsas, ZONE)
    fields = {f["key"]: f for f in record["fields"]}
    # Read as the applicant wrote it: the correction of version 1 is not carried over.
    assert not any(f["corrected"] for f in record["fields"])
    assert fields["library"]["value"] == v2.fields["library"]
    body = plain_body(_reports(pipeline, alingsas)[-1])
    assert ("Rättelsen av Sökt belopp i förra versionen (”50\u00a0000”, rättat av anna) stämmer "
            "med den nya versionen.") in body
    assert (f"Rättelsen av Bibliotek / biblioteksenhet i förra versionen (”Stadsbiblioteket”, "
            f"rättat av anna) stämmer inte med den nya versionen, som anger "
            f"”{v2.fields['library']}”; den nya versionens uppgift gäller.") in " ".join(body.split())


# --- handled ------------------------------------------------------------------------------------

def _summary(pipeline: Pipeline, address: str, day: str) -> str:
    queue_summaries(pipeline, day, pipeline.clock())
    with pipeline.store.session() as session:
        raw = session.scalar(select(Message.raw).where(Message.key == f"summary:{day}:{address}"))
    assert raw is not None
    return plain_body(parse(raw))


def test_handled_leaves_what_the_summary_lists_to_act_on_and_shows_in_status(
        pipeline: Pipeline) -> None:
    vara = _ids(pipeline)["Vara"]
    fallback = _summary(pipeline, FALLBACK[0], "2026-11-01")
    assert "ansokan_trasig.docx" in fallback.split("\nAnsökningar:\n", 1)[1]

    assert mark_handled(pipeline, str(vara), "anna", note="ringt, ny version kommer").handled
    assert mark_handled(pipeline, "ansokan_trasig.docx", "bo").handled
    rows = status_rows(pipeline.store, 2026, ZONE, list(FALLBACK))
    handled = {row["received_as"]: row["handled_by"] for row in rows if row["handled"]}
    assert handled == {"docx_ofullstandig_vara.docx": "anna", "ansokan_trasig.docx": "bo"}

    learning = _summary(pipeline, AREAS["learning"][0], "2026-11-02")
    to_act_on, rest = learning.split("\nAnsökningar:\n", 1)[1].split("\nHanterade (1):\n", 1)
    assert "Vara" not in to_act_on and "Inget att åtgärda." in to_act_on
    assert "Vara" in rest and "Hanterad av anna" in rest and "ringt, ny version kommer" in rest
    fallback = _summary(pipeline, FALLBACK[0], "2026-11-02")
    to_act_on, rest = fallback.split("\nAnsökningar:\n", 1)[1].split("\nHanterade (1):\n", 1)
    assert "ansokan_trasig.docx" not in to_act_on and "ansokan_trasig.docx" in rest

    undone = mark_handled(pipeline, str(vara), "anna", undo=True)
    assert (undone.handled, undone.changed) == (False, True)
    assert not mark_handled(pipeline, str(vara), "anna", undo=True).changed
    assert not _status(pipeline, "Vara")["handled"]
    with pytest.raises(UnknownTarget, match=re.escape("okand.docx: ingen ansökan och ingen oläslig fil")):
        mark_handled(pipeline, "okand.docx", "anna")


# --- decide -------------------------------------------------------------------------------------

def test_decisions_keep_to_the_grants_rules(pipeline: Pipeline, corpus: list[Case]) -> None:
    ids = _ids(pipeline)
    (goteborg_case,) = by_name(corpus, "docx_mall_goteborg.docx")
    sought = goteborg_case.fields["requested_amount_sek"]
    assert isinstance(sought, int)
    limit = pipeline.spec.grant.max_amount_sek
    goteborg = ids["Göteborg"]
    with pytest.raises(Refused, match=f"mer än bidragets högsta belopp, "
                                      f"{format_amount(limit)}"):
        decide(pipeline, goteborg, "granted", "anna", amount=limit + 1)
    with pytest.raises(Refused, match=f"mer än de {format_amount(sought)} ansökan söker"):
        decide(pipeline, goteborg, "granted", "anna", amount=sought + 1)
    with pytest.raises(Refused, match="beviljas inget belopp"):
        decide(pipeline, goteborg, "declined", "anna", amount=1000)
    with pytest.raises(Refused, match="är ofullständig"):
        decide(pipeline, ids["Vara"], "granted", "anna", amount=1000)
    done = decide(pipeline, goteborg, "granted", "anna", note="Biblioteksgruppen 12/11")
    assert (done.outcome, done.amount) == ("granted", sought)

    # Mölndal's form, its municipality misread: corrected, it is Göteborg's second application.
    correct(pipeline, ids["Mölndal"], "Kommun", "Göteborg", by="anna")
    second = ids["Mölndal"]
    with pytest.raises(Refused, match=f"Göteborg har redan en beviljad ansökan i år "
                                      f"\\(id {goteborg},"):
        decide(pipeline, second, "granted", "anna", amount=1000)
    assert decide(pipeline, second, "granted", "anna", amount=1000, force=True).amount == 1000
    assert decide(pipeline, second, "declined", "anna").replaced == "granted"
    row = _status(pipeline, "Göteborg")
    assert (row["decision"], row["granted_sek"]) == ("granted", sought)


# --- letter -------------------------------------------------------------------------------------

def _sample(name: str) -> tuple[bytes, dict[str, object]]:
    samples = resources.files("blankett.fixtures").joinpath("samples")
    manifest = json.loads(samples.joinpath("manifest.json").read_text(encoding="utf-8"))
    return samples.joinpath(name).read_bytes(), next(c for c in manifest if c["name"] == name)


def _parts(body: str, heading: str) -> set[str]:
    """The headings a letter lists under `heading`: "  - Section, ”Heading”: ..."."""
    if heading not in body:
        return set()
    listed = body.split(heading, 1)[1].split("\n\n", 2)[1]
    return {line.split("”")[1] for line in listed.splitlines() if line.startswith("  - ")}


def test_the_letter_for_the_incomplete_sample_names_exactly_its_missing_and_invalid_parts(
        home: Home, corpus: list[Case]) -> None:
    data, sample = _sample("vara-ofullstandig.docx")
    (home.inbox / "vara-ofullstandig.docx").write_bytes(data)
    pipeline = _taken(home, by_name(corpus, "docx_alingsas_v1.docx", "docx_mall_goteborg.docx"))
    try:
        ids = _ids(pipeline)
        done = write_letter(pipeline, ids["Vara"], "anna")
        assert not done.complete and done.recipient is None  # the sample gives no address
        draft = parse((home.root / str(done.draft)).read_bytes())
        assert done.draft is not None and done.draft.startswith("outbox/drafts/")
        assert draft["To"] is None and draft["X-Unsent"] == "1"
        consultant = AREAS["learning"][0]
        assert draft["From"].addresses[0].addr_spec == consultant
        body = plain_body(draft)
        problems = [tuple(p) for p in sample["problems"]]  # type: ignore[attr-defined]
        needed = {LABELS[field] for field, _ in problems if field in REQUIRED}
        advised = {LABELS[field] for field, _ in problems if field not in REQUIRED}
        assert needed and advised
        assert _parts(body, "behöver den kompletteras med följande:") == needed
        assert _parts(body, "Se gärna också över följande:") == advised
        assert f"Hej {sample['fields']['contact_name']}!" in body  # type: ignore[index]
        assert body.rstrip().endswith(consultant)

        # An invalid part is named with what is wrong with it; its letter goes to its address.
        (v1,) = by_name(corpus, "docx_alingsas_v1.docx")
        done = write_letter(pipeline, ids["Alingsås"], "anna")
        letter = parse((home.root / str(done.draft)).read_bytes())
        assert letter["To"].addresses[0].addr_spec == v1.fields["contact_email"]
        body = plain_body(letter)
        assert _parts(body, "behöver den kompletteras med följande:") == {
            LABELS[field] for field, code in v1.problems if field in REQUIRED or code != "missing"}
        assert "Sökt belopp 60\u00a0000 kr är mer än högsta beloppet 50\u00a0000 kr." in body

        assert write_letter(pipeline, ids["Göteborg"], "anna").complete
        assert len(list((home.outbox / "drafts").iterdir())) == 2
    finally:
        pipeline.close()


def test_a_letter_is_sent_only_when_the_setting_says_so(tmp_path: Path, corpus: list[Case]) -> None:
    with smtp_server() as (collector, port):
        home = make_home(tmp_path / "home", smtp_port=port)
        pipeline = _taken(home, by_name(corpus, "docx_alingsas_v1.docx"))
        try:
            alingsas = _ids(pipeline)["Alingsås"]
            collector.envelopes.clear()
            assert not write_letter(pipeline, alingsas, "anna").sent
            assert isinstance(collector, Collector) and collector.envelopes == []
        finally:
            pipeline.close()
        settings = home.root / "blankett.toml"
        settings.write_text(settings.read_text() + "\n[letters]\nsend = true\n")
        pipeline = open_pipeline(load_home(home.root))
        try:
            done = write_letter(pipeline, alingsas, "anna")
            assert done.sent and not done.waiting
        finally:
            pipeline.close()
    (v1,) = by_name(corpus, "docx_alingsas_v1.docx")
    envelopes = sorted(to[0] for to, _ in collector.messages())
    assert envelopes == sorted([str(v1.fields["contact_email"]), AREAS["reading"][0]])
    sent = collector.messages()[0][1]
    assert sent["X-Unsent"] is None and str(sent["Subject"]).startswith("Komplettering av ansökan")
    assert sent["Cc"].addresses[0].addr_spec == AREAS["reading"][0]
    store = Store(home.database_url)
    try:
        record = application_record(store, SPEC, alingsas, ZONE)
    finally:
        store.close()
    assert [letter["sent"] for letter in record["letters"]] == [False, True]


# --- show and overview --------------------------------------------------------------------------

def test_show_prints_the_application_and_its_history(pipeline: Pipeline) -> None:
    vara = _ids(pipeline)["Vara"]
    correct(pipeline, vara, "E-post", "nils@vara.example.org", by="anna")
    mark_handled(pipeline, str(vara), "anna", note="ringt")
    env = Environment(stdout=StringIO(), stderr=StringIO(), variables={}, today=date(2026, 11, 25))
    assert cmd_show(env, pipeline.home.root, vara, False) == 0
    out = env.stdout.getvalue()  # type: ignore[attr-defined]
    assert out.startswith("Ansökan ") and "Vara – Kompetenslyft för bibliotekspersonal" in out
    assert "nils@vara.example.org" in out and "rättat av anna" in out
    assert "Hanterad:     av anna" in out and ": ringt" in out
    assert "Mål saknas." in out and "docx_ofullstandig_vara.docx" in out
    messages = out.split("\nMeddelanden:\n", 1)[1].splitlines()
    # The report of the version, sent; the one of the correction, waiting for the next run.
    assert [m.split()[0] for m in messages] == ["skickat", "väntar"], messages

    env = Environment(stdout=StringIO(), stderr=StringIO(), variables={}, today=date(2026, 11, 25))
    assert cmd_show(env, pipeline.home.root, 999, True) == 2
    assert env.stderr.getvalue() == "error: 999: ingen ansökan i detta hem har detta id; se " \
                                    "`blankett status`\n"  # type: ignore[attr-defined]


def test_the_overview_opens_as_a_workbook_and_as_csv(pipeline: Pipeline, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    ids = _ids(pipeline)
    decide(pipeline, ids["Göteborg"], "granted", "anna", amount=40000)
    decide(pipeline, ids["Mölndal"], "declined", "anna")
    mark_handled(pipeline, str(ids["Vara"]), "anna")
    rows = overview_rows(pipeline.store, pipeline.spec, pipeline.routing, 2026, ZONE)
    env = Environment(stdout=StringIO(), stderr=StringIO(), variables={}, today=date(2026, 11, 25))
    xlsx, table = tmp_path / "översikt.xlsx", tmp_path / "översikt.csv"
    assert cmd_overview(env, pipeline.home.root, None, xlsx, table) == 0, env.stderr.getvalue()  # type: ignore[attr-defined]

    book = load_workbook(xlsx)
    areas = {a.key: a for a in pipeline.spec.areas}
    assert book.sheetnames[0] == "Ansökningar" and book.sheetnames[-2:] == ["Summor", "Lärdag"]
    everything = list(book["Ansökningar"].iter_rows(values_only=True))
    header = everything[0]
    assert header == ("Id", "Kommun", "Bibliotek", "Aktivitet", "Inriktning", "Sökt (kr)",
                      "Beviljat (kr)", "Beslut", "Status", "Version", "Inkommen", "Konsulenter",
                      "Hanterad")
    assert sorted(r[0] for r in everything[1:]) == sorted(r.id for r in rows)
    by_town = {r[1]: dict(zip(header, r, strict=True)) for r in everything[1:]}
    assert by_town["Göteborg"]["Beviljat (kr)"] == 40000 and by_town["Göteborg"]["Beslut"] == \
        "beviljad"
    assert by_town["Vara"]["Hanterad"] == "ja" and by_town["Vara"]["Status"] == "ofullständig"
    # A sheet per area, each with its applications.
    for key, area in areas.items():
        sheet = next(s for s in book.worksheets if s.title in (area.name, *area.names))
        assert sorted(r[0] for r in sheet.iter_rows(min_row=2, values_only=True)) == \
            sorted(r.id for r in rows if r.area == key)
    summed = list(book["Summor"].iter_rows(values_only=True))
    totals = {r[0]: r[1:] for r in summed[1:]}
    for key, area in areas.items():
        mine = [r for r in rows if r.area == key]
        assert totals[area.name] == (len(mine), sum(r.sought or 0 for r in mine),
                                     40000 if key == "digital" else 0)
    assert totals["Totalt"][2] == 40000
    assert len(book["Summor"]._charts) == 1
    invited = list(book["Lärdag"].iter_rows(values_only=True))
    assert [r[:2] for r in invited[1:]] == [("Göteborg", by_town["Göteborg"]["Bibliotek"])]

    with table.open(encoding="utf-8-sig", newline="") as handle:
        read = list(csv.reader(handle, delimiter=";"))
    assert tuple(read[0]) == header and len(read) == len(rows) + 1
    assert "Sparad: " in env.stdout.getvalue()  # type: ignore[attr-defined]


# --- the commands -------------------------------------------------------------------------------

def test_the_commands_parse_their_arguments_and_say_one_line_each(
        pipeline: Pipeline, tmp_path: Path) -> None:
    ids = _ids(pipeline)

    def run(*args: str) -> tuple[int, str, str]:
        return command(pipeline, *args)

    code, out, err = run("correct", str(ids["Alingsås"]), "Sökt belopp", "50 000", "--by", "anna")
    assert (code, err) == (0, "") and out.count("\n") == 1
    assert out.startswith(f"Ansökan {ids['Alingsås']} (Alingsås – ")
    assert ": rättat Sökt belopp till ”50 000 kr”; ansökan är nu komplett." in out

    code, out, err = run("decide", str(ids["Alingsås"]), "granted", "--amount", "50001")
    assert (code, out) == (2, "") and err.startswith("error: 50 001 kr är mer än") \
        and err.count("\n") == 1
    code, out, _ = run("decide", str(ids["Alingsås"]), "granted", "--note", "BG 12/11")
    assert code == 0 and "beviljad 50 000 kr" in out

    code, out, err = run("handled", "ansokan_trasig.docx", "--note", "ringt", "--by", "bo")
    assert code == 0 and out.startswith("ansokan_trasig.docx: markerad som hanterad")
    code, out, _ = run("status")
    assert code == 0
    (trasig,) = [line for line in out.splitlines() if "ansokan_trasig.docx" in line]
    assert trasig.rstrip().endswith("av bo")
    code, out, _ = run("handled", "ansokan_trasig.docx", "--undo")
    assert code == 0 and "inte längre hanterad" in out

    code, out, err = run("letter", str(ids["Vara"]))
    assert code == 0 and "outbox/drafts/" in out and "ingen giltig e-postadress" in out

    code, out, err = run("show", str(ids["Alingsås"]), "--json")
    record = json.loads(out)
    assert record["decision"]["outcome"] == "granted" and record["corrections"][0]["by"] == "anna"

    workbook = tmp_path / "år.xlsx"
    code, out, err = run("overview", "--year", "2026", "--xlsx", str(workbook))
    assert (code, err) == (0, "") and workbook.exists() and out.startswith("4 ansökningar 2026")

    for args, said in ((("correct", "999", "Kommun", "Ale"), "error: 999: ingen ansökan"),
                       (("correct", str(ids["Vara"]), "budget", "1"), "error: budget: inget fält"),
                       (("show", "7777"), "error: 7777: ingen ansökan")):
        code, out, err = run(*args)
        assert (code, out) == (2, "") and err.startswith(said) and err.count("\n") == 1, err


# What people read, in Swedish and as status says it ----------------------------------------------

# The English words the commands' frames and labels used: none is left among what people read.
_ENGLISH = re.compile(r"\b(Application|applications?|status|handled|decision|consultants|Fields|"
                      r"Problems|Versions|Corrections|Letters|Messages|sent|waiting|none|granted|"
                      r"declined|sought|Written|was|by|to|no|in)\b")


def test_show_overview_and_decide_speak_swedish_as_status_does(
        pipeline: Pipeline) -> None:
    ids = _ids(pipeline)
    correct(pipeline, ids["Vara"], "E-post", "nils@vara.example.org", by="anna")
    # A field that was empty is said to have been so, not quoted as if "tomt" had been written.
    assert "Rättat av anna: E-post är nu ”nils@vara.example.org” (var tomt)." in \
        plain_body(_reports(pipeline, ids["Vara"])[-1])
    mark_handled(pipeline, str(ids["Vara"]), "anna", note="ringt")
    write_letter(pipeline, ids["Vara"], "anna")
    code, decided, err = command(pipeline, "decide", str(ids["Göteborg"]), "granted",
                                 "--amount", "40000", "--by", "anna")
    assert (code, err) == (0, "") and decided.startswith(f"Ansökan {ids['Göteborg']} (Göteborg – ")
    assert decided.rstrip().endswith(": beviljad 40 000 kr.")
    _, declined, _ = command(pipeline, "decide", str(ids["Göteborg"]), "declined")
    assert declined.rstrip().endswith(": avslagen (ersätter beslutet beviljad).")
    _, overview, _ = command(pipeline, "overview")
    assert overview.startswith("4 ansökningar 2026:") and "sökt" in overview
    rows = {row["id"]: row for row in status_rows(pipeline.store, 2026, ZONE, list(FALLBACK))}
    for said in (decided, declined, overview):
        assert not _ENGLISH.search(said), said

    for application_id in (ids["Vara"], ids["Göteborg"]):
        code, shown, _ = command(pipeline, "show", str(application_id))
        assert code == 0
        # The applicant's answers are theirs; everything else is the command's own words.
        head, rest = shown.split("\nSvar (version ", 1)
        frame = head + rest.split("\n\n", 1)[1]
        assert not _ENGLISH.search(frame), _ENGLISH.findall(frame)
        # The status as `status` says it.
        assert f"  Status:       {status_word(rows[application_id]['status'])}, version 1" in frame
    _, vara, _ = command(pipeline, "show", str(ids["Vara"]))
    assert "Hanterad:     av anna" in vara and "(var tomt)" in vara and "\nBrev:\n" in vara


def test_status_shows_a_granted_amount_whole(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    """The "hanterad" column on a terminal narrower than the table: the amount is not cut."""

    class Terminal(StringIO):
        def isatty(self) -> bool:
            return True

    ids = _ids(pipeline)
    mark_handled(pipeline, str(ids["Göteborg"]), "anna")
    decide(pipeline, ids["Göteborg"], "granted", "anna", amount=40000)
    for columns in ("100", "140"):
        monkeypatch.setenv("COLUMNS", columns)
        code, out, _ = command(pipeline, "status", stdout=Terminal())
        plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
        assert code == 0 and "beviljad 40 000 kr" in plain, plain


def test_marking_handled_again_says_who_marked_it_and_what_it_did(
        pipeline: Pipeline) -> None:
    vara = str(_ids(pipeline)["Vara"])
    code, out, _ = command(pipeline, "handled", vara, "--note", "ringt", "--by", "anna")
    assert code == 0 and "markerad som hanterad" in out
    with pipeline.store.session() as session:
        first = session.scalars(select(Handling)).one().done_at
    when = as_utc(first).astimezone(ZONE).strftime("%Y-%m-%d %H:%M")

    code, out, err = command(pipeline, "handled", vara, "--by", "bo")
    assert (code, err) == (0, "") and out.count("\n") == 1
    assert f"var redan markerad som hanterad av anna {when} (”ringt”); inget ändrat." in out, out
    assert _record(pipeline, int(vara))["handled"]["by"] == "anna"

    code, out, _ = command(pipeline, "handled", vara, "--note", "ny version kommer",
                           "--by", "bo")
    assert code == 0 and out.count("\n") == 1
    assert f"var redan markerad som hanterad av anna {when}; anteckningen är nu ”ny version " \
           "kommer” (var ”ringt”)." in out, out
    # Only the note: who marked it handled, and when, stand (status, show, the summaries).
    handled = _record(pipeline, int(vara))["handled"]
    assert (handled["by"], handled["note"]) == ("anna", "ny version kommer")
    with pipeline.store.session() as session:
        assert [h.done_at for h in session.scalars(select(Handling))] == [first]


def test_an_id_that_is_no_number_is_one_line(pipeline: Pipeline) -> None:
    for args in (("show", "abc"), ("decide", "7x", "granted"), ("letter", "Vara"),
                 ("correct", "abc", "Kommun", "Ale")):
        code, out, err = command(pipeline, *args)
        assert (code, out) == (2, "") and err.count("\n") == 1, err
        assert err.startswith(f"error: {args[1]}: inte ett id för en ansökan"), err


def _record(pipeline: Pipeline, application_id: int) -> dict[str, Any]:
    return application_record(pipeline.store, SPEC, application_id, ZONE)
