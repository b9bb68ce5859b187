"""The consultants' e-mails: completeness reports and triage summaries, rendered from the view records."""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from blankett.fixtures.corpus import Case
from blankett.flows.mail.reports import (
    format_amount,
    message_id,
    render_report,
    render_summary,
    status_word,
    triage_order,
)
from blankett.flows.mail.views import ApplicationView, CompletenessReport, ProblemView, TriageSummary

SENDER = "Blankett <blankett@example.org>"
PDF = b"%PDF-1.7\n% fake original\n" + bytes(range(256))
ARCHIVED = "2026/03/0042-ansokan-amal.pdf"

SCANNED = ProblemView(None, "scanned", "error",
                      "Filen är en inskannad bild utan text och kan inte läsas automatiskt. "
                      "Läs den manuellt eller be om en ifylld Word- eller PDF-blankett.")
MISSING_GOAL = ProblemView("Mål", "missing", "error", "Mål saknas.")
MISSING_TARGET = ProblemView("Målgrupp", "missing", "error", "Målgrupp saknas.")
SHORT_PURPOSE = ProblemView("Syfte med aktiviteten", "too_short", "warning",
                            "Syfte med aktiviteten är mycket kort (3 ord); beskriv utförligare.")


def complete_app(**changes: object) -> ApplicationView:
    app = ApplicationView(
        id=42, municipality="Åmål", library="Åmåls bibliotek", title="Läslust i Åmål", area="reading",
        area_name="Det läs- och skrivfrämjande biblioteket", amount=45000, version=1, status="complete",
        problems=(),
        answers=(
            ("Kommun", "Åmål"),
            ("Aktivitetens namn", "Läslust i Åmål"),
            ("Syfte med aktiviteten",
             "Att väcka läslust hos unga.\nSärskilt <script>alert('x')</script> & co."),
            ("Sökt belopp (kr)", "45 000"),
        ),
        missing=(), file_name="Ansökan Åmål.pdf", archived_path=ARCHIVED,
        received_at=datetime(2026, 3, 15, 13, 2, tzinfo=UTC),  # 14:02 in Stockholm (CET)
    )
    return replace(app, **changes)


def incomplete_v2() -> ApplicationView:
    return complete_app(
        municipality="Mölndal", title="Läslust i Mölndal", version=2, status="incomplete",
        # Deliberately warning first: the report must list errors before warnings.
        problems=(SHORT_PURPOSE, MISSING_GOAL, MISSING_TARGET), missing=("Mål", "Målgrupp"),
        file_name="ansokan-v2.docx", changes=("Sökt belopp har fyllts i.", "Kontaktperson har ändrats."),
    )


def unreadable() -> ApplicationView:
    return ApplicationView(
        id=None, municipality=None, library=None, title=None, area=None, area_name=None, amount=None,
        version=1, status="unreadable", problems=(SCANNED,), answers=(), missing=(), file_name="scan.pdf",
        archived_path="2026/11/scan.pdf", received_at=datetime(2026, 11, 20, 7, 30, tzinfo=UTC),
    )


def report_of(app: ApplicationView, **changes: object) -> CompletenessReport:
    report = CompletenessReport(key=f"report:v{app.id}:{app.version}", application=app,
                                recipients=("eva.fred@example.org", "katarina.larson@example.org"))
    return replace(report, **changes)


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    original = tmp_path / ARCHIVED
    original.parent.mkdir(parents=True)
    original.write_bytes(PDF)
    return tmp_path


def text_of(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content()


def parsed(message: EmailMessage) -> EmailMessage:
    """The message as a mail program sees it: serialised and parsed back."""
    return email.message_from_bytes(message.as_bytes(), policy=email.policy.default)


# --- the completeness report ------------------------------------------------------------------------

def test_complete_report_headers(archive: Path) -> None:
    message = parsed(render_report(report_of(complete_app()), sender=SENDER, archive_root=archive))
    assert message["Subject"] == "Ansökan: Åmål – Läslust i Åmål (komplett)"
    assert [a.addr_spec for a in message["To"].addresses] == [
        "eva.fred@example.org", "katarina.larson@example.org"]
    assert message["From"].addresses[0].addr_spec == "blankett@example.org"
    assert message["Date"] == "Sun, 15 Mar 2026 14:02:00 +0100"  # the time received, not the time sent
    assert message["Message-ID"] == message_id("report:v42:1", SENDER)
    assert message["Message-ID"].endswith("@example.org>")  # the sender's domain
    assert message["Auto-Submitted"] == "auto-generated"  # no out-of-office answers
    assert message["X-Blankett-Key"] == "report:v42:1"
    assert message.get_content_type() == "multipart/mixed"


def test_complete_report_body(archive: Path) -> None:
    message = render_report(report_of(complete_app()), sender=SENDER, archive_root=archive)
    text = text_of(message)
    for expected in ("Kommun:       Åmål", "Bibliotek:    Åmåls bibliotek", "Aktivitet:    Läslust i Åmål",
                     "Inriktning:   Det läs- och skrivfrämjande biblioteket", "Sökt belopp:  45 000 kr",
                     "Status:       komplett", "Version:      1\n", "Inga fel eller varningar.",
                     "Inkommen:   2026-03-15 14:02", f"Arkiverad:  {ARCHIVED}", "Originalet är bifogat."):
        assert expected in text
    assert "ersätter" not in text
    # A multi-line answer sits indented under its label.
    assert "  Syfte med aktiviteten:\n      Att väcka läslust hos unga.\n      Särskilt <script>" in text
    assert "  Kommun: Åmål\n" in text


def test_html_part_escapes_applicant_text(archive: Path) -> None:
    html = html_of(render_report(report_of(complete_app()), sender=SENDER, archive_root=archive))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co." in html
    assert '<html lang="sv">' in html and "45 000 kr" in html and ">komplett</strong>" in html


def test_attachment_keeps_non_ascii_name_and_bytes(archive: Path) -> None:
    message = render_report(report_of(complete_app()), sender=SENDER, archive_root=archive)
    assert b"filename*=utf-8''Ans%C3%B6kan%20%C3%85m%C3%A5l.pdf" in message.as_bytes()  # RFC 2231
    (attachment,) = parsed(message).iter_attachments()
    assert attachment.get_filename() == "Ansökan Åmål.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == PDF


@pytest.mark.parametrize(("head", "content_type"), [
    (b"PK\x03\x04rest-of-a-docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    (b"\x00\x01 something else", "application/octet-stream"),
])
def test_attachment_type_is_sniffed_not_taken_from_the_name(archive: Path, head: bytes,
                                                             content_type: str) -> None:
    (archive / ARCHIVED).write_bytes(head)
    message = render_report(report_of(complete_app()), sender=SENDER, archive_root=archive)
    (attachment,) = message.iter_attachments()
    assert attachment.get_content_type() == content_type


def test_absolute_archived_path_needs_no_root(archive: Path) -> None:
    app = complete_app(archived_path=str(archive / ARCHIVED))
    message = render_report(report_of(app), sender=SENDER)
    assert len(list(message.iter_attachments())) == 1


@pytest.mark.parametrize(("case", "note"), [
    ("not_requested", "Originalet finns i arkivet."),
    ("not_found", "Originalet kunde inte hittas i arkivet och är inte bifogat."),
    ("too_large", "Originalet är större än 10 MB och bifogas inte; det finns i arkivet."),
])
def test_original_only_referenced_when_not_attachable(archive: Path, case: str, note: str) -> None:
    report = report_of(complete_app())
    if case == "not_requested":
        report = replace(report, attach_original=False)
    elif case == "not_found":
        (archive / ARCHIVED).unlink()
    else:
        with (archive / ARCHIVED).open("r+b") as handle:  # sparse: large on paper, cheap on disk
            handle.truncate(10 * 1024 * 1024 + 1)
    message = render_report(report, sender=SENDER, archive_root=archive)
    assert list(message.iter_attachments()) == []
    assert message.get_content_type() == "multipart/alternative"
    assert note in text_of(message)
    assert ARCHIVED in text_of(message)


def test_incomplete_second_version(archive: Path) -> None:
    message = render_report(report_of(incomplete_v2()), sender=SENDER, archive_root=archive)
    assert message["Subject"] == "Ansökan: Mölndal – Läslust i Mölndal (ofullständig, 2 fel, version 2)"
    text = text_of(message)
    assert "Status:       ofullständig" in text
    assert "Version:      2, ersätter version 1" in text
    assert ("Ändringar mot förra versionen:\n"
            "  - Sökt belopp har fyllts i.\n  - Kontaktperson har ändrats.") in text
    assert "Fel (2):\n  - Mål saknas.\n  - Målgrupp saknas.\n\nVarningar (1):\n  - Syfte med" in text
    html = html_of(message)
    assert html.index("Mål saknas.") < html.index("Målgrupp saknas.") < html.index("mycket kort")
    assert ">2, ersätter version 1<" in html


def test_unreadable_file(archive: Path) -> None:
    message = render_report(report_of(unreadable()), sender=SENDER, archive_root=archive)
    assert message["Subject"] == "Oläslig fil: scan.pdf"
    text = text_of(message)
    assert "inte kan läsas automatiskt" in text
    assert "Status:       oläslig" in text
    assert "Kommun:       –" in text and "Sökt belopp:  –" in text
    # No version of anything yet, as `blankett status` says it.
    assert "Version:      –\n" in text
    assert re.search(r">Version</th>\s*<td[^>]*>–</td>", html_of(message)), html_of(message)
    assert f"Fel (1):\n  - {SCANNED.message}" in text
    assert "Inga svar kunde läsas." in text
    assert "Originalet kunde inte hittas" in text  # no file at 2026/11/scan.pdf in this archive


def test_line_break_in_applicant_title_stays_out_of_headers(archive: Path) -> None:
    app = complete_app(title="Läslust\r\nBcc: everyone@example.org")
    message = render_report(report_of(app), sender=SENDER, archive_root=archive)
    assert message["Subject"] == "Ansökan: Åmål – Läslust Bcc: everyone@example.org (komplett)"
    assert parsed(message)["Bcc"] is None


def test_report_without_recipients_is_a_bug() -> None:
    with pytest.raises(ValueError, match="no recipients"):
        render_report(report_of(complete_app(), recipients=()), sender=SENDER)


def test_rendering_is_deterministic(archive: Path) -> None:
    report = report_of(incomplete_v2())
    first = render_report(report, sender=SENDER, archive_root=archive).as_bytes()
    second = render_report(report, sender=SENDER, archive_root=archive).as_bytes()
    assert first == second
    other = render_report(replace(report, key="report:v43:1"), sender=SENDER, archive_root=archive)
    assert other["Message-ID"] != message_id(report.key, SENDER)


def test_message_is_seven_bit(archive: Path) -> None:
    # Quoted-printable bodies and encoded headers pass SMTP servers without 8BITMIME.
    message = render_report(report_of(incomplete_v2()), sender=SENDER, archive_root=archive)
    assert message.as_bytes().isascii()


def test_naive_times_are_taken_as_utc(archive: Path) -> None:
    app = complete_app(received_at=datetime(2026, 7, 1, 10, 0))
    message = render_report(report_of(app), sender=SENDER, archive_root=archive)
    assert message["Date"] == "Wed, 01 Jul 2026 12:00:00 +0200"
    assert "Inkommen:   2026-07-01 12:00" in text_of(message)


# --- the triage summary -----------------------------------------------------------------------------

def summary_of(apps: tuple[ApplicationView, ...], new: tuple[str, ...] = ()) -> TriageSummary:
    return TriageSummary(
        key="summary:2026-11-25:orjan.hellstrom@example.org", consultant="orjan.hellstrom@example.org",
        consultant_name="Örjan Hellström", year=2026, applications=apps, new_since_last=new,
        generated_at=datetime(2026, 11, 25, 6, 0, tzinfo=UTC),
    )


def digital_apps() -> tuple[ApplicationView, ...]:
    digital = {"area": "digital", "area_name": "Det digitala biblioteket"}
    return (
        complete_app(municipality="Öckerö", title="Digitala verkstäder", **digital),
        complete_app(municipality="Vara", title="Kodklubb", **digital),
        replace(incomplete_v2(), municipality="Ale", title="Digital delaktighet",
                received_at=datetime(2026, 11, 24, 9, 0, tzinfo=UTC), **digital),
        unreadable(),
        complete_app(municipality="Åmål", title="Surfplattor för alla", **digital),
        complete_app(municipality="Borås", title="Appar för äldre", status="incomplete",
                     problems=(MISSING_GOAL,), missing=("Mål",), **digital),
    )


def test_summary_headers() -> None:
    message = parsed(render_summary(summary_of(digital_apps()), sender=SENDER))
    assert message["Subject"] == ("Sammanställning 2026-11-25: 2 ofullständiga, 1 oläslig, 3 kompletta "
                                  "(Det digitala biblioteket)")
    (to,) = message["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Örjan Hellström", "orjan.hellstrom@example.org")
    assert message["Date"] == "Wed, 25 Nov 2026 07:00:00 +0100"
    assert message["X-Blankett-Key"] == "summary:2026-11-25:orjan.hellstrom@example.org"


def test_summary_text_table() -> None:
    text = text_of(render_summary(summary_of(digital_apps(), new=("Ale: version 2 har kommit in.",)),
                                  sender=SENDER))
    assert text.startswith("Hej Örjan Hellström!\n")
    assert "Nytt sedan förra sammanställningen:\n  - Ale: version 2 har kommit in." in text
    rows = [line for line in text.splitlines() if line.endswith(("2026-03-15", "2026-11-20", "2026-11-24"))]
    # Unreadable, incomplete, complete; within each in Swedish alphabetical order (Å, Ö after V).
    assert [row.split()[0] for row in rows] == ["–", "Ale", "Borås", "Vara", "Åmål", "Öckerö"]
    # The status column holds "komplett, med varning" whole, as the reports and `show` say it.
    assert rows[1] == "  Ale           Digital delaktighet            2   ofullständig" + " " * 10 + \
        "2026-11-24"
    assert len({row.index("2026-") for row in rows}) == 1  # the columns line up
    assert "                Brister: Mål, Målgrupp\n" in text
    assert "Brister: Filen är en inskannad bild" in text
    assert "Totalt 6 ansökningar: 2 ofullständiga, 1 oläslig, 3 kompletta." in text


def test_summary_html_table_escapes() -> None:
    apps = (*digital_apps(), complete_app(municipality="Tibro", title="<b>Fet</b> & glad", area="digital",
                                          area_name="Det digitala biblioteket"))
    html = html_of(render_summary(summary_of(apps), sender=SENDER))
    assert "<th>Kommun</th><th>Aktivitet</th><th>Version</th><th>Status</th><th>Brister</th>" in html
    assert "&lt;b&gt;Fet&lt;/b&gt; &amp; glad" in html and "<b>Fet" not in html
    assert html.index("scan.pdf") < html.index("Ale") < html.index("Öckerö")
    assert "<p>Hej Örjan Hellström!</p>" in html
    assert "Totalt 7 ansökningar: 2 ofullständiga, 1 oläslig, 4 kompletta." in html


def test_empty_summary() -> None:
    message = render_summary(replace(summary_of(()), consultant_name=None), sender=SENDER)
    assert message["Subject"] == "Sammanställning 2026-11-25: inga ansökningar"
    text = text_of(message)
    assert text.startswith("Hej!\n")
    assert "Nytt sedan förra sammanställningen:\n  Inget nytt." in text
    assert "Inga ansökningar har kommit in ännu." in text
    assert "Totalt 0 ansökningar." in text


def test_summary_of_several_areas_names_none() -> None:
    apps = (complete_app(), complete_app(municipality="Vara", area="digital",
                                         area_name="Det digitala biblioteket"))
    message = render_summary(summary_of(apps), sender=SENDER)
    assert message["Subject"] == "Sammanställning 2026-11-25: 2 kompletta"


def test_summary_is_deterministic() -> None:
    summary = summary_of(digital_apps())
    first, second = (render_summary(summary, sender=SENDER).as_bytes() for _ in range(2))
    assert first == second


# --- shared formatting ------------------------------------------------------------------------------

def test_formatting_filters() -> None:
    assert format_amount(45000) == "45 000 kr"
    assert format_amount(500) == "500 kr"
    assert format_amount(None) == "–"
    assert [status_word("complete"), status_word("incomplete", 2), status_word("unreadable", 0)] == [
        "komplett", "ofullständiga", "oläsliga"]


def test_triage_order_puts_unknown_municipality_last_in_its_group() -> None:
    apps = (complete_app(municipality=None), complete_app(municipality="Ale"), unreadable(),
            complete_app(municipality="Ale", status="incomplete"))
    assert [(a.status, a.municipality) for a in triage_order(apps)] == [
        ("unreadable", None), ("incomplete", "Ale"), ("complete", "Ale"), ("complete", None)]


def test_a_report_written_later_is_dated_when_written(archive: Path) -> None:
    # A rerun or a new warning weeks after the form came: mail programs sort it by its Date.
    later = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
    message = parsed(render_report(report_of(complete_app(), written_at=later), sender=SENDER,
                                   archive_root=archive))
    assert message["Date"] == "Wed, 25 Nov 2026 10:30:00 +0100"


# --- warnings, updates, what a problem is called ----------------------------------------------------

SECOND = ProblemView("Aktivitetens namn", "second_application", "warning",
                     "Åmål har även lämnat in ansökan ”Bokcirklar” för 2026. Endast en ansökan per "
                     "kommun och år kan beviljas.")
TWO_AREAS = ProblemView("Strategisk inriktning", "area_ambiguous", "error",
                        "Flera strategiska inriktningar är valda (Det öppna biblioteket, Det digitala "
                        "biblioteket); välj en. Ansökan går till de övergripande kontaktpersonerna.")


def test_a_warning_beside_a_complete_application_is_shown_in_the_summary() -> None:
    warned = complete_app(problems=(SECOND,))
    summary = render_summary(summary_of((warned, complete_app(municipality="Vara", id=43))),
                             sender=SENDER)
    text = text_of(summary)
    # Vara sorts first; Åmål's row is the table's last.
    row = text[text.index("  Åmål "):].split("\n\n")[0]
    assert " ".join(row.split()).endswith(f"Varning: {SECOND.message}")
    assert "Varning" not in text[text.index("  Vara "):text.index("  Åmål ")]
    html = html_of(summary)
    assert "<th>Varningar</th>" in html
    cells = html[html.index("<td>Åmål</td>"):].split("</tr>", 1)[0]
    assert "komplett, med varning</strong>" in cells and "Endast en ansökan per kommun" in cells


def test_two_areas_ticked_do_not_read_as_missing() -> None:
    app = complete_app(status="incomplete", problems=(TWO_AREAS, MISSING_GOAL), missing=("Mål",),
                       area=None, area_name=None)
    text = text_of(render_summary(summary_of((app,)), sender=SENDER))
    assert "Brister: Mål, flera inriktningar valda\n" in text
    assert "Strategisk inriktning" not in text


def test_an_update_says_so_says_only_what_changed_and_attaches_nothing(archive: Path) -> None:
    app = complete_app(problems=(SECOND,), changes=(f"Ny varning: {SECOND.message}",))
    later = datetime(2026, 4, 2, 8, 0, tzinfo=UTC)
    message = render_report(report_of(app, kind="update", written_at=later), sender=SENDER,
                            archive_root=archive)
    assert message["Subject"] == "Uppdaterad rapport: Åmål – Läslust i Åmål (komplett, med varning)"
    assert list(message.iter_attachments()) == []
    text = text_of(message)
    assert text.startswith("Rapporten om en ansökan om stöd till biblioteksutveckling har ändrats.")
    assert f"Ändrat:\n  - Ny varning: {SECOND.message}\n\n" in text
    assert "Status:       komplett, med varning" in text
    # Not the whole report again: no answers, no lists of what it said before.
    for absent in ("har kommit in", "Svar i ansökan", "Varningar (", "Originalet är bifogat"):
        assert absent not in text
    html = html_of(message)
    assert "har ändrats" in html and "Ny varning:" in html and "Svar i ansökan" not in html


def test_a_first_version_has_no_changes_section(archive: Path) -> None:
    app = complete_app(changes=("Nu komplett.",))
    for message in (text_of(render_report(report_of(app), sender=SENDER, archive_root=archive)),
                    html_of(render_report(report_of(app), sender=SENDER, archive_root=archive))):
        assert "Ändringar mot förra versionen" not in message and "Nu komplett." not in message
        assert "har kommit in" in message


def test_a_changed_report_to_someone_new_is_whole_and_carries_the_original(archive: Path) -> None:
    app = complete_app(changes=("Läst om med nya regler eller ny läsare.", "Går nu till: ny@example.org."))
    message = render_report(report_of(app, kind="forwarded"), sender=SENDER, archive_root=archive)
    assert message["Subject"] == "Ansökan: Åmål – Läslust i Åmål (komplett)"
    assert len(list(message.iter_attachments())) == 1
    text = text_of(message)
    assert text.startswith("Rapporten om en ansökan om stöd till biblioteksutveckling har ändrats")
    assert "Ändrat:\n  - Läst om med nya regler eller ny läsare." in text
    assert "Svar i ansökan:" in text and "Ändringar mot förra versionen" not in text


def test_a_new_versions_changes_tell_new_changed_and_removed_answers(corpus: list[Case]) -> None:
    """An answer given where the last version had none is new, not changed; one taken away is
    said so; only an answer that was there and differs is changed."""
    from blankett.flows.store.database import Result
    from blankett.flows.store.ledger import changes
    from blankett.models.spec import load_spec

    spec = load_spec()
    labels = {f.key: f.label for f in spec.fields}
    (case,) = [c for c in corpus if c.name == "docx_mall_goteborg.docx"]
    first = dict.fromkeys(spec.keys) | dict(case.fields)
    assert first["partners"] and first["contact_phone"] and first["library"]
    before = Result(fields={**first, "partners": None}, problems=[], complete=True)
    after = Result(fields={**first, "contact_phone": None, "library": "Stadsbiblioteket Hammarkullen"},
                   problems=[], complete=True)
    assert changes(before, after, spec) == (
        f"Nya svar: {labels['partners']}.", f"Ändrade svar: {labels['library']}.",
        f"Borttagna svar: {labels['contact_phone']}.")


def test_an_unreadable_file_in_the_summary_has_no_version() -> None:
    """As in `blankett status`: "–", never "1"."""
    summary = TriageSummary(key="summary:2026-11-25:eva.fred@example.org",
                            consultant="eva.fred@example.org", consultant_name=None, year=2026,
                            applications=(unreadable(),), new_since_last=(),
                            generated_at=datetime(2026, 11, 25, 6, tzinfo=UTC))
    message = render_summary(summary, sender=SENDER)
    (row,) = [line for line in text_of(message).splitlines() if "scan.pdf" in line]
    assert row.split()[2:4] == ["–", "oläslig"], row
    assert re.search(r"<td>scan.pdf</td>\s*<td>–</td>", html_of(message)), html_of(message)
