"""Whether what was read is the application form at all, however badly filled or in whatever words,
or another document that came in beside it: a board's minutes, a cover letter, an invoice, a
budget, a project plan.

Decided on what the readers found, never on the words of the text. A form shows its parts under
their headings (the template's labels, listed synonyms, a heading whose words name one field, a
fillable PDF's field names), even blank, and lists the strategic areas to tick. Other documents
speak of the same things ("syfte", "mål", "bibliotek") and a project plan or a report sets out a
purpose, goals, a target group and a timeline as the form's description does; but none sets out
who applies, as the form's first part does: the municipality, the library, the contact person and
address, the activity's name, its area, the amount sought.
"""

from __future__ import annotations

from dataclasses import dataclass

from blankett.models.normalise import AreaIndex
from blankett.models.records import Extraction
from blankett.models.spec import FormSpec

# The share of the form's parts, or of the parts of its first section (who applies), a file must
# show under their headings to be the form. Forms in the applicants' own words show nearly all:
# the least of the corpus and tune forms 16 of 20 (the held-out half is only scored); a form
# typed as a few "Label: answer" lines of who applies shows 5 of that section's 9. Documents that
# are not the form show at most about a third of the form, and 2 of who applies (BENCHMARKS.md).
MIN_SHARE = 0.5
# The area tick boxes: a list naming at least this many of the strategic areas under the form's
# area heading is the form's, whatever else was found.
MIN_AREAS_LISTED = 2


@dataclass(frozen=True)
class FormEvidence:
    """How much of the form a file shows: its parts found by their headings (not by where an
    answer stands or what it looks like, which only place what the headings leave), of the whole
    form and of its first section, and how many strategic areas are listed under the area
    heading."""

    parts: int
    of_parts: int
    applicant_parts: int
    of_applicant_parts: int
    areas_listed: int

    @property
    def is_the_form(self) -> bool:
        return (self.parts >= MIN_SHARE * self.of_parts
                or self.applicant_parts >= MIN_SHARE * self.of_applicant_parts
                or self.areas_listed >= MIN_AREAS_LISTED)


def not_the_form(extraction: Extraction, spec: FormSpec) -> FormEvidence | None:
    """The evidence, when what was read is not the form; None when it is, or when nothing of its
    text could be read (a scan without OCR, an XFA form's hidden fields): such a file already
    goes to a person with a problem that says why, and nothing can be said of what it is."""
    if any(p.field is None and p.severity == "error" for p in extraction.problems):
        return None
    evidence = form_evidence(extraction, spec)
    return None if evidence.is_the_form else evidence


def form_evidence(extraction: Extraction, spec: FormSpec) -> FormEvidence:
    headed = {key for key, found in extraction.values.items() if not found.source.guessed}
    applicant = {f.key for f in spec.fields if f.section == spec.fields[0].section}
    area = extraction.values.get("strategic_area")
    listed = 0
    if area is not None and not area.source.guessed:
        listed = len(AreaIndex(spec).named(area.value))
    return FormEvidence(len(headed & set(spec.keys)), len(spec.keys), len(headed & applicant),
                        len(applicant), listed)
