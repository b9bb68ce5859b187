"""The form's rules (models/form.toml, models/validation.py) applied to extracted answers."""

from __future__ import annotations

import pytest

from blankett.models.records import Extraction, FoundValue, Problem, Report, Source
from blankett.models.spec import load_routing, load_spec
from blankett.models.validation import Rules, check, flag_second_applications

RULES = Rules(load_spec(), load_routing(), 2026)

COMPLETE = {
    "municipality": "Mölndals kommun",
    "library": "Mölndals stadsbibliotek",
    "contact_name": "Anna Berg",
    "contact_email": "anna.berg@molndal.se",
    "contact_phone": "031-123 45 67",
    "partners": "Härryda bibliotek",
    "project_title": "Läslust i Mölndal",
    "strategic_area": "☐ Det öppna biblioteket\n☒ Det läs- och skrivfrämjande biblioteket",
    "requested_amount_sek": "45.000:-",
    "purpose": "Syftet är att öka läslusten bland barn i mellanstadiet i hela kommunen.",
    "goal": "Fler barn lånar böcker och deltar i bokcirklar under året.",
    "knowledge": "Vi vill utveckla kunskap om läsfrämjande metoder för barn.",
    "timeline": "Planering i mars 2026, bokcirklar under hösten och utvärdering i december.",
    "target_group": "Barn i årskurs 4–6 och deras lärare i kommunens skolor.",
    "expected_results": "Ökade utlån och en metod som fler bibliotek kan använda.",
    "continuation": "Bokcirklarna blir en del av bibliotekets ordinarie skolsamarbete.",
    "requested_support": "Handledning av konsulent samt samfinansiering med 45 000 kr.",
    "own_contribution": "Två bibliotekarier på 20 procent under projekttiden.",
    "date": "15 mars 2026",
    "signatory": "Per Persson",
}


def _extraction(**overrides: str) -> Extraction:
    answers = {**COMPLETE, **overrides}
    source = Source(method="docx-table", label="x")
    return Extraction(kind="docx", values={k: FoundValue(value=v, source=source)
                                           for k, v in answers.items()})


def _codes(problems: list[Problem]) -> set[tuple[str | None, str, str]]:
    return {(p.field, p.code, p.severity) for p in problems}


def test_a_complete_form_is_normalised_and_has_no_problem() -> None:
    checked = check(_extraction(), RULES)
    assert checked.problems == []
    assert checked.complete
    assert checked.fields["municipality"] == "Mölndal"
    assert checked.fields["requested_amount_sek"] == 45000
    assert checked.fields["strategic_area"] == "reading"
    assert checked.fields["date"] == "2026-03-15"
    assert checked.consultants == ["eva.fred@vgregion.se", "katarina.larson@vgregion.se"]


@pytest.mark.parametrize("filler", [
    "", "   ", "...", "Klicka eller tryck här för att ange text.", "Click or tap here to enter text.",
    "Skriv här", "[Beskriv målgruppen]", "Fyll i", "Målgrupp", "Målgrupp:",
    "Beskriv vilka aktiviteten riktar sig till.",
])
def test_placeholders_prompts_and_repeated_headings_count_as_missing(filler: str) -> None:
    checked = check(_extraction(target_group=filler), RULES)
    assert ("target_group", "missing", "error") in _codes(checked.problems)
    assert checked.fields["target_group"] is None
    assert not checked.complete


def test_missing_own_contribution_is_a_warning() -> None:
    checked = check(_extraction(own_contribution=""), RULES)
    assert _codes(checked.problems) == {("own_contribution", "missing", "warning")}
    assert checked.complete


@pytest.mark.parametrize(("field", "value", "code", "severity"), [
    ("requested_amount_sek", "60 000 kr", "amount_too_high", "error"),
    ("requested_amount_sek", "0 kr", "amount_not_positive", "error"),
    ("requested_amount_sek", "femtio tusen", "amount_unreadable", "error"),
    ("contact_email", "anna.at.molndal.se", "invalid_email", "error"),
    ("contact_phone", "ring mig", "invalid_phone", "warning"),
    ("municipality", "Stockholm", "unknown_municipality", "error"),
    ("strategic_area", "☒ Det öppna biblioteket\n☒ Det digitala biblioteket", "area_ambiguous", "error"),
    ("strategic_area", "Kultur för alla", "area_unknown", "error"),
    ("strategic_area", "☐ Det öppna biblioteket\n☐ Det digitala biblioteket", "missing", "error"),
    ("timeline", "Vi börjar när vi har tid och slutar när vi är klara.", "timeline_no_date", "warning"),
    ("timeline", "Vi börjar i januari 2027 och slutar i juni 2027.", "timeline_no_date", "warning"),
    ("requested_support", "Vi behöver hjälp med allt som rör projektet.", "support_unspecified",
     "warning"),
    ("goal", "Fler läsare.", "too_short", "warning"),
])
def test_each_check_raises_its_problem(field: str, value: str, code: str, severity: str) -> None:
    checked = check(_extraction(**{field: value}), RULES)
    assert _codes(checked.problems) == {(field, code, severity)}
    assert checked.complete is (severity == "warning")
    assert all(p.message for p in checked.problems)


def test_unclear_area_routes_to_the_fallback() -> None:
    checked = check(_extraction(strategic_area="☒ Det öppna biblioteket ☒ Det digitala biblioteket"),
                    RULES)
    assert checked.consultants == ["kajsa.lunde@vgregion.se", "daniella.pind@vgregion.se"]


def test_invalid_values_keep_what_was_written() -> None:
    checked = check(_extraction(contact_email="anna.at.molndal.se", municipality="Stockholm"), RULES)
    assert checked.fields["contact_email"] == "anna.at.molndal.se"
    assert checked.fields["municipality"] == "Stockholm"


def _report(name: str, municipality: str, title: str) -> Report:
    return Report(file=name, sha256=name, kind="docx", complete=True, problems=[], consultants=[],
                  sources={}, fields={"municipality": municipality, "project_title": title})


def test_two_activities_from_one_municipality_warn_on_both() -> None:
    reports = [_report("a", "Ale", "Läslust"), _report("b", "Ale", "Digitalt först"),
               _report("c", "Lerum", "Läslust")]
    flag_second_applications(reports, 2026)
    assert [len(r.problems) for r in reports] == [1, 1, 0]
    assert reports[0].problems[0].code == "second_application"
    assert "Digitalt först" in reports[0].problems[0].message


def test_a_corrected_version_is_not_a_second_application() -> None:
    reports = [_report("a", "Ale", "Läslust i Ale"), _report("b", "Ale", "Läslust i Ale ")]
    flag_second_applications(reports, 2026)
    assert all(r.problems == [] for r in reports)


def test_contact_details_written_on_the_name_line_go_to_their_fields() -> None:
    checked = check(_extraction(contact_name="Anna Berg, anna.berg@molndal.se, 031-123 45 67",
                                contact_email="", contact_phone=""), RULES)
    assert checked.fields["contact_name"] == "Anna Berg"
    assert checked.fields["contact_email"] == "anna.berg@molndal.se"
    assert checked.fields["contact_phone"] == "031-123 45 67"
    assert checked.problems == []


def test_one_line_fields_keep_their_first_line() -> None:
    checked = check(_extraction(signatory="Per Persson\nBilaga 1: budget\nLokalhyra 5 000 kr"), RULES)
    assert checked.fields["signatory"] == "Per Persson"


def test_an_amount_cell_holding_only_its_unit_is_missing() -> None:
    checked = check(_extraction(requested_amount_sek="kr"), RULES)
    assert _codes(checked.problems) == {("requested_amount_sek", "missing", "error")}
