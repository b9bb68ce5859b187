"""The Word reader on small documents built in the test: a real .docx from python-docx, with raw
WordprocessingML injected for what python-docx cannot write (controls, fields, text boxes)."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zipfile
import zlib
from html import escape

import docx
import pytest
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml.ns import qn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from blankett.extractors.context import ReadContext
from blankett.extractors.docx import read_docx
from blankett.extractors.errors import Unreadable
from blankett.models.records import FoundValue
from blankett.models.spec import load_spec

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_NS = (f'xmlns:w="{W}" xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml" '
       'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
       'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
       'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
       'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
       'xmlns:v="urn:schemas-microsoft-com:vml"')
PLACEHOLDER = "Klicka eller tryck här för att ange text."


@pytest.fixture(scope="module")
def context() -> ReadContext:
    return ReadContext(load_spec())


# ---- building documents


def r(text: str, bold: bool = False) -> str:
    props = "<w:rPr><w:b/></w:rPr>" if bold else ""
    return f'<w:r>{props}<w:t xml:space="preserve">{escape(text)}</w:t></w:r>'


def p(*content: str, style: str | None = None, bullet: bool = False) -> str:
    props = f'<w:pStyle w:val="{style}"/>' if style else ""
    if bullet:
        props += '<w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr>'
    runs = "".join(c if c.startswith("<") else r(c) for c in content)
    return f"<w:p><w:pPr>{props}</w:pPr>{runs}</w:p>"


def tc(*paragraphs: str, shade: str | None = None, span: int = 1, vmerge: str | None = None) -> str:
    props = f'<w:gridSpan w:val="{span}"/>' if span > 1 else ""
    if vmerge is not None:
        props += f'<w:vMerge w:val="{vmerge}"/>' if vmerge else "<w:vMerge/>"
    if shade:
        props += f'<w:shd w:val="clear" w:color="auto" w:fill="{shade}"/>'
    body = "".join(x if x.startswith("<") else p(x) for x in paragraphs) or "<w:p/>"
    return f"<w:tc><w:tcPr>{props}</w:tcPr>{body}</w:tc>"


def tr(*cells: str) -> str:
    return "<w:tr>" + "".join(c if c.startswith("<w:tc") or c.startswith("<w:sdt") else tc(c)
                              for c in cells) + "</w:tr>"


def tbl(*rows: str) -> str:
    return f"<w:tbl><w:tblPr/>{''.join(rows)}</w:tbl>"


def label_rows(*pairs: tuple[str, str]) -> str:
    return "".join(tr(tc(label, shade="D9D9D9"), value) for label, value in pairs)


def sdt(content: str, tag: str | None = None, alias: str | None = None, placeholder: bool = False,
        extra: str = "") -> str:
    props = f'<w:alias w:val="{alias}"/>' if alias else ""
    props += f'<w:tag w:val="{tag}"/>' if tag else ""
    props += "<w:showingPlcHdr/>" if placeholder else ""
    return f"<w:sdt><w:sdtPr>{props}{extra}</w:sdtPr><w:sdtContent>{content}</w:sdtContent></w:sdt>"


def checkbox(checked: bool, glyph: str = "☐") -> str:
    state = "1" if checked else "0"
    box = (f'<w14:checkbox><w14:checked w14:val="{state}"/>'
           '<w14:checkedState w14:val="2612" w14:font="MS Gothic"/>'
           '<w14:uncheckedState w14:val="2610" w14:font="MS Gothic"/></w14:checkbox>')
    return sdt(r(glyph), extra=box)


def legacy(kind: str, data: str, result: str = "") -> str:
    """A legacy form field: begin (with its data), the code, and the result runs."""
    begin = f'<w:r><w:fldChar w:fldCharType="begin"><w:ffData>{data}</w:ffData></w:fldChar></w:r>'
    code = f'<w:r><w:instrText xml:space="preserve"> {kind} </w:instrText></w:r>'
    separate = '<w:r><w:fldChar w:fldCharType="separate"/></w:r>' if result else ""
    return begin + code + separate + (r(result) if result else "") + \
        '<w:r><w:fldChar w:fldCharType="end"/></w:r>'


def text_box(*paragraphs: str) -> str:
    """A text box as Word writes it: DrawingML for new readers, the same box in VML as fallback."""
    content = "<w:txbxContent>" + "".join(paragraphs) + "</w:txbxContent>"
    return ('<w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wp:anchor>'
            '<a:graphic><a:graphicData><wps:wsp><wps:txbx>' + content +
            '</wps:txbx></wps:wsp></a:graphicData></a:graphic></wp:anchor></w:drawing></mc:Choice>'
            '<mc:Fallback><w:pict><v:shape><v:textbox>' + content +
            '</v:textbox></v:shape></w:pict></mc:Fallback></mc:AlternateContent></w:r>')


def build(*fragments: str, doc: docx.document.Document | None = None) -> bytes:
    doc = doc or docx.Document()
    body = doc.element.body
    end = body.find(qn("w:sectPr"))
    for fragment in fragments:
        for element in etree.fromstring(f"<w:root {_NS}>{fragment}</w:root>"):
            end.addprevious(element)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def read(data: bytes, context: ReadContext) -> dict[str, FoundValue]:
    return read_docx(data, context).values


def answers(data: bytes, context: ReadContext) -> dict[str, str]:
    return {key: found.value for key, found in read(data, context).items()}


def replace_part(data: bytes, name: str, content: bytes | None) -> bytes:
    """The same package with one part replaced (or left out when content is None)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename != name:
                dst.writestr(info, src.read(info))
        if content is not None:
            dst.writestr(name, content)
    return out.getvalue()


# ---- tables


def test_template_table_with_merged_shaded_labels_lists_and_boxes(context: ReadContext) -> None:
    data = build(tbl(
        tr(tc("Sökande", shade="A6A6A6", span=2)),
        label_rows(("Kommun", "Mölndals kommun"), ("Bibliotek / biblioteksenhet", "Stadsbiblioteket")),
        tr(tc("Strategisk inriktning", shade="D9D9D9", vmerge="restart"), "☐ Det öppna biblioteket"),
        tr(tc(shade="D9D9D9", vmerge=""), "☒ Det digitala biblioteket"),
        tr(tc(shade="D9D9D9", vmerge=""), "☐ Det lärande biblioteket"),
        tr(tc(shade="D9D9D9"), tc()),
        tr(tc("Beskrivning av aktiviteten", shade="A6A6A6", span=2)),
        tr(tc(p("Syfte med aktiviteten"), p("Beskriv varför ni vill genomföra aktiviteten."),
              shade="D9D9D9"),
           tc(p("Fler unga ska hitta till biblioteket."), p("Vi vill:"),
              p("ordna spelkvällar", bullet=True), p("starta en kodklubb", bullet=True))),
        tr(tc("Mål", shade="D9D9D9"), tc(p("Beskriv vad ni vill uppnå."), p("Dubbelt så många lån."))),
        tr(tc("Målgrupp", shade="D9D9D9"), "Unga 13–19 år"),
    ))
    assert answers(data, context) == {
        "municipality": "Mölndals kommun",
        "library": "Stadsbiblioteket",
        "strategic_area": "☐ Det öppna biblioteket\n☒ Det digitala biblioteket\n☐ Det lärande biblioteket",
        "purpose": "Fler unga ska hitta till biblioteket.\nVi vill:\n- ordna spelkvällar\n"
                   "- starta en kodklubb",
        "goal": "Dubbelt så många lån.",
        "target_group": "Unga 13–19 år",
    }
    found = read(data, context)["purpose"]
    assert (found.source.method, found.source.label) == ("docx-table", "Syfte med aktiviteten")


def test_four_cells_a_row_are_two_pairs(context: ReadContext) -> None:
    data = build(tbl(
        tr("Kommun", "Ale", "Telefon", "0303-33 00 00"),
        tr("Kontaktperson:", "Anna Berg", "E-post", "anna.berg@example.org"),
        tr("Sökt belopp (kr)", "", "Datum", "2025-03-01"),
    ))
    assert answers(data, context) == {
        "municipality": "Ale", "contact_phone": "0303-33 00 00", "contact_name": "Anna Berg",
        "contact_email": "anna.berg@example.org", "requested_amount_sek": "", "date": "2025-03-01",
    }


def test_one_column_table_label_rows_and_boxed_cells(context: ReadContext) -> None:
    data = build(tbl(
        tr("Syfte med aktiviteten"),
        tr(tc(p("Att nå fler läsare."), p("Särskilt äldre."))),
        tr("Mål"),
        tr("Fler lån."),
        tr(tc(p("Målgrupp", ""), p("Äldre i hemtjänsten."))),
        tr("Kommun: Lerum"),
    ))
    assert answers(data, context) == {
        "purpose": "Att nå fler läsare.\nSärskilt äldre.", "goal": "Fler lån.",
        "target_group": "Äldre i hemtjänsten.", "municipality": "Lerum",
    }


def test_header_row_with_answers_below(context: ReadContext) -> None:
    data = build(tbl(tr("Kommun", "Bibliotek", "Kontaktperson"), tr("Tjörn", "Skärhamns bibliotek", "Eva")))
    assert answers(data, context) == {
        "municipality": "Tjörn", "library": "Skärhamns bibliotek", "contact_name": "Eva"}


def test_header_row_whose_answers_name_their_municipality(context: ReadContext) -> None:
    # "Alingsås kommun" in the first cell of the answer row is no label, though "kommun" is.
    data = build(tbl(tr("Kommun", "Bibliotek", "Kontaktperson", "E-post", "Telefon"),
                     tr("Alingsås kommun", "Alingsås bibliotek", "Johan Åberg",
                        "johan.aberg@alingsas.example.org", "0322-61 60 00")))
    assert answers(data, context) == {
        "municipality": "Alingsås kommun", "library": "Alingsås bibliotek",
        "contact_name": "Johan Åberg", "contact_email": "johan.aberg@alingsas.example.org",
        "contact_phone": "0322-61 60 00"}


def test_shaded_unknown_label_hides_its_answer(context: ReadContext) -> None:
    data = build(tbl(
        tr(tc("Organisationsnummer", shade="D9D9D9"), "Mål: inget som hör hit"),
        tr(tc("Mål", shade="D9D9D9"), "Fler besök"),
    ))
    assert answers(data, context) == {"goal": "Fler besök"}


def test_answer_cell_that_reads_like_a_label_stays_an_answer(context: ReadContext) -> None:
    data = build(tbl(tr("Syfte", "Mål: att fler ska läsa.")))
    assert answers(data, context) == {"purpose": "Mål: att fler ska läsa."}


# ---- content controls


def test_inline_control_is_text_where_it_stands(context: ReadContext) -> None:
    data = build(p(r("Kommun: "), sdt(r("Ale"))),
                 tbl(tr("Kontaktperson", tc(sdt(p("Anna Berg"))))))
    found = read(data, context)
    assert found["municipality"].value == "Ale"
    assert found["contact_name"].value == "Anna Berg"
    assert found["contact_name"].source.method == "docx-content-control"


def test_block_control_named_by_tag_or_alias(context: ReadContext) -> None:
    data = build(
        sdt(p("Vi vill nå fler.") + p("Och behålla dem."), tag="purpose", alias="Syfte med aktiviteten"),
        sdt(p("Fler lån."), alias="Mål"),
        sdt(p("Ingen etikett alls."), tag="Text1"),
    )
    found = read(data, context)
    assert {k: v.value for k, v in found.items()} == {
        "purpose": "Vi vill nå fler.\nOch behålla dem.", "goal": "Fler lån."}
    assert found["purpose"].source.method == "docx-content-control"
    assert found["purpose"].source.label == "Syfte med aktiviteten"


def test_control_showing_its_placeholder_is_empty(context: ReadContext) -> None:
    data = build(
        sdt(p(PLACEHOLDER), tag="goal", placeholder=True),
        tbl(tr("Målgrupp", tc(sdt(p(PLACEHOLDER), placeholder=True))),
            tr("Kommun", tc(p(sdt(r(PLACEHOLDER), placeholder=True))))),
    )
    assert answers(data, context) == {"goal": "", "target_group": "", "municipality": ""}


def test_dropdown_shows_its_choice(context: ReadContext) -> None:
    choices = ('<w:dropDownList><w:listItem w:displayText="Det öppna biblioteket" w:value="open"/>'
               '<w:listItem w:displayText="Det digitala biblioteket" w:value="digital"/></w:dropDownList>')
    data = build(p(sdt(r("Det digitala biblioteket"), tag="strategic_area", extra=choices)))
    found = read(data, context)["strategic_area"]
    assert (found.value, found.source.method) == ("Det digitala biblioteket", "docx-content-control")


def test_checkbox_controls_render_their_state_not_their_glyph(context: ReadContext) -> None:
    options = [(False, "Det öppna biblioteket"), (True, "Det digitala biblioteket"),
               (False, "Det lärande biblioteket")]
    cell = tc(*(p(checkbox(on, glyph="☐"), r(" " + name)) for on, name in options))
    data = build(tbl(tr("Strategisk inriktning", cell)))
    assert answers(data, context) == {"strategic_area": "☐ Det öppna biblioteket\n"
                                      "☒ Det digitala biblioteket\n☐ Det lärande biblioteket"}


def test_checkbox_controls_named_after_the_field(context: ReadContext) -> None:
    state = '<w14:checkbox><w14:checked w14:val="{}"/></w14:checkbox>'
    box_on = sdt(r("☐"), tag="strategic_area", extra=state.format("true"))
    box_off = sdt(r("☒"), tag="strategic_area", extra=state.format("0"))
    data = build(p(box_off, r(" Det öppna biblioteket")), p(box_on, r(" Det lärande biblioteket")))
    assert answers(data, context) == {
        "strategic_area": "☐ Det öppna biblioteket\n☒ Det lärande biblioteket"}


# ---- legacy form fields


def test_legacy_text_fields_and_checkboxes(context: ReadContext) -> None:
    text = '<w:name w:val="Text1"/><w:enabled/><w:textInput/>'
    checked = '<w:name w:val="Kryss1"/><w:checkBox><w:default w:val="0"/><w:checked/></w:checkBox>'
    by_default = '<w:name w:val="Kryss2"/><w:checkBox><w:sizeAuto/><w:default w:val="1"/></w:checkBox>'
    unchecked = '<w:name w:val="Kryss3"/><w:checkBox><w:default w:val="1"/><w:checked w:val="0"/>' \
        "</w:checkBox>"
    data = build(
        tbl(tr("Kommun", tc(p(legacy("FORMTEXT", text, "Borås")))),
            tr("Strategisk inriktning", tc(
                p(legacy("FORMCHECKBOX", checked), r(" Det öppna biblioteket")),
                p(legacy("FORMCHECKBOX", by_default), r(" Det digitala biblioteket")),
                p(legacy("FORMCHECKBOX", unchecked), r(" Det lärande biblioteket"))))),
        p(legacy("FORMTEXT", '<w:name w:val="purpose"/><w:textInput/>', "Läsglädje för alla.")),
    )
    found = read(data, context)
    assert {k: v.value for k, v in found.items()} == {
        "municipality": "Borås",
        "strategic_area": "☒ Det öppna biblioteket\n☒ Det digitala biblioteket\n☐ Det lärande biblioteket",
        "purpose": "Läsglädje för alla.",
    }
    assert found["municipality"].source.method == "docx-legacy-field"
    assert (found["purpose"].source.method, found["purpose"].source.label) == ("docx-legacy-field", "purpose")


# ---- text boxes and wrappers


def test_text_box_is_read_once(context: ReadContext) -> None:
    data = build(p("Syfte med aktiviteten", style="Heading1"),
                 p(text_box(p("Vi vill läsa mer."), p("Tillsammans."))),
                 p(text_box(p("Mål", style="Heading1"), p("Fler lån."))))
    found = read(data, context)
    assert {k: v.value for k, v in found.items()} == {
        "purpose": "Vi vill läsa mer.\nTillsammans.", "goal": "Fler lån."}
    assert found["purpose"].source.method == "docx-textbox"


def test_wrappers_count_deleted_and_hidden_text_does_not(context: ReadContext) -> None:
    smart = (f'<w:smartTag w:uri="urn:schemas-microsoft-com:office:smarttags" w:element="place">'
             f'{r("Ale")}</w:smartTag>')
    custom = f'<w:customXml w:element="name">{r("Anna")}</w:customXml>'
    deleted = '<w:del w:id="1" w:author="x"><w:r><w:delText>Lerum</w:delText></w:r></w:del>'
    inserted = f'<w:ins w:id="2" w:author="x">{r(" Berg")}</w:ins>'
    hidden = '<w:r><w:rPr><w:vanish/></w:rPr><w:t>dold</w:t></w:r>'
    link = f'<w:hyperlink r:id="rId9" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">{r("anna@example.org")}</w:hyperlink>'
    simple = f'<w:fldSimple w:instr=" DATE ">{r("2025-03-01")}</w:fldSimple>'
    data = build(
        p(r("Kommun: "), deleted, smart, hidden),
        p(r("Kontaktperson: "), custom, inserted),
        p(r("E-post: "), link),
        p(r("Telefon:"), '<w:r><w:tab/><w:t>031</w:t><w:noBreakHyphen/><w:t>12</w:t></w:r>'),
        p(r("Datum: "), simple),
        p(r("Strategisk inriktning: "), '<w:r><w:sym w:font="Wingdings" w:char="F078"/></w:r>',
          r(" Det digitala biblioteket")),
    )
    assert answers(data, context) == {
        "municipality": "Ale", "contact_name": "Anna Berg", "contact_email": "anna@example.org",
        "contact_phone": "031-12", "date": "2025-03-01", "strategic_area": "☒ Det digitala biblioteket",
    }


# ---- free documents


def test_free_document_with_headings_bold_lines_lists_and_small_tables(context: ReadContext) -> None:
    doc = docx.Document()
    data = build(
        p("Ansökan om stöd till biblioteksutveckling", style="Title"),
        p("Kommun: Vänersborg"),
        p(r("Kontaktperson", bold=True)),
        p("Lisa Ek"),
        p("1. Syftet med aktiviteten:", style="Heading1"),
        p("Vi vill göra biblioteket till en mötesplats."),
        p("Målgruppen är barn och deras föräldrar, men alla är välkomna."),
        p(r("2. Mål", bold=True)),
        p("Att 200 familjer besöker oss.", bullet=True),
        p("Att lånen ökar.", bullet=True),
        p("Beskriv målgruppen", style="Heading2"),
        p("Familjer med barn 0–6 år."),
        p("Planerat arbete och tidsplan", style="Heading1"),
        tbl(tr("Aktivitet", "Månad"), tr("Workshop", "mars"), tr("Utvärdering", "juni")),
        doc=doc,
    )
    found = read(data, context)
    assert {k: v.value for k, v in found.items()} == {
        "municipality": "Vänersborg",
        "contact_name": "Lisa Ek",
        "purpose": "Vi vill göra biblioteket till en mötesplats.\n"
                   "Målgruppen är barn och deras föräldrar, men alla är välkomna.",
        "goal": "- Att 200 familjer besöker oss.\n- Att lånen ökar.",
        "target_group": "Familjer med barn 0–6 år.",
        "timeline": "Aktivitet | Månad\nWorkshop | mars\nUtvärdering | juni",
    }
    assert found["purpose"].source == found["purpose"].source.model_copy(
        update={"method": "docx-paragraphs", "label": "1. Syftet med aktiviteten:"})


def test_goal_and_target_group_are_not_confused(context: ReadContext) -> None:
    data = build(p("Målgrupp", style="Heading1"), p("Pensionärer."),
                 p("Mål", style="Heading1"), p("Fler besök."))
    assert answers(data, context) == {"target_group": "Pensionärer.", "goal": "Fler besök."}


def test_tables_and_headings_merge_structured_answers_win(context: ReadContext) -> None:
    data = build(
        tbl(label_rows(("Kommun", "Ale"), ("Syfte med aktiviteten", "Ur tabellen."), ("Mål", ""))),
        p("Mål", style="Heading1"), p("Ur rubriken."),
        p("Syfte", style="Heading1"), p("Ska inte vinna."),
    )
    assert answers(data, context) == {
        "municipality": "Ale", "purpose": "Ur tabellen.", "goal": "Ur rubriken."}


def test_empty_last_row_is_not_filled_by_text_after_the_table(context: ReadContext) -> None:
    data = build(tbl(label_rows(("Kommun", "Ale"), ("Datum", ""))),
                 p("Skicka ansökan till kulturutveckling@example.org."))
    assert answers(data, context) == {"municipality": "Ale", "date": ""}


def test_header_and_footer_are_never_read(context: ReadContext) -> None:
    doc = docx.Document()
    doc.sections[0].header.paragraphs[0].text = "Datum: 2024-01-01"
    doc.sections[0].footer.paragraphs[0].text = "Kommun: Borås"
    data = build(p("Kommun: Ale"), doc=doc)
    assert answers(data, context) == {"municipality": "Ale"}


def test_bold_label_run_then_answer_in_one_paragraph(context: ReadContext) -> None:
    data = build(p(r("Viktigt", bold=True), r(" att veta")),
                 p(r("Kommun", bold=True), r(" Alingsås")),
                 p(r("Kontaktperson", bold=True), r(": Per Ek")))
    assert answers(data, context) == {"municipality": "Alingsås", "contact_name": "Per Ek"}


def test_bold_from_styles_and_explicit_off(context: ReadContext) -> None:
    doc = docx.Document()
    doc.styles.add_style("Etikett", WD_STYLE_TYPE.PARAGRAPH).font.bold = True
    not_bold = '<w:r><w:rPr><w:b w:val="0"/></w:rPr><w:t>Förväntade reslutat</w:t></w:r>'
    data = build(
        p("Syfte", style="Heading1"), p("Att läsa mer."),
        # A misspelt label only counts inside an answer when it stands out as a label.
        p(not_bold, style="Etikett"), p("Mer text i syftet."),
        p("Förväntade reslutat", style="Etikett"), p("Fler lån."),
        doc=doc,
    )
    assert answers(data, context) == {
        "purpose": "Att läsa mer.\nFörväntade reslutat\nMer text i syftet.", "expected_results": "Fler lån."}


def test_headings_by_swedish_style_id_and_outline_level(context: ReadContext) -> None:
    outline = '<w:p><w:pPr><w:outlineLvl w:val="1"/></w:pPr><w:r><w:t>Förväntade reslutat</w:t></w:r></w:p>'
    data = build(p("Syfte", style="Rubrik1"), p("Läsa."), outline, p("Fler lån."))
    assert answers(data, context) == {"purpose": "Läsa.", "expected_results": "Fler lån."}


def test_table_of_contents_is_not_read_as_labels(context: ReadContext) -> None:
    toc = ('<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
           '<w:r><w:instrText xml:space="preserve"> TOC \\o "1-3" \\h </w:instrText></w:r>'
           '<w:r><w:fldChar w:fldCharType="separate"/></w:r>')
    data = build(
        p(toc, r("Syfte med aktiviteten\t2")),
        p(r("Mål\t3"), '<w:r><w:fldChar w:fldCharType="end"/></w:r>'),
        p('<w:fldSimple w:instr=" TOC "><w:r><w:t>Målgrupp 4</w:t></w:r></w:fldSimple>'),
        p("Syfte med aktiviteten", style="Heading1"), p("Läsglädje."),
        p("Mål", style="Heading1"), p("Fler lån."),
    )
    assert answers(data, context) == {"purpose": "Läsglädje.", "goal": "Fler lån."}


def test_deleted_row_and_merged_columns(context: ReadContext) -> None:
    deleted = ('<w:tr><w:trPr><w:del w:id="5" w:author="x"/></w:trPr>'
               + tc("Kommun") + tc(p('<w:del w:id="6" w:author="x"><w:r><w:delText>Lerum</w:delText>'
                                     "</w:r></w:del>")) + "</w:tr>")
    old_merge = '<w:tc><w:tcPr><w:hMerge/></w:tcPr><w:p/></w:tc>'
    data = build(tbl(
        deleted,
        '<w:tr><w:trPr><w:gridBefore w:val="1"/></w:trPr>' + tc("Kommun") + tc("Ale") + "</w:tr>",
        "<w:tr>" + tc("Mål") + '<w:tc><w:tcPr><w:hMerge w:val="restart"/></w:tcPr>'
        + p("Fler lån.") + "</w:tc>" + old_merge + "</w:tr>",
    ))
    assert answers(data, context) == {"municipality": "Ale", "goal": "Fler lån."}


def test_label_rows_with_options_in_cells_and_a_row_level_control(context: ReadContext) -> None:
    row = sdt(tr("Målgrupp", "Barn"), tag="Rad1")
    data = build(tbl(
        tr(tc("Strategisk inriktning", span=4)),
        tr("☐", "Det öppna biblioteket", "☒", "Det digitala biblioteket"),
        row,
    ))
    assert answers(data, context) == {
        "strategic_area": "☐ Det öppna biblioteket\n☒ Det digitala biblioteket", "target_group": "Barn"}


def test_timeline_table_in_an_answer_keeps_its_rows(context: ReadContext) -> None:
    data = build(
        p("Stöd från Kulturutveckling", style="Heading1"),
        p("Handledning och medfinansiering:"),
        tbl(tr("Post", "Kronor"), tr("Föreläsare", "10 000"), tr("Summa", "30 000")),
        p("Egen insats", style="Heading1"), p("200 timmar."),
    )
    assert answers(data, context) == {
        "requested_support": "Handledning och medfinansiering:\nPost | Kronor\nFöreläsare | 10 000\n"
                             "Summa | 30 000",
        "own_contribution": "200 timmar.",
    }


# ---- broken and hostile files


def test_missing_document_part_is_damaged(context: ReadContext) -> None:
    data = replace_part(build(p("Kommun: Ale")), "word/document.xml", None)
    with pytest.raises(Unreadable, match="damaged Word file"):
        read_docx(data, context)


def test_dtd_in_document_is_refused(context: ReadContext) -> None:
    xml = (f'<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY x "Ale">]>'
           f'<w:document xmlns:w="{W}"><w:body><w:p><w:r><w:t>Kommun: &x;</w:t></w:r></w:p>'
           "</w:body></w:document>").encode()
    with pytest.raises(Unreadable, match="DTD"):
        read_docx(replace_part(build(), "word/document.xml", xml), context)


@pytest.mark.parametrize("levels", [60, 1000])
def test_deep_nesting_is_refused_without_recursion_error(context: ReadContext, levels: int) -> None:
    inner = p("Kommun: Ale")
    for _ in range(levels):
        inner = f"<w:tbl><w:tr><w:tc>{inner}</w:tc></w:tr></w:tbl><w:p/>"
    xml = f'<w:document xmlns:w="{W}"><w:body>{inner}</w:body></w:document>'.encode()
    with pytest.raises(Unreadable):
        read_docx(replace_part(build(), "word/document.xml", xml), context)


def test_a_document_far_longer_than_a_form_is_refused(context: ReadContext) -> None:
    xml = f'<w:document xmlns:w="{W}"><w:body>{"<w:p/>" * 50_001}</w:body></w:document>'.encode()
    with pytest.raises(Unreadable, match="more than 50000 paragraphs"):
        read_docx(replace_part(build(), "word/document.xml", xml), context)


def test_strict_ooxml_namespace(context: ReadContext) -> None:
    strict = "http://purl.oclc.org/ooxml/wordprocessingml/main"
    xml = (f'<w:document xmlns:w="{strict}"><w:body>'
           f"{tbl(label_rows(('Kommun', 'Skövde')))}{p('Mål', style='Heading1')}{p('Fler lån.')}"
           "</w:body></w:document>")
    data = replace_part(build(), "word/document.xml", xml.encode())
    assert answers(data, context) == {"municipality": "Skövde", "goal": "Fler lån."}


def test_not_a_wordprocessing_document(context: ReadContext) -> None:
    data = replace_part(build(), "word/document.xml", b"<html><body>Kommun: Ale</body></html>")
    with pytest.raises(Unreadable, match="damaged Word file"):
        read_docx(data, context)


def _understated(data: bytes, name: str, hidden: bytes) -> bytes:
    """The package with `hidden` deflated after the member's bytes while its local header and
    the zip's directory still declare the member's own size and checksum."""
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        member = src.read(name)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
            for info in src.infolist():
                dst.writestr(info.filename, member + hidden if info.filename == name
                             else src.read(info))
    packed = bytearray(out.getvalue())
    sizes = struct.pack("<I", zlib.crc32(member)), struct.pack("<I", len(member))
    with zipfile.ZipFile(io.BytesIO(bytes(packed))) as written:
        info = written.getinfo(name)
    packed[info.header_offset + 14: info.header_offset + 18] = sizes[0]
    packed[info.header_offset + 22: info.header_offset + 26] = sizes[1]
    entry = packed.index(b"PK\x01\x02")
    while packed[entry + 46: entry + 46 + len(name)] != name.encode():
        entry = packed.index(b"PK\x01\x02", entry + 4)
    packed[entry + 16: entry + 20] = sizes[0]
    packed[entry + 24: entry + 28] = sizes[1]
    return bytes(packed)


def test_a_member_that_understates_its_size_is_read_no_further(context: ReadContext) -> None:
    """python-docx inflates a member whole before it cuts it to the declared size; the reader
    hands it members already inflated in bounded reads, so 60 MB hidden behind the declared end
    of the document are never inflated."""
    data = _understated(build(p("Kommun: Ale")), "word/document.xml", b" " * (60 << 20))
    assert len(data) < 1 << 20
    tracemalloc.start()
    try:
        found = answers(data, context)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert found == {"municipality": "Ale"}
    assert peak < 20 << 20


def test_a_member_packed_as_word_never_packs_is_refused(context: ReadContext) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(build(p("Kommun: Ale")))) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_BZIP2) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    with pytest.raises(Unreadable, match="packed in a way Word never uses"):
        read_docx(out.getvalue(), context)


# ---- any mix of the constructs above


_WORDS = st.sampled_from(["Kommun", "Kommun:", "Ale", "Mål", "Målgrupp", "Syfte med aktiviteten",
                          "☒", "☐", " ", "text", "Datum: 2025-01-01", "Sökande", "x" * 30])
_RUNS = st.one_of(
    _WORDS.map(r),
    _WORDS.map(lambda w: r(w, bold=True)),
    st.just('<w:del w:id="1" w:author="x"><w:r><w:delText>RADERAD</w:delText></w:r></w:del>'),
    st.just('<w:r><w:instrText xml:space="preserve"> FALTKOD </w:instrText></w:r>'),
    st.sampled_from(["begin", "separate", "end"]).map(
        lambda kind: f'<w:r><w:fldChar w:fldCharType="{kind}"/></w:r>'),
    st.sampled_from(["<w:textInput/>", "<w:checkBox><w:checked/></w:checkBox>",
                     '<w:ddList><w:result w:val="9"/><w:listEntry w:val="Ale"/></w:ddList>']).map(
        lambda data: f'<w:r><w:fldChar w:fldCharType="begin"><w:ffData><w:name w:val="Kommun"/>'
                     f"{data}</w:ffData></w:fldChar></w:r>"),
    st.just('<w:r><w:br/><w:tab/><w:sym w:font="Wingdings" w:char="F0A8"/></w:r>'),
)


def _inline(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    wrap = st.sampled_from(["<w:hyperlink>{}</w:hyperlink>", "<w:smartTag>{}</w:smartTag>",
                            "<w:ins>{}</w:ins>", '<w:fldSimple w:instr=" X ">{}</w:fldSimple>'])
    many = st.lists(children, max_size=4).map("".join)
    return st.one_of(
        st.tuples(wrap, many).map(lambda t: t[0].format(t[1])),
        st.tuples(many, st.sampled_from([None, "purpose", "Mål"]), st.booleans()).map(
            lambda t: sdt(t[0], tag=t[1], placeholder=t[2])),
        many.map(lambda content: sdt(content, extra='<w14:checkbox><w14:checked w14:val="1"/>'
                                                    "</w14:checkbox>")),
    )


_INLINE = st.recursive(_RUNS, _inline, max_leaves=12)
_PARAGRAPH = st.lists(_INLINE, max_size=4).map(lambda runs: p(*runs))


def _blocks(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    many = st.lists(children, min_size=1, max_size=3).map("".join)
    cell = st.tuples(many, st.sampled_from([None, "", "restart"]), st.integers(1, 3),
                     st.sampled_from([None, "D9D9D9"])).map(
        lambda t: tc(t[0], vmerge=t[1], span=t[2], shade=t[3]))
    row = st.lists(cell, min_size=1, max_size=4).map(lambda cells: tr(*cells))
    return st.one_of(
        st.lists(row, min_size=1, max_size=4).map(lambda rows: tbl(*rows)),
        many.map(lambda content: sdt(content, tag="goal")),
        many.map(lambda content: p(text_box(content))),
        many.map(lambda content: f"<w:customXml>{content}</w:customXml>"),
    )


_BODY = st.lists(st.recursive(_PARAGRAPH, _blocks, max_leaves=10), max_size=6).map("".join)


def _package(document: bytes,
             main: str = "vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
             relationships: str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
             ) -> bytes:
    """The least a reader needs: the content types, the package's relationship to the main part
    and the main part (no styles: headings by style id only)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as package:
        package.writestr("[Content_Types].xml", (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Override PartName="/word/document.xml" '
            f'ContentType="application/{main}"/></Types>'))
        package.writestr("_rels/.rels", (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{relationships}officeDocument" '
            'Target="word/document.xml"/></Relationships>'))
        package.writestr("word/document.xml", document)
    return out.getvalue()


def test_the_least_package_is_read(context: ReadContext) -> None:
    xml = f"<w:document {_NS}><w:body>{p('Kommun: Ale')}</w:body></w:document>".encode()
    assert answers(_package(xml), context) == {"municipality": "Ale"}


def test_strict_relationships_and_a_macro_document_are_read(context: ReadContext) -> None:
    strict = "http://purl.oclc.org/ooxml/wordprocessingml/main"
    xml = f'<w:document xmlns:w="{strict}"><w:body>{p("Kommun: Ale")}</w:body></w:document>'.encode()
    data = _package(xml, relationships="http://purl.oclc.org/ooxml/officeDocument/relationships/")
    assert answers(data, context) == {"municipality": "Ale"}
    # python-docx keeps a part of a content type it does not know (a .docm's) as bytes.
    xml = f"<w:document {_NS}><w:body>{p('Kommun: Ale')}</w:body></w:document>".encode()
    macros = _package(xml, main="vnd.ms-word.document.macroEnabled.main+xml")
    assert answers(macros, context) == {"municipality": "Ale"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_BODY)
def test_any_document_is_read_or_refused_and_never_shows_hidden_text(context: ReadContext,
                                                                      body: str) -> None:
    xml = f"<w:document {_NS}><w:body>{body}</w:body></w:document>".encode()
    try:
        found = read_docx(_package(xml), context).values
    except Unreadable:
        return
    for value in found.values():
        assert "RADERAD" not in value.value and "FALTKOD" not in value.value
        assert value.source.label
