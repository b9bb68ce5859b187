"""Label matching: tolerant of how applicants write labels, strict about which field they name."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blankett.models.labels import LabelMatcher
from blankett.models.spec import load_spec

SPEC = load_spec()
MATCHER = LabelMatcher(SPEC)


@pytest.mark.parametrize(("text", "key"), [
    ("Kommun", "municipality"),
    ("KOMMUN:", "municipality"),
    ("3. Syftet med aktiviteten:", "purpose"),
    ("Beskriv syftet", "purpose"),
    ("Purpose", "purpose"),
    ("Mål", "goal"),
    ("Mal", "goal"),
    ("Målgrupp", "target_group"),
    ("MÅLGRUPP?", "target_group"),
    ("Målgruppen", "target_group"),
    ("Beskriv målgruppen för aktiviteten", "target_group"),
    ("Target group:", "target_group"),
    ("Målgrup", "target_group"),  # a typo
    ("Förväntade reslutat", "expected_results"),  # a typo
    ("Tidsplan?", "timeline"),
    ("2.4 Planerat arbete och tidsplan", "timeline"),
    ("Fråga 4: Mål", "goal"),
    ("b) Fortsättning i ordinarie verksamhet", "continuation"),
    ("Sökt belopp (kr)", "requested_amount_sek"),
    ("Sökt belopp i kronor", "requested_amount_sek"),
    ("Stöd från Kulturutveckling (kompetens och samfinansiering)", "requested_support"),
    ("Egen insats (personalens tid, ev. administrativa kostnader)", "own_contribution"),
    ("E-post", "contact_email"),
    ("E-mail", "contact_email"),
    ("Bibliotek / biblioteksenhet", "library"),
    ("Namnförtydligande", "signatory"),
])
def test_label_variants_name_their_field(text: str, key: str) -> None:
    found = MATCHER.match(text)
    assert found is not None, text
    assert found.key == key


@pytest.mark.parametrize("text", [
    "Syfte med aktiviteten är att öka läsandet bland unga i kommunen.",
    "Målgruppen är barn i åldern 6–9 år och deras föräldrar.",
    "Vi vill utveckla kunskap om digital delaktighet.",
    "Göteborg",
    "",
    "   ",
])
def test_answer_sentences_are_not_labels(text: str) -> None:
    found = MATCHER.match(text)
    assert found is None or found.key == "", text


def test_goal_and_target_group_are_never_confused() -> None:
    assert MATCHER.match("Mål")
    assert MATCHER.match("Målgrupp")
    assert MATCHER.match("Mål").key == "goal"  # type: ignore[union-attr]
    assert MATCHER.match("Målgrupp").key == "target_group"  # type: ignore[union-attr]
    assert MATCHER.match("Målet").key == "goal"  # type: ignore[union-attr]


def test_section_headings_are_recognised_but_name_no_field() -> None:
    found = MATCHER.match("Beskrivning av aktiviteten")
    assert found is not None and found.key == ""


def test_split_label_and_answer_on_one_line() -> None:
    found = MATCHER.split("Kommun: Mölndals kommun")
    assert found is not None
    assert found[0].key == "municipality" and found[1] == "Mölndals kommun"
    found = MATCHER.split("Sökt belopp (kr)\t45 000")
    assert found is not None and found[0].key == "requested_amount_sek" and found[1] == "45 000"
    assert MATCHER.split("Målgruppen är barn: 6–9 år") is None


_NUMBERINGS = st.sampled_from(["", "1. ", "12) ", "3.2 ", "a) ", "Fråga 7: ", "- "])
_ENDINGS = st.sampled_from(["", ":", "?", " :", "*"])


@given(
    field=st.sampled_from([f for f in SPEC.fields]),
    numbering=_NUMBERINGS,
    ending=_ENDINGS,
    case=st.sampled_from([str, str.upper, str.lower, str.title]),
)
def test_template_labels_survive_numbering_case_and_punctuation(field, numbering, ending, case) -> None:
    text = numbering + case(field.label) + ending
    found = MATCHER.match(text)
    assert found is not None, text
    assert found.key == field.key


@pytest.mark.parametrize(("text", "key"), [
    ("Belopp vi söker", "requested_amount_sek"),
    ("Hur fortsätter arbetet efter projektet?", "continuation"),
    ("Vad vill ni uppnå?", "goal"),
    ("Varför vill ni göra detta?", "purpose"),
    ("Vilka resultat hoppas ni på?", "expected_results"),
    ("Vad heter aktiviteten?", "project_title"),
    ("Hur mycket pengar söker ni?", "requested_amount_sek"),
    ("Vem vänder sig aktiviteten till?", "target_group"),
    ("Hur ska arbetet fortsätta i ordinarie verksamhet när projektet är slut?", "continuation"),
    ("Vad bidrar biblioteket själv med?", "own_contribution"),
    ("Vem skriver under?", "signatory"),
])
def test_unlisted_wordings_set_out_as_labels_are_read_by_their_keywords(text: str, key: str) -> None:
    found = MATCHER.match(text, loose=True)
    assert found is not None and found.key == key and found.by == "words"


@pytest.mark.parametrize("text", [
    "Det digitala biblioteket",  # an area ticked on a bold line is an answer
    "Alingsås kommun",  # answers name places; labels don't
    "Lerums bibliotek",
    "SÖKT BELOPP: 25.000:-",  # a label with its answer is split, not taken whole
    "Vi vill att biblioteket blir en mötesplats för alla invånare i hela kommunen året om",
])
def test_keywords_do_not_turn_answers_into_labels(text: str) -> None:
    assert MATCHER.match(text, loose=True) is None


def test_keywords_are_not_used_for_plain_text() -> None:
    assert MATCHER.match("Belopp vi söker") is None
    assert MATCHER.split("Belopp vi söker: 38 500 kr") is not None
