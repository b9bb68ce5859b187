"""Whoever had a report of an application is told truthfully when it changes hands or is
corrected: a file read at last, an application corrected to another area (those who had it are
told it went elsewhere, and to whom, once); several fields corrected in one command (one update);
a correction to what the field already says (nothing); the consultant who corrected it (not
mailed while others are told). Against a real SMTP server on 127.0.0.1 and a real store."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pipeline_support import (
    AREAS,
    FALLBACK,
    NAMES,
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

from blankett.fixtures.corpus import Case, _Builder
from blankett.fixtures.docx_builders import template_document
from blankett.fixtures.form import AREAS as FORM_AREAS
from blankett.fixtures.themes import THEMES
from blankett.flows.home.settings import Home, load_home
from blankett.flows.mail.messaging import deliver_pending, queue_summaries
from blankett.flows.pipeline.actions import Refused, correct, correct_fields
from blankett.flows.pipeline.intake import retake_failed
from blankett.flows.pipeline.resources import Pipeline, open_pipeline
from blankett.flows.pipeline.revalidation import revalidate_all
from blankett.flows.store.database import Correction, Message
from blankett.flows.store.queries import status_rows

ZONE = ZoneInfo("Europe/Stockholm")
DIGITAL, READING = "Det digitala biblioteket", "Det läs- och skrivfrämjande biblioteket"


@pytest.fixture
def smtp() -> Iterator[tuple[Collector, int]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def home(tmp_path: Path, store_url: str, smtp: tuple[Collector, int]) -> Home:
    """A test home mailing by SMTP to 127.0.0.1, on SQLite and, where BLANKETT_TEST_POSTGRES names
    a server, on PostgreSQL."""
    return make_home(tmp_path / "home", smtp_port=smtp[1], store_url=store_url)


@pytest.fixture
def pipeline(home: Home, corpus: list[Case], smtp: tuple[Collector, int]) -> Iterator[Pipeline]:
    """Göteborg (digital), Alingsås's first version (reading, two consultants) and Vara
    (learning), taken and their reports sent; the server then forgets them."""
    drop(home, by_name(corpus, "docx_mall_goteborg.docx", "docx_alingsas_v1.docx",
                       "docx_ofullstandig_vara.docx"))
    opened = open_pipeline(home)
    _, delivered = intake_pass(opened)
    assert delivered.sent == 3 and delivered.pending == 0
    smtp[0].envelopes.clear()
    yield opened
    opened.close()


def _ids(pipeline: Pipeline) -> dict[str, int]:
    return {row["municipality"]: row["id"]
            for row in status_rows(pipeline.store, 2026, ZONE, list(FALLBACK)) if row["id"]}


def _received(collector: Collector) -> dict[str, list[EmailMessage]]:
    """What each address received since the server was last cleared, and clears it."""
    got: dict[str, list[EmailMessage]] = {}
    for to, message in collector.messages():
        for address in to:
            got.setdefault(address, []).append(message)
    collector.envelopes.clear()
    return got


def _delivered(pipeline: Pipeline, collector: Collector) -> dict[str, list[EmailMessage]]:
    outcome = deliver_pending(pipeline)
    assert outcome.failed == outcome.pending == 0
    return _received(collector)


def _listed(body: str, heading: str) -> list[str]:
    """The "  - " lines under `heading` in a plain-text message."""
    return [line[4:] for line in body.split(f"\n{heading}:\n", 1)[1].split("\n\n", 1)[0].splitlines()]


def _moved(message: EmailMessage) -> list[str]:
    """A word that an application went elsewhere: its reasons; never with the original."""
    assert str(message["Subject"]).startswith("Skickad vidare: ")
    assert list(message.iter_attachments()) == []
    body = plain_body(message)
    assert body.startswith("Ansökan nedan går inte längre till dig, och du behöver inte göra "
                           "något mer med den.")
    assert "Svar i ansökan" not in body
    return _listed(body, "Varför")


# --- a file read at last ------------------------------------------------------------------------

def test_a_file_read_from_failed_tells_the_fallback_contacts_whom_it_goes_to(
        tmp_path: Path, store_url: str, smtp: tuple[Collector, int], corpus: list[Case]) -> None:
    """It went to the fallback contacts as unreadable; read once the cause is gone, its report
    goes to its area, and the fallback contacts are told, once, that it was read and whom it
    goes to; their summary no longer lists it, and later changes are not theirs."""
    collector, port = smtp
    (form,) = by_name(corpus, "pdf_utskrift_tabell_dalsed.pdf")
    home = make_home(tmp_path / "home", smtp_port=port, store_url=store_url, empty_summaries=True)
    settings = home.root / "blankett.toml"
    settings.write_text(settings.read_text(encoding="utf-8") + "\n[limits]\nmax_pages = 1\n",
                        encoding="utf-8")
    drop(load_home(home.root), [form])
    pipeline = open_pipeline(load_home(home.root))
    try:
        intake_pass(pipeline)
        queue_summaries(pipeline, "2026-03-01", pipeline.clock())
        got = _delivered(pipeline, collector)
        for address in FALLBACK:
            assert str(got[address][0]["Subject"]) == f"Oläslig fil: {form.name}"
            assert form.name in _to_act_on(got[address][-1])
    finally:
        pipeline.close()
    settings.write_text(settings.read_text(encoding="utf-8").replace("max_pages = 1", ""),
                        encoding="utf-8")
    pipeline = open_pipeline(load_home(home.root))
    try:
        [taken] = retake_failed(pipeline)
        assert taken.outcome == "complete"
        got = _delivered(pipeline, collector)
        assert sorted(got) == sorted([*AREAS["reading"], *FALLBACK])
        for address in AREAS["reading"]:
            (report,) = got[address]
            assert str(report["Subject"]).startswith("Ansökan: Dals-Ed – ")
            assert [a.get_filename() for a in report.iter_attachments()] == [form.name]
        for address in FALLBACK:
            (moved,) = got[address]
            assert _moved(moved) == [
                f"Filen {form.name} kunde inte läsas när den kom in, men har nu lästs.",
                f"Går nu till: {', '.join(AREAS['reading'])}."]
            assert "Dals-Ed" in str(moved["Subject"])

        # Told once: a run that finds nothing new, checking again, a correction of the amount
        # (the area's consultants' business now) tell them nothing more.
        assert retake_failed(pipeline) == []
        revalidate_all(pipeline, reread=True, report=True)
        correct(pipeline, taken.application_id, "Sökt belopp", "40 000", by="anna")
        got = _delivered(pipeline, collector)
        assert sorted(got) == sorted(AREAS["reading"])
        queue_summaries(pipeline, "2026-03-02", pipeline.clock())
        got = _delivered(pipeline, collector)
        for address in FALLBACK:
            assert form.name not in _to_act_on(got[address][0])
            assert "Dals-Ed" not in _to_act_on(got[address][0])
        for address in AREAS["reading"]:
            assert "Dals-Ed" in _to_act_on(got[address][0])
    finally:
        pipeline.close()


def _to_act_on(summary: EmailMessage) -> str:
    return plain_body(summary).split("\nAnsökningar:\n", 1)[1].split("\nHanterade", 1)[0]


# --- an application corrected to another area ---------------------------------------------------

def test_a_correction_moving_the_area_tells_the_previous_consultants_once(
        pipeline: Pipeline, smtp: tuple[Collector, int]) -> None:
    collector = smtp[0]
    goteborg = _ids(pipeline)["Göteborg"]
    done = correct(pipeline, goteborg, "Inriktning", "Läsfrämjande", by="anna")
    assert done.value == "reading"
    got = _delivered(pipeline, collector)
    assert sorted(got) == sorted([*AREAS["digital"], *AREAS["reading"]])
    # The previous area's consultant: it went to the reading area's, and why; by its name.
    (moved,) = got[AREAS["digital"][0]]
    assert _moved(moved) == [
        f"Rättat av anna: Strategisk inriktning är nu ”{READING}” (var ”{DIGITAL}”).",
        f"Går nu till: {', '.join(AREAS['reading'])}."]
    # The new area's, who had nothing: the whole report, with the original.
    for address in AREAS["reading"]:
        (whole,) = got[address]
        assert str(whole["Subject"]).startswith("Ansökan: Göteborg – ")
        assert len(list(whole.iter_attachments())) == 1
        assert f"Inriktning:   {READING}" in plain_body(whole)

    # `show` names the areas too, never their codes.
    code, shown, _ = command(pipeline, "show", str(goteborg))
    assert code == 0
    (line,) = [line for line in shown.splitlines() if "anna: Strategisk inriktning" in line]
    assert f"”{READING}” (var ”{DIGITAL}”)" in line, line

    # No longer theirs: a later correction is told to the reading area's consultants alone.
    correct(pipeline, goteborg, "Sökt belopp", "20 000", by="anna")
    got = _delivered(pipeline, collector)
    assert sorted(got) == sorted(AREAS["reading"])
    assert all(str(m["Subject"]).startswith("Uppdaterad rapport") for (m,) in got.values())

    # Back to digital: its consultant has it again, whole, and is told it is back; the reading
    # area's are told it went.
    correct(pipeline, goteborg, "strategic_area", "Digitala", by="anna")
    got = _delivered(pipeline, collector)
    assert sorted(got) == sorted([*AREAS["digital"], *AREAS["reading"]])
    (back,) = got[AREAS["digital"][0]]
    assert plain_body(back).startswith("En ansökan om stöd till biblioteksutveckling som gick "
                                       "vidare från dig går till dig igen")
    assert len(list(back.iter_attachments())) == 1
    for address in AREAS["reading"]:
        (moved,) = got[address]
        assert _moved(moved)[-1] == f"Går nu till: {AREAS['digital'][0]}."
    with pipeline.store.session() as session:
        kinds = session.execute(select(Message.kind, func.count()).where(
            Message.application_id == goteborg).group_by(Message.kind)).all()
    assert dict(kinds) == {"report": 3, "update": 1, "moved": 2}


def test_a_new_version_naming_another_area_tells_the_previous_consultants(
        home: Home, smtp: tuple[Collector, int]) -> None:
    builder = _Builder(2026)
    first = builder.app("Ale", theme=THEMES[0])
    assert first.expected["strategic_area"] == "open"
    second = first.tick(("learning",), FORM_AREAS["learning"])
    for name, app in (("ale-1.docx", first), ("ale-2.docx", second)):
        builder.docx(name, app, template_document(app), "template")
    pipeline = open_pipeline(home)
    try:
        for case in builder.cases:
            drop(home, [case])
            intake_pass(pipeline)
        got = _received(smtp[0])
    finally:
        pipeline.close()
    assert sorted(got) == sorted([*AREAS["open"], *AREAS["learning"]])
    (report,) = got[AREAS["learning"][0]]
    assert str(report["Subject"]).startswith("Ansökan: Ale – ")
    first_report, moved = got[AREAS["open"][0]]
    assert "version 2" not in str(first_report["Subject"])
    assert _moved(moved) == [f"Version 2 har kommit in med inriktningen {FORM_AREAS['learning']}.",
                             f"Går nu till: {AREAS['learning'][0]}."]


# --- correct: nothing changed, several fields, the corrector -----------------------------------

def _recorded(pipeline: Pipeline) -> tuple[int, int]:
    """The corrections and the messages the store holds."""
    with pipeline.store.session() as session:
        return (session.scalar(select(func.count()).select_from(Correction)) or 0,
                session.scalar(select(func.count()).select_from(Message)) or 0)


def test_a_correction_to_what_the_field_says_changes_nothing(
        pipeline: Pipeline, smtp: tuple[Collector, int]) -> None:
    goteborg = str(_ids(pipeline)["Göteborg"])
    before = _recorded(pipeline)
    # As read, in other words than the form's: the municipality, the area by another of its names.
    code, out, err = command(pipeline, "correct", goteborg, "Kommun", "Göteborg",
                             "Inriktning", "Digitalt bibliotek", "--by", "anna")
    assert (code, err) == (0, "")
    assert out == (f"Ansökan {goteborg} (Göteborg – "
                   f"{out.split('(Göteborg – ', 1)[1].split('):', 1)[0]}): inget ändrat; Kommun är "
                   f"redan ”Göteborg” och Strategisk inriktning är redan ”{DIGITAL}”.\n")
    assert _recorded(pipeline) == before
    # As corrected before: the second correction to the same amount is none.
    code, out, _ = command(pipeline, "correct", goteborg, "Sökt belopp", "25 000")
    assert code == 0 and out.startswith(f"Ansökan {goteborg} (")
    assert ": rättat Sökt belopp till ”25 000 kr”;" in out
    corrected = _recorded(pipeline)
    code, out, _ = command(pipeline, "correct", goteborg, "requested_amount_sek", "25000")
    assert code == 0 and out.startswith(f"Ansökan {goteborg} (")
    assert out.endswith(": inget ändrat; Sökt belopp är redan ”25 000 kr”.\n")
    assert _recorded(pipeline) == corrected
    got = _delivered(pipeline, smtp[0])
    assert [len(messages) for messages in got.values()] == [1]  # the one real correction's update


def test_several_fields_in_one_command_make_one_update_listing_each(
        pipeline: Pipeline, smtp: tuple[Collector, int],
        corpus: list[Case]) -> None:
    vara = str(_ids(pipeline)["Vara"])
    (form,) = by_name(corpus, "docx_ofullstandig_vara.docx")
    before = _recorded(pipeline)
    for args, said in (
            (("Sökt belopp", "30 000", "Bibliotek"), "error: Bibliotek: a field without a value"),
            (("Sökt belopp", "30 000", "requested_amount_sek", "20 000"),
             "error: Sökt belopp (requested_amount_sek) anges två gånger"),
            (("Inriktning", "Det okända biblioteket"),
             "error: ”Det okända biblioteket” är ingen av de fyra strategiska inriktningarna. "
             "Inget ändrades."),
            (("Sökt belopp", "30 000", "E-post", "nils"), "error: E-postadressen ”nils”")):
        code, out, err = command(pipeline, "correct", vara, *args)
        assert (code, out) == (2, "") and err.startswith(said) and err.count("\n") == 1, err
    assert _recorded(pipeline) == before

    code, out, err = command(pipeline, "correct", vara, "Sökt belopp", "30 000",
                             "E-post", "nils@vara.example.org", "Kommun", "Vara", "--by", "anna")
    assert (code, err) == (0, "") and out.count("\n") == 1
    assert out.startswith(f"Ansökan {vara} (Vara – ")
    assert ": rättat Sökt belopp till ”30 000 kr” och E-post till ”nils@vara.example.org” " \
        "(Kommun är redan ”Vara”)" in out
    assert _recorded(pipeline)[0] == before[0] + 2
    got = _delivered(pipeline, smtp[0])
    assert sorted(got) == list(AREAS["learning"])
    (update,) = got[AREAS["learning"][0]]
    assert str(update["Subject"]).startswith("Uppdaterad rapport: Vara – ")
    changed = _listed(plain_body(update), "Ändrat")
    # Vara's form leaves both empty.
    assert form.fields.get("requested_amount_sek") is form.fields.get("contact_email") is None
    assert [line for line in changed if line.startswith("Rättat av")] == [
        "Rättat av anna: Sökt belopp är nu ”30\u00a0000” (var tomt).",
        "Rättat av anna: E-post är nu ”nils@vara.example.org” (var tomt)."]

    from cli_support import blankett_here

    usage = blankett_here("correct", "--help").stdout.splitlines()[0]
    assert usage.replace("{", "").replace("}", "") == \
        "Usage: blankett correct [OPTIONS] ID FIELD VALUE [FIELD VALUE]..."


@pytest.mark.parametrize("by", ["Läsa Ett", "reading1", "READING1@example.org"])
def test_the_corrector_is_not_mailed_their_own_correction_while_others_are_told(
        pipeline: Pipeline, smtp: tuple[Collector, int], by: str) -> None:
    assert NAMES[AREAS["reading"][0]] == "Läsa Ett"
    alingsas = _ids(pipeline)["Alingsås"]
    correct(pipeline, alingsas, "Sökt belopp", "50 000", by=by)
    got = _delivered(pipeline, smtp[0])
    assert sorted(got) == [AREAS["reading"][1]]
    assert f"Rättat av {by}: Sökt belopp" in plain_body(got[AREAS["reading"][1]][0])
    # Still theirs: the next correction, by another, is an update to both.
    correct(pipeline, alingsas, "Sökt belopp", "45 000", by="anna")
    got = _delivered(pipeline, smtp[0])
    assert sorted(got) == sorted(AREAS["reading"])
    assert all(str(m["Subject"]).startswith("Uppdaterad rapport") for (m,) in got.values())


def test_the_corrector_alone_with_the_report_is_told_as_before(
        pipeline: Pipeline, smtp: tuple[Collector, int]) -> None:
    """Nobody else has Vara's report (one consultant in its area): its update goes to them."""
    vara = _ids(pipeline)["Vara"]
    correct(pipeline, vara, "Sökt belopp", "30 000", by="learning")
    got = _delivered(pipeline, smtp[0])
    assert sorted(got) == list(AREAS["learning"])
    with pytest.raises(Refused):
        correct_fields(pipeline, vara, [("Sökt belopp", "30 000"), ("E-post", "nils")], by="learning")
    with pipeline.store.session() as session:
        raw = session.scalars(select(Message.raw).order_by(Message.id.desc())).first()
    assert raw is not None and "Rättat av learning" in plain_body(parse(raw))
