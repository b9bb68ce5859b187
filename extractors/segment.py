"""Turning a run of text blocks (paragraphs, lines) into sections: a heading and the answer under
it. Shared by the readers of free Word documents and of printed PDFs.

What is a heading is decided by how it is set out: a heading style, bold or larger type, a short
question asked on a line of its own, "Label: answer" with the label in bold. A line set out as a
heading ends the answer above it whether or not its words are known; which field it names is
decided afterwards for the whole document at once (extractors.placement).

An answer keeps what belongs to it: a line that begins with a date, a month or a week and a
colon ("April 2026: workshoppar") or a short lead-in of the answer is part of it, however it is
set out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from blankett.extractors.docx_model import CELL_SEPARATOR
from blankett.extractors.placement import Placement, Placer, Rank, Section
from blankett.models.labels import LabelMatch, LabelMatcher
from blankett.models.normalise import MONTH_WORDS, is_phone, parse_amount, parse_date
from blankett.models.records import Method
from blankett.models.text import fold, fold_label, strip_numbering

_PLACE_AND_DATE = re.compile(
    r"(?:[A-ZÅÄÖ][\w\-]*(?: [A-ZÅÄÖ][\w\-]*)?,? (?:den )?)?"
    r"(?:\d{4}-\d{2}-\d{2}|\d{1,2} [a-zåäö]+ \d{4}|\d{1,2}[/.]\d{1,2}[ ./-]\d{2,4})"
)
# A heading is short; a question asked on a line of its own a little longer.
MAX_HEADING_WORDS = 16
# "Fas 1:", "Vecka 12:", "Januari–mars:": a lead-in of a timeline's line, never a heading.
_TIMED = re.compile(
    rf"^\s*(?:\d|(?:vecka|veckor|v|fas|steg|etapp|kvartal|q|termin|vt|ht|week|phase|step)\b"
    rf"|(?:{MONTH_WORDS})\b|(?:varen|hosten|vintern|sommaren|spring|autumn|summer|winter)\b)",
    re.IGNORECASE,
)
_ITEM = re.compile(r"^\s*(?:[•◦▪●➢\-–*]\s|[☐☒☑□■]|\[[ xX]?\])")
_URL = re.compile(r"https?://|www\.|@")


@dataclass(frozen=True)
class Block:
    text: str
    page: int | None = None
    # Styled as a heading, bold or in larger type: the applicant meant it as a label.
    emphasised: bool = False
    # The bold words the line opens with when the rest is not bold: "**Kontakt:** Anna Berg".
    lead: str = ""
    # Italic, grey or small type: how templates set their instructions.
    faint: bool = False
    # A tab in the text is a gap between the cells of a table row (a printed page), not one
    # the applicant typed.
    cells: bool = False


def heading_like(text: str) -> bool:
    """Whether text could be a heading at all: short, no address, no date or amount, no list
    item or ticked box, no sentence, not starting in lower case, and no lead-in of a timeline."""
    stripped = text.strip()
    if not stripped or stripped[0].islower() or _ITEM.match(stripped) or _URL.search(stripped):
        return False
    if "\t" in stripped or " | " in stripped:
        return False
    core = fold_label(stripped)
    words = core.split()
    if not words or len(words) > MAX_HEADING_WORDS:
        return False
    # "Summa som söks, max 50 000 kr" is a heading; "48 tkr" and "3 workshoppar" are not.
    whole = fold(stripped)
    if sum(c.isdigit() for c in whole) > 0.2 * len(whole) or re.match(r"\d+\s+[a-zåäö]", stripped):
        return False
    if _TIMED.match(fold(strip_numbering(stripped))):
        return False
    if stripped.endswith(".") and len(words) > 3:
        return False
    if re.search(r"[.!]\s+[A-ZÅÄÖ]", strip_numbering(stripped)):
        return False  # two sentences
    return not (parse_date(stripped) or is_phone(stripped))


# How instructions to the applicant begin ("Beskriv kortfattat ...", "Ange ...", "Please ...").
_IMPERATIVE = re.compile(
    r"^(?:beskriv|ange|redogör|redogor|berätta|beratta|fyll|skriv|lista|förklara|forklara|motivera|"
    r"specificera|uppge|bifoga|tänk|tank|observera|obs|glöm|glom|max|describe|explain|please|list|"
    r"state|give|note|fill)\b",
    re.IGNORECASE,
)


def instruction_like(text: str, faint: bool) -> bool:
    """A line of a template's instructions: an imperative ("Beskriv ...", "Ange ..."), a remark
    in parentheses ("(max 1 000 tecken)"), or, set in faint type, a question."""
    stripped = strip_numbering(text.strip())
    if not stripped:
        return False
    if stripped.startswith("(") and stripped.endswith(")"):
        return True
    if _IMPERATIVE.match(stripped):
        return True
    return faint and stripped.endswith("?")


def _answer_shaped(head: str) -> bool:
    return bool(parse_date(head)) or is_phone(head) or (
        any(c.isdigit() for c in head) and parse_amount(head) is not None)


class Segmenter:
    """Collects sections. The first non-empty answer of a field wins: a label seen again later
    (a sentence "Mål: ..." inside another answer, say) is read as text."""

    def __init__(self, matcher: LabelMatcher, method: Method) -> None:
        self._matcher = matcher
        self._method = method
        self.sections: list[Section] = []
        self._open: Section | None = None
        # The sections of each field, so that asking whether one is answered costs no pass
        # over the whole document.
        self._of_field: dict[str, list[Section]] = {}
        # The line before was "Label: answer": a run of such lines is a block of values, where a
        # short head before a colon is a label even when nobody listed it.
        self._inline_run = False

    def feed(self, block: Block) -> None:
        text = block.text.strip()
        if not text or self._matcher.is_hint(text) or self._instruction(block, text):
            return
        inline = False
        try:
            whole = self._matcher.match(text, loose=block.emphasised)
            if whole is not None and self._starts(whole, block, ""):
                return
            split = self._split(block, text)
            if split is not None:
                head, match, rest = split
                if match is None or self._starts(match, block, rest, inline=bool(rest), heading=head):
                    if match is None:
                        self._begin(None, head, block, rest)
                    inline = bool(rest)
                    return
                if block.lead and rest:
                    # A bold label is a label, even one whose words name a field answered
                    # already: the placement weighs the two.
                    self._begin(None, head, block, rest)
                    inline = True
                    return
            under_date = self._open is not None and self._open.match is not None \
                and self._open.match.key == "date"
            if not under_date and not self._answered("date") and _PLACE_AND_DATE.fullmatch(text):
                # The signature line "Lerum 2026-01-20" often stands without its label.
                self._begin(LabelMatch("date", "", False, "shape", 0.6), "", block, text)
                self._open = None
                return
            if self._set_out(block, text):
                self._begin(None, text, block, "")
                return
            self._append(text, block)
        finally:
            self._inline_run = inline

    @property
    def answering(self) -> bool:
        """Whether the text being read stands under a heading: a table there with a single label
        in it is more likely part of the answer (a timeline whose header says "Aktivitet")."""
        return self._open is not None and bool(self._open.heading) and not self._open.divider

    def add(self, section: Section) -> None:
        """A section read elsewhere (a row of a table), in its place in the document."""
        self.close()
        self._push(section)

    def close(self) -> None:
        """What follows does not continue the answer above (a table stands between)."""
        self._open = None

    def place(self, placer: Placer, rank: Rank | None = None) -> Placement:
        return placer.place(self.sections, rank)

    # --- headings -------------------------------------------------------------------------------

    def _starts(self, match: LabelMatch, block: Block, rest: str, *, inline: bool = False,
                heading: str | None = None) -> bool:
        if match.key == "":
            self._begin(match, block.text.strip(), block, "")
            self._open = None
            return True
        # A near-miss inside an answer is more likely text than a label, unless it is set out
        # as one: a heading or bold line, or a short head before a colon with its answer.
        asked = block.text.rstrip().endswith("?")  # the form's questions, asked on a line
        if not (match.exact or block.emphasised or inline or asked) and self._open is not None:
            return False
        if not (match.exact or block.emphasised or block.lead) and self._open is not None \
                and self._open.match is not None and self._open.match.key == match.key:
            return False  # a lead-in of the answer that speaks of its own field
        if self._answered(match.key, exact_only=block.emphasised or bool(block.lead)):
            return False
        self._begin(match, heading if heading is not None else match.label, block, rest)
        return True

    def _instruction(self, block: Block, text: str) -> bool:
        """The instruction under a heading set out as one, before anything is answered: the
        current template's hint, an older template's ("Beskriv kort varför ..."), a question
        in faint type. Never the answer."""
        open_section = self._open
        if open_section is None or open_section.parts or not open_section.strong:
            return False
        if block.emphasised or block.lead:
            return False
        return instruction_like(text, block.faint) or (block.faint and self._matcher.is_hint_part(text))

    def _set_out(self, block: Block, text: str) -> bool:
        """A line set out as a heading whose words name nothing we know."""
        if not heading_like(text):
            return False
        if block.emphasised:
            return True
        # A question asked on a line of its own, or a numbered line without a full stop.
        words = len(fold_label(text).split())
        numbered = strip_numbering(text) != text
        return (text.endswith("?") and words <= 14) or (numbered and not text.endswith(".") and words <= 10)

    def _split(self, block: Block, text: str) -> tuple[str, LabelMatch | None, str] | None:
        """"Label: answer" on one line: (head as written, what it names or None, answer)."""
        if block.lead and text.startswith(block.lead) and len(block.lead) < len(text):
            head = block.lead.strip().rstrip(":?–-").strip()
            rest = text[len(block.lead):].strip().lstrip(":?–-").strip()
            if head and rest:
                match = self._matcher.match(head, loose=True)
                if match is not None:
                    return head, match, rest
                if heading_like(head):
                    return head, None, rest
        if (block.emphasised and not block.lead) or text.endswith("?"):
            # All in bold, or a question: a heading whole, even with a colon inside
            # ("Inriktning: öppna, läsfrämjande, digitala eller lärande?").
            return None
        found = self._matcher.split(text)
        if found is not None:
            match, rest = found
            return match.label, match, rest
        return self._unknown_split(text)

    def _unknown_split(self, text: str) -> tuple[str, LabelMatch | None, str] | None:
        """A head nobody listed, then its answer: a question and its answer on one line
        ("Vem kan vi kontakta? Anna Berg"), or a short head in a run of "Label: value" lines."""
        for sep in re.finditer(r"\?\s+|:\s+", text[:160]):
            head, rest = text[: sep.start() + 1].strip(), text[sep.end():].strip()
            if not rest or not heading_like(head) or _answer_shaped(head.rstrip(":?")):
                continue
            words = len(fold_label(head).split())
            asked = head.endswith("?") and words <= 14
            listed = head.endswith(":") and self._inline_run and words <= 5
            if asked or listed:
                return head.rstrip(":").strip(), None, rest
            return None
        return None

    # --- answers --------------------------------------------------------------------------------

    def _begin(self, match: LabelMatch | None, heading: str, block: Block, rest: str) -> None:
        # Set out as a heading, or a listed label alone on its line.
        strong = block.emphasised or bool(block.lead) or (match is not None and match.exact and not rest)
        self._open = Section(heading, match, [rest] if rest else [], block.page, self._method, strong)
        self._push(self._open)

    def _push(self, section: Section) -> None:
        self.sections.append(section)
        if section.match is not None:
            self._of_field.setdefault(section.match.key, []).append(section)

    def _append(self, text: str, block: Block) -> None:
        if self._open is None:
            # Text before any heading: the form's title and instructions, kept apart.
            self._open = Section("", None, [], block.page, self._method)
            self.sections.append(self._open)
        if block.cells and "\t" in text:
            # A row of a small table inside an answer, as the Word reader writes it.
            text = CELL_SEPARATOR.join(cell.strip() for cell in text.split("\t"))
        if CELL_SEPARATOR in text and text in self._open.parts:
            return  # a table's header row, repeated where the table runs over a page break
        self._open.parts.append(text)

    def _answered(self, key: str, *, exact_only: bool = False) -> bool:
        """Whether a field has an answer already. A heading set out as one starts a section of
        its own unless a listed label answered the field: a guess from words may be wrong, and
        the placement weighs both."""
        return any(any(s.parts) and s.match is not None and (s.match.exact or not exact_only)
                   for s in self._of_field.get(key, ()))


def segment(blocks: Iterable[Block], matcher: LabelMatcher, method: Method,
            placer: Placer) -> Placement:
    segmenter = Segmenter(matcher, method)
    for block in blocks:
        segmenter.feed(block)
    return segmenter.place(placer)


