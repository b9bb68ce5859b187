"""The rules of the grant applied to what an extractor found: normalised fields and problems."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from blankett.models.labels import LabelMatcher
from blankett.models.messages import message
from blankett.models.normalise import (
    AreaIndex,
    MunicipalityIndex,
    clean_email,
    is_email,
    is_phone,
    names_time_of_year,
    parse_amount,
    parse_date,
)
from blankett.models.records import (
    SCAN_KINDS,
    Extraction,
    Problem,
    Report,
    Severity,
    Source,
    Unplaced,
)
from blankett.models.spec import FieldSpec, FormSpec, Routing
from blankett.models.text import collapse_space, fold, fold_label, one_line, words

Value = str | int | None


# How a field placed without its label was placed, as the warning says it.
_HOW = {"position": "var den står i blanketten", "shape": "hur svaret ser ut"}


@dataclass
class Checked:
    fields: dict[str, Value]
    problems: list[Problem]
    consultants: list[str]
    sources: dict[str, Source]
    unplaced: list[Unplaced] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    @property
    def needs_review(self) -> bool:
        """Something a person should look at before trusting the values: a field placed only
        by where it stands or what its answer looks like, or text no field claims."""
        return bool(self.unplaced) or any(p.code in ("guessed_label", "ocr") for p in self.problems)


@dataclass
class Rules:
    """Everything the checks need, built once per run."""

    spec: FormSpec
    routing: Routing
    year: int
    matcher: LabelMatcher = field(init=False)

    def __post_init__(self) -> None:
        self.matcher = LabelMatcher(self.spec)

    @cached_property
    def municipalities(self) -> MunicipalityIndex:
        return MunicipalityIndex(self.spec)

    @cached_property
    def areas(self) -> AreaIndex:
        return AreaIndex(self.spec)

    @cached_property
    def _placeholders(self) -> list[tuple[str, str, str, bool]]:
        """Each placeholder as (head, its folded form, tail, open-ended), folded once a run: a
        form asks for it on every line of every answer."""
        out = []
        for pattern in self.spec.grant.placeholders:
            head, star, tail = pattern.partition("*")
            out.append((head, fold(head), tail, bool(star)))
        return out

    @cached_property
    def _hints(self) -> dict[str, str]:
        return {f.key: fold(f.hint) for f in self.spec.fields if f.hint}

    def is_filler(self, line: str, spec: FieldSpec) -> bool:
        """A line that is no answer: a placeholder, the template's hint, or the field's own label."""
        folded = fold(line)
        if not folded:
            return True
        for head, fhead, tail, open_ended in self._placeholders:
            if not open_ended:
                if folded == fhead:
                    return True
            elif fhead:
                if folded == fhead or folded.startswith(fhead + " "):
                    return True
            elif line.strip().startswith(head) and line.strip().endswith(tail):
                return True
        if folded == self._hints.get(spec.key):
            return True
        return fold_label(line) in self._own_labels[spec.key]

    @cached_property
    def _own_labels(self) -> dict[str, frozenset[str]]:
        return {f.key: frozenset(fold_label(label) for label in f.labels) for f in self.spec.fields}


def to_review(problems: Iterable[Problem]) -> list[str]:
    """The required fields placed without their label, for a person to look at first."""
    return [p.field for p in problems if p.code == "guessed_label" and p.field]


def check(extraction: Extraction, rules: Rules) -> Checked:
    problems: list[Problem] = list(extraction.problems)
    fields: dict[str, Value] = dict.fromkeys(rules.spec.keys)
    sources: dict[str, Source] = {}
    if extraction.kind in SCAN_KINDS and not extraction.values:
        # Nothing was read, so nothing can be said to be missing: the scan is the problem.
        return Checked(fields, problems, rules.routing.consultants(None), sources)
    answers = _joint_application(_gather_contact(
        {s.key: _answer(found.value, s, rules)
         for s in rules.spec.fields if (found := extraction.values.get(s.key))}), rules)
    unplaced = list(extraction.unplaced)
    for spec in rules.spec.fields:
        found = extraction.values.get(spec.key)
        text = answers.get(spec.key, "")
        if found and text:
            sources[spec.key] = found.source
            if found.source.guessed and spec.required:
                _problem(problems, spec, "guessed_label", "warning",
                         heading=found.source.label or "", how=_HOW[found.source.matched_by])
        if not text and spec.required and unplaced:
            _missing_maybe(problems, spec, unplaced, rules)
            continue
        fields[spec.key] = _normalise(spec, text, rules, problems)
    consultants = rules.routing.consultants(_str(fields.get("strategic_area")))
    return Checked(fields, problems, consultants, sources, unplaced)


def _missing_maybe(problems: list[Problem], spec: FieldSpec, unplaced: list[Unplaced],
                   rules: Rules) -> None:
    """A required part missing while the application holds text under headings nothing could
    place: name the heading its words point to most, or the first of them."""
    scores = rules.matcher.vocabulary
    best = max(unplaced, key=lambda u: scores.scores(u.heading).get(spec.key, 0.0))
    problems.append(Problem(field=spec.key, code="missing", severity="error",
                            message=message("missing_maybe", label=spec.label, heading=best.heading)))


def _str(value: Value) -> str | None:
    return value if isinstance(value, str) else None


_BULLET = re.compile(r"^[•▪◦●➢►‣⁃∙·*–-]\s+")


def _answer(raw: str, spec: FieldSpec, rules: Rules) -> str:
    """The answer without filler lines, one list item a line, each marked "- " however the
    applicant's program drew its bullets."""
    lines = [_BULLET.sub("- ", line) for line in collapse_space(raw).split("\n")
             if not rules.is_filler(line, spec)]
    if spec.one_line:
        lines = lines[:1]
    return "\n".join(lines).strip()


_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?:\+\d{2}[\s-]?|0)\d{1,4}[\s-]?\d{2,3}(?:[\s-]?\d{2,3}){1,3}")


def _gather_contact(answers: dict[str, str]) -> dict[str, str]:
    """"Kontaktperson: Anna Berg, anna@ale.se, 0303-33 00 00" on one line: the address and the
    number go to their own fields when those are empty. Likewise "Kommun: Uddevalla kommun,
    Stadsbiblioteket" names the library when nothing else does."""
    gathered = dict(answers)
    municipality = answers.get("municipality", "")
    if not answers.get("library") and "," in municipality:
        rest = municipality.split(",", 1)[1].strip()
        if re.search(r"bibliotek", rest, re.IGNORECASE):
            gathered["library"] = rest
    name = answers.get("contact_name", "")
    if not name:
        return gathered
    if not gathered.get("contact_email") and (address := _ADDRESS.search(name)):
        gathered["contact_email"] = address.group()
        name = name.replace(address.group(), " ")
    if not gathered.get("contact_phone") and (phone := _PHONE.search(name)):
        gathered["contact_phone"] = phone.group().strip()
        name = name.replace(phone.group(), " ")
    gathered["contact_name"] = re.sub(r"\s*[,;/|]\s*(?=[,;/|]|$)", "", " ".join(name.split())).strip(" ,;/|")
    return gathered


def _joint_application(answers: dict[str, str], rules: Rules) -> dict[str, str]:
    """Two municipalities applying together: the lead one (named first, or marked as leading)
    is the municipality, the others are among the partners. Neither is an error."""
    named = rules.municipalities.all_named(answers.get("municipality", ""))
    if len(named) < 2:
        return answers
    partners = answers.get("partners", "")
    folded = fold(partners)
    others = [name for name in named[1:] if fold(name) not in folded]
    return {**answers, "municipality": named[0],
            "partners": "\n".join(line for line in (partners, *others) if line)}


def _problem(problems: list[Problem], spec: FieldSpec, code: str, severity: Severity,
             **values: object) -> None:
    text = message(code, label=spec.label, **values)
    problems.append(Problem(field=spec.key, code=code, severity=severity, message=text))


def _normalise(spec: FieldSpec, text: str, rules: Rules, problems: list[Problem]) -> Value:
    if not text:
        if spec.required:
            _problem(problems, spec, "missing", "error")
        elif spec.warn_when_missing:
            problems.append(Problem(field=spec.key, code="missing", severity="warning",
                                    message=message("missing_own_contribution", label=spec.label)))
        return None
    reader = _READERS[spec.kind]
    return reader(spec, text, rules, problems)


def _text(spec: FieldSpec, text: str, rules: Rules, problems: list[Problem]) -> Value:
    return text


def _description(spec: FieldSpec, text: str, rules: Rules, problems: list[Problem]) -> Value:
    count = len(words(text))
    if count < rules.spec.grant.min_description_words:
        _problem(problems, spec, "too_short", "warning", count=count)
    if spec.key == "timeline" and not names_time_of_year(text, rules.year):
        _problem(problems, spec, "timeline_no_date", "warning", year=rules.year)
    if spec.key == "requested_support" and not _speaks_of_support(text, rules):
        _problem(problems, spec, "support_unspecified", "warning")
    return text


def _speaks_of_support(text: str, rules: Rules) -> bool:
    folded = f" {fold(text)} "
    checks = rules.spec.checks
    for word in (*checks.support_competence, *checks.support_financing):
        w = fold(word)
        # Short words ("kr", "sek") only as whole words; longer ones also inside compounds
        # ("konsulentstöd", "samfinansieringen").
        if (f" {w} " in folded) if len(w) <= 3 else (w in folded):
            return True
    return False


def _email(spec: FieldSpec, text: str, rules: Rules, problems: list[Problem]) -> Value:
    address = clean_email(text)
    if not is_email(address):
        _problem(problems, spec, "invalid_email", "error", value=address)
    return address


def _phone(spec: FieldSpec, text: str, rules: Rules, problems: list[Problem]) -> Value:
    if not is_phone(text):
        _problem(problems, spec, "invalid_phone", "warning", value=text)
    return text


def _municipality(spec: FieldSpec, text: str, rules: Rules, problems: list[Problem]) -> Value:
    canonical = rules.municipalities.canonical(text)
    if canonical is None:
        _problem(problems, spec, "unknown_municipality", "error", value=text)
        return text
    return canonical


def _amount(spec: FieldSpec, text: str, rules: Rules, problems: list[Problem]) -> Value:
    if fold(text) in ("kr", "sek", "kronor"):
        # Only the template's unit is left in the cell.
        _problem(problems, spec, "missing", "error")
        return None
    amount = parse_amount(text)
    limit = rules.spec.grant.max_amount_sek
    if amount is None:
        _problem(problems, spec, "amount_unreadable", "error", value=text)
    elif amount <= 0:
        _problem(problems, spec, "amount_not_positive", "error", value=amount)
    elif amount > limit:
        _problem(problems, spec, "amount_too_high", "error", value=_kr(amount), limit=_kr(limit))
    return amount


def _kr(amount: int) -> str:
    return f"{amount:,}".replace(",", "\u00a0")


def _area(spec: FieldSpec, text: str, rules: Rules, problems: list[Problem]) -> Value:
    reading = rules.areas.read(text)
    if len(reading.areas) == 1:
        return reading.areas[0]
    if len(reading.areas) > 1:
        names = ", ".join(a.name for a in rules.spec.areas if a.key in reading.areas)
        _problem(problems, spec, "area_ambiguous", "error", value=names)
    elif reading.named_anything:
        _problem(problems, spec, "area_unknown", "error", value=one_line(text, 80))
    else:
        _problem(problems, spec, "missing", "error")
    return None



def _date(spec: FieldSpec, text: str, rules: Rules, problems: list[Problem]) -> Value:
    return parse_date(text) or text


_READERS = {
    "text": _text,
    "description": _description,
    "email": _email,
    "phone": _phone,
    "municipality": _municipality,
    "amount": _amount,
    "area": _area,
    "date": _date,
}


def flag_second_applications(reports: list[Report], year: int) -> None:
    """Warn on both when a municipality sent two different activities for the same year.

    A corrected version of the same activity (same name) is not a second application.
    """
    by_municipality: dict[str, list[Report]] = {}
    for report in reports:
        name = report.fields.get("municipality")
        if isinstance(name, str) and not any(p.code == "unknown_municipality"
                                             for p in report.problems):
            by_municipality.setdefault(name, []).append(report)
    for municipality, group in by_municipality.items():
        titles = {_title_key(r): r for r in group}
        if len(titles) < 2:
            continue
        for report in group:
            for other_key, other in titles.items():
                if other_key == _title_key(report):
                    continue
                other_title = other.fields.get("project_title")
                report.problems.append(second_application(
                    municipality, str(other_title) if other_title else other.file, year))


def second_application(municipality: str, other_title: str, year: int) -> Problem:
    return Problem(field="project_title", code="second_application", severity="warning",
                   message=message("second_application", municipality=municipality,
                                   other=other_title, year=year))


def activity_key(title: str | None) -> str:
    """Titles that differ only in case, accents, punctuation or spacing name one activity."""
    return fold(title) if title else ""


def _title_key(report: Report) -> str:
    title = report.fields.get("project_title")
    return activity_key(str(title)) if title else f"file:{report.sha256}"
