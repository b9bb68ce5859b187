"""Headings nobody listed: their words, their place among the parts of the form, and the shape of
their answers, each with what it may and may not decide."""

from __future__ import annotations

import pytest

from blankett.extractors.context import ReadContext
from blankett.extractors.placement import Section
from blankett.extractors.segment import Block, heading_like, instruction_like, segment
from blankett.models.records import Extraction, FoundValue, Source
from blankett.models.shapes import Shapes
from blankett.models.spec import load_routing, load_spec
from blankett.models.validation import Rules, check

SPEC = load_spec()
CONTEXT = ReadContext(SPEC)
MATCHER = CONTEXT.matcher
VOCABULARY = MATCHER.vocabulary


@pytest.mark.parametrize(("text", "key"), [
    ("Personalens kompetenshöjning", "knowledge"),  # a compound split: kompetens + höjning
    ("Ansvarigt bibliotek", "library"),  # the head of a noun phrase is last
    ("Telefonnummer till kontaktpersonen", "contact_phone"),  # not the contact's name
    ("Why this project?", "purpose"),
    ("Vem riktar sig satsningen till?", "target_group"),
    ("Hur ska arbetet leva vidare när projekttiden är slut?", "continuation"),
    ("Vad bidrar biblioteket med själv i personaltid?", "own_contribution"),
])
def test_words_specific_to_one_field_name_it(text: str, key: str) -> None:
    found = MATCHER.match(text, loose=True)
    assert found is not None and found.key == key, (text, found)
    assert found.by == "words" and 0.5 <= found.confidence < 1


@pytest.mark.parametrize("text", ["Text1", "Övrigt", "Bilaga 2", "Sida 3 av 4"])
def test_words_of_no_field_name_nothing(text: str) -> None:
    found = MATCHER.match(text, loose=True)
    assert found is None or not found.key


def test_listed_labels_say_label_or_synonym_with_full_confidence() -> None:
    label = MATCHER.match("Målgrupp")
    synonym = MATCHER.match("Målgrupper")
    assert label is not None and (label.by, label.confidence) == ("label", 1.0)
    assert synonym is not None and synonym.by == "synonym" and synonym.confidence > 0.9


@pytest.mark.parametrize(("text", "expected"), [
    ("Vad vill ni uppnå?", True),
    ("3.2 Personalens lärande", True),
    ("Summa som söks, max 50 000 kr", True),
    ("April 2026: planering", False),  # a timeline's line, however it is set out
    ("Vecka 12–14", False),
    ("48 tkr", False),
    ("anna.berg@ale.se", False),
    ("Vi vill nå fler. Därför söker vi.", False),
    ("- en punkt i en lista", False),
])
def test_what_can_be_a_heading(text: str, expected: bool) -> None:
    assert heading_like(text) is expected


@pytest.mark.parametrize(("text", "faint", "expected"), [
    ("Beskriv kort varför ni vill genomföra aktiviteten.", False, True),
    ("(max 1 000 tecken)", False, True),
    ("Vilka ska aktiviteten nå?", True, True),
    ("Vilka ska aktiviteten nå?", False, False),  # a question in plain type may be a heading
    ("Vi vill nå unga vuxna.", True, False),
])
def test_instructions(text: str, faint: bool, expected: bool) -> None:
    assert instruction_like(text, faint) is expected


def _values(*blocks: Block) -> dict[str, str]:
    found = segment(blocks, MATCHER, "docx-paragraphs", CONTEXT.placer)
    return {key: value.value for key, value in found.values.items()}


def test_a_heading_nobody_could_name_takes_the_field_its_place_leaves() -> None:
    found = segment([
        Block("Syfte", emphasised=True), Block("Vi vill nå fler."),
        Block("Hit vill vi komma", emphasised=True), Block("Fler besökare på kvällarna."),
        Block("Kunskap", emphasised=True), Block("Om meröppna bibliotek."),
    ], MATCHER, "docx-paragraphs", CONTEXT.placer)
    goal = found.values["goal"]
    assert goal.value == "Fler besökare på kvällarna."
    assert goal.source.matched_by == "position" and goal.source.label == "Hit vill vi komma"
    assert goal.source.confidence < 1


def test_a_missing_part_leaves_a_gap_instead_of_shifting_the_others() -> None:
    # The goal's heading is absent altogether: the unknown heading after "Kunskap" is the
    # timeline, not the goal.
    values = _values(
        Block("Syfte", emphasised=True), Block("Vi vill nå fler."),
        Block("Kunskap", emphasised=True), Block("Om meröppna bibliotek."),
        Block("Så här gör vi", emphasised=True), Block("Mars 2026: planering."),
        Block("Målgrupp", emphasised=True), Block("Unga vuxna."),
    )
    assert values["timeline"] == "Mars 2026: planering."
    assert "goal" not in values


def test_a_heading_set_out_as_one_ends_the_answer_above_whatever_its_words() -> None:
    values = _values(
        Block("Syfte", emphasised=True), Block("Vi vill nå fler."),
        Block("Något helt annat", emphasised=True), Block("Text som inte hör till syftet."),
    )
    assert values["purpose"] == "Vi vill nå fler."


def test_what_nothing_places_is_kept_as_unplaced() -> None:
    found = segment([
        Block("Kommun", emphasised=True), Block("Ale"),
        Block("Kontaktperson", emphasised=True), Block("Eva Berg"),
        Block("Syfte", emphasised=True), Block("Att nå fler."),
        Block("Mål", emphasised=True), Block("Fler besök."),
        Block("Målgrupp", emphasised=True), Block("Unga vuxna."),
        Block("Övriga upplysningar", emphasised=True), Block("Vi har sökt detta stöd förut."),
        Block("Underskrift", emphasised=True), Block("Datum: 2026-03-01"),
        Block("Namnförtydligande: Eva Berg"),
        Block("Bilaga: budget", emphasised=True), Block("Summa: 75 000 kr"),
    ], MATCHER, "docx-paragraphs", CONTEXT.placer)
    assert "requested_amount_sek" not in found.values  # an appendix's total is no amount sought
    headings = {u.heading for u in found.unplaced}
    assert "Övriga upplysningar" in headings
    assert any("75 000" in u.text for u in found.unplaced)


def test_a_timeline_keeps_its_dated_lines_and_its_lead_ins() -> None:
    values = _values(
        Block("Tidsplan", emphasised=True),
        Block("April 2026: planering", lead="April 2026:"),
        Block("Vecka 34–38: prövoperiod"),
        Block("Så här går det till:"),
        Block("Målgrupp", emphasised=True), Block("Unga vuxna."),
    )
    assert values["timeline"] == "April 2026: planering\nVecka 34–38: prövoperiod\nSå här går det till:"


def test_a_bold_label_nobody_listed_splits_its_line() -> None:
    values = _values(Block("Kommun: Ale"),
                     Block("Den vi ringer: 0303-33 00 00", lead="Den vi ringer:"))
    assert values["contact_phone"] == "0303-33 00 00"


def test_shape_chooses_among_applicant_fields_but_never_overrules_a_label() -> None:
    shapes = Shapes(SPEC)
    assert shapes.fits("anna@ale.example.org") == {"contact_email": 3.0}
    assert max(shapes.fits("Ale kommun"), key=shapes.fits("Ale kommun").get) == "municipality"
    # "Telefon" says phone: a name under it stays the phone's (wrong) answer, to be reported.
    values = _values(Block("Telefon", emphasised=True), Block("Anna Berg"))
    assert values == {"contact_phone": "Anna Berg"}


def test_an_instruction_under_a_heading_is_no_answer() -> None:
    values = _values(
        Block("Målgrupp", emphasised=True),
        Block("Vilka ska aktiviteten nå?", faint=True),
        Block("Syfte", emphasised=True),
        Block("Beskriv kort varför (max 1 000 tecken).", faint=True),
        Block("Vi vill nå fler."),
    )
    assert values.get("target_group", "") == ""
    assert values["purpose"] == "Vi vill nå fler."


def _checked(values: dict[str, tuple[str, Source]], unplaced: list[tuple[str, str]] = ()) -> object:
    from blankett.models.records import Unplaced

    extraction = Extraction(kind="docx", values={
        k: FoundValue(value=v, source=s) for k, (v, s) in values.items()},
        unplaced=[Unplaced(heading=h, text=t) for h, t in unplaced])
    return check(extraction, Rules(SPEC, load_routing(), 2026))


def test_a_field_placed_by_position_warns_and_asks_for_review() -> None:
    by_place = Source(method="docx-paragraphs", label="Hit vill vi komma", matched_by="position",
                      confidence=0.6)
    checked = _checked({"goal": ("Fler besökare på kvällarna i hela kommunen.", by_place)})
    warnings = [p for p in checked.problems if p.code == "guessed_label"]
    assert [p.field for p in warnings] == ["goal"]
    assert "Hit vill vi komma" in warnings[0].message and warnings[0].severity == "warning"
    assert checked.needs_review


def test_a_missing_part_points_to_the_unplaced_heading_it_may_be_under() -> None:
    checked = _checked({}, unplaced=[("Vart vill vi nå?", "Fler besökare.")])
    goal = next(p for p in checked.problems if p.field == "goal")
    assert goal.code == "missing" and "kanske under rubriken ”Vart vill vi nå?”" in goal.message
    assert checked.needs_review


def test_a_joint_application_names_the_lead_municipality_and_adds_the_other_to_partners() -> None:
    label = Source(method="docx-table", label="Kommun")
    checked = _checked({
        "municipality": ("Lerums kommun (huvudsökande) tillsammans med Alingsås kommun", label),
        "partners": ("Folkhögskolan", Source(method="docx-table", label="Samverkanspartner")),
    })
    assert checked.fields["municipality"] == "Lerum"
    assert checked.fields["partners"] == "Folkhögskolan\nAlingsås"
    assert not [p for p in checked.problems if p.field == "municipality"]


def test_between_two_labels_a_name_goes_to_the_contact_rather_than_the_library() -> None:
    sections = [Section("Kommun", MATCHER.match("Kommun"), ["Ale"]),
                Section("Vem svarar på frågor", None, ["Anna Berg"]),
                Section("E-post", MATCHER.match("E-post"), ["anna@ale.example.org"])]
    found = CONTEXT.placer.place(sections)
    contact = found.values["contact_name"]
    assert contact.value == "Anna Berg" and contact.source.matched_by == "shape"
    assert "library" not in found.values
