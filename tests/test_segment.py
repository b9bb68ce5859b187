"""Answers between labels in a flow of paragraphs, as free documents and printed PDFs give them."""

from __future__ import annotations

from blankett.extractors.context import ReadContext
from blankett.extractors.segment import Block, segment
from blankett.models.spec import load_spec

CONTEXT = ReadContext(load_spec())
MATCHER = CONTEXT.matcher


def _answers(*blocks: Block) -> dict[str, str]:
    found = segment(blocks, MATCHER, "docx-paragraphs", CONTEXT.placer)
    return {k: v.value for k, v in found.values.items()}


def test_answers_run_until_the_next_label_across_pages() -> None:
    got = _answers(
        Block("Syfte", page=1, emphasised=True),
        Block("Syftet med aktiviteten är att öka läsandet.", page=1),
        Block("Det ska ske i hela kommunen.", page=2),
        Block("Mål", page=2, emphasised=True),
        Block("Fler läsare under året.", page=2),
    )
    assert got == {"purpose": "Syftet med aktiviteten är att öka läsandet.\nDet ska ske i hela kommunen.",
                   "goal": "Fler läsare under året."}


def test_label_and_answer_on_one_line() -> None:
    got = _answers(Block("Kommun: Ale"), Block("Belopp vi söker: 38 500 kr"))
    assert got == {"municipality": "Ale", "requested_amount_sek": "38 500 kr"}


def test_a_label_word_inside_an_answer_stays_in_the_answer() -> None:
    got = _answers(
        Block("Mål", emphasised=True),
        Block("Fler läsare."),
        Block("Målgrupp", emphasised=True),
        Block("Målgruppen är barn 6–9 år."),
        Block("Mål: att alla ska läsa mer."),
    )
    assert got["goal"] == "Fler läsare."
    assert got["target_group"] == "Målgruppen är barn 6–9 år.\nMål: att alla ska läsa mer."


def test_the_first_answer_of_a_field_wins() -> None:
    got = _answers(Block("Mål"), Block("Fler läsare."), Block("Syfte"), Block("Läsning."),
                   Block("Mål"), Block("Något annat."))
    assert got["goal"] == "Fler läsare."


def test_a_signature_line_of_place_and_date_is_the_date() -> None:
    got = _answers(Block("Egen insats", emphasised=True), Block("En bibliotekarie på halvtid."),
                   Block("Lerum 2026-01-20"))
    assert got == {"own_contribution": "En bibliotekarie på halvtid.", "date": "Lerum 2026-01-20"}


def test_section_headings_end_an_answer() -> None:
    got = _answers(Block("Kommun"), Block("Ale"), Block("Beskrivning av aktiviteten"),
                   Block("Inledande text som inte är något svar."))
    assert got == {"municipality": "Ale"}


def test_the_forms_questions_asked_as_plain_lines_are_labels() -> None:
    got = _answers(
        Block("Vad är syftet med aktiviteten?"), Block("Att fler ska läsa."),
        Block("Vad heter aktiviteten?"), Block("Läslust"),
        Block("Hur mycket pengar söker ni?"), Block("35 000 kr"),
    )
    assert got == {"purpose": "Att fler ska läsa.", "project_title": "Läslust",
                   "requested_amount_sek": "35 000 kr"}
