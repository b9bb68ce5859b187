"""Reading a PDF without form fields: a form printed or exported from Word.

The answers are text on the page, under headings or in a two-column table of labels and answers.
The page layout (`pdf_layout`) gives each line and its cells with position and type; running
headers and footers go and newspaper columns are unfolded (`pdf_reading_order`), a table's rows
are rebuilt (`pdf_table_rows`), the lines of a paragraph joined again here; the label-to-answer
segmentation is the one shared with the Word reader.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from blankett.extractors.context import ReadContext
from blankett.extractors.pdf_layout import PageText
from blankett.extractors.pdf_reading_order import drop_running, unfold_columns
from blankett.extractors.pdf_table_rows import Piece, page_pieces
from blankett.extractors.placement import Placement
from blankett.extractors.segment import Block, Segmenter
from blankett.models.labels import LabelMatcher

_SOFT_HYPHEN = "\u00ad"
# "läs- och skrivfrämjande": a hyphen before these words stands apart from the next line.
_HANGING_HYPHEN_NEXT = frozenset({"och", "eller", "samt", "resp", "respektive", "till", "and", "or"})
_SENTENCE_END = ".!?:;"
# Abbreviations whose full stop ends no sentence ("personalens tid, ev." / "administrativa").
_ABBREVIATION = re.compile(r"(?:\b(?:ev|t\.ex|bl\.a|m\.m|m\.fl|osv|resp|ca|inkl|exkl|dvs|s\.k|"
                           r"kr|st|nr|tel|e\.g|i\.e|etc|jfr)|\b\w)\.$", re.IGNORECASE)
# An e-mail address broken at a dot or a hyphen at the end of a line.
_BROKEN_ADDRESS = re.compile(r"\S+@\S*[.\-]$")
# The glyphs of a bulleted list; a dash or an asterisk may be typed text and stays.
_BULLET = re.compile(r"^[•◦▪●➢]\s*")
# A line starting a list item or a checkbox line starts anew, whatever the line above.
_ITEM = re.compile(r"^(?:[•◦▪●➢\-–*☐☒☑□■✓✔❑]\s|[☐☒☑□■]|\[[ xX]?\]|\d{1,2}[.)]\s|[a-zA-Z][.)]\s)")


def answers(pages: Sequence[PageText], context: ReadContext) -> Placement:
    segmenter = Segmenter(context.matcher, "pdf-text")
    for block in blocks(pages, context.matcher):
        segmenter.feed(block)
    return segmenter.place(context.placer)


def blocks(pages: Sequence[PageText], matcher: LabelMatcher) -> list[Block]:
    """The text of the pages in reading order, without running headers and footers, with table
    rows turned into a label followed by its answer, and the lines of a paragraph joined."""
    kept = [unfold_columns(page) for page in drop_running(pages)]
    pieces = [piece for page in kept for piece in page_pieces(page, matcher)]
    return [Block(_unbullet(p.text), page=p.page, emphasised=p.emphasised, lead=p.bold_lead,
                  faint=p.faint, cells=True)
            for p in _paragraphs(pieces, matcher, _right_margin(kept))]


def _right_margin(pages: Sequence[PageText]) -> float:
    """Where the layout wraps lines: the furthest any line reaches, and at least as far from the
    right edge as the text starts from the left (Word's margins are alike), for a document of
    short lines only."""
    reach = max((line.cells[-1].x1 for page in pages for line in page.lines), default=0.0)
    mirrored = [page.width - min(line.cells[0].x0 for line in page.lines) for page in pages if page.lines]
    return max(reach, min(mirrored, default=0.0))


# --- paragraphs -------------------------------------------------------------------------------

def _paragraphs(pieces: list[Piece], matcher: LabelMatcher, edge: float) -> list[Piece]:
    """The lines of each paragraph joined again, where the layout wrapped them: so that answers
    read as written, and a wrapped line starting "resultat: ..." is not taken for a label."""
    out: list[Piece] = []
    for piece in pieces:
        if out and _continues(out[-1], piece, matcher, edge):
            out[-1] = _joined(out[-1], piece)
        else:
            out.append(piece)
    return out


def _joined(previous: Piece, piece: Piece) -> Piece:
    """A word broken at a line end is closed up. A soft (optional) hyphen goes; a hyphen typed as
    such stays, since Word breaks lines after the hyphen of "e-post" or "april-maj" and does not
    hyphenate by itself: "utveck-la" is a lesser harm than "aprilmaj"."""
    before, after = previous.text.rstrip(), piece.text.lstrip()
    first = after.split()[0].casefold()
    if before.endswith(_SOFT_HYPHEN):
        text = before[:-1] + after
    elif _BROKEN_ADDRESS.search(before) or (
            before.endswith("-") and before[-2:-1].isalpha() and first not in _HANGING_HYPHEN_NEXT):
        text = before + after
    else:
        text = before + " " + after
    # A bold label wrapped onto the line where its answer starts: the label is both lines.
    lead = previous.bold_lead
    if _ends_bold(previous) and piece.bold_lead:
        lead = text[: len(text) - len(after)] + piece.bold_lead
    return replace(previous, text=text, x1=piece.x1, bottom=piece.bottom, end_page=piece.last_page,
                   bold_lead=lead, faint=previous.faint and piece.faint)


def _ends_bold(piece: Piece) -> bool:
    return piece.emphasised and not piece.bold_lead


def _starts_bold(piece: Piece) -> bool:
    return piece.emphasised or bool(piece.bold_lead)


def _ends_sentence(text: str) -> bool:
    """Whether a line ends a sentence: with ".!?:;", not after an abbreviation, and not with a
    parenthesis left open."""
    stripped = text.rstrip()
    if not stripped or stripped[-1] not in _SENTENCE_END:
        return False
    if stripped.count("(") > stripped.count(")"):
        return False
    return not (stripped.endswith(".") and _ABBREVIATION.search(stripped))


def _continues(previous: Piece, piece: Piece, matcher: LabelMatcher, edge: float) -> bool:
    text, before = piece.text.strip(), previous.text.strip()
    if not text or not before or "\t" in text or "\t" in before or _ITEM.match(text):
        return False
    if _BROKEN_ADDRESS.search(before) and text[0].isalnum():
        return True  # "anna.berg@kommun.example." / "org"
    label = matcher.match(before, loose=previous.emphasised)
    if text[0].islower() and not _ends_sentence(before):
        # The sentence above goes on, even with a word that spells a label ("... som bor i" /
        # "kommunen."), unless that is set apart in bold. A heading broken mid-phrase
        # ("Stöd från Kulturutveckling (kompetens och") may name its field by a keyword or
        # closely; only a whole label ("Kommun") is complete.
        if _ends_bold(previous) != _starts_bold(piece):
            return False  # a label in bold and its answer in regular type, or the reverse
        return label is None or not label.exact
    if piece.bold_lead:
        return False  # "**Summa:** 45 000 kr": a label of its own starts the line
    if _ends_bold(previous) and piece.emphasised:
        # A bold heading broken where its next word did not fit, even before a word that alone
        # is a heading of the form ("... ni önskar från" / "Kulturutveckling").
        alone = matcher.match(text, loose=True)
        return (alone is None or not alone.key) and _wrapped(previous, piece, edge)
    if matcher.match(text, loose=piece.emphasised) is not None:
        return False
    # "Kontaktperson: Maria Holm" under "Kommun: Lidköping" is the next label, however long.
    return label is None and matcher.split(text) is None and _wrapped(previous, piece, edge)


def _wrapped(previous: Piece, piece: Piece, edge: float) -> bool:
    """Whether the line before ended only because the next word (capitalised: a name, say)
    did not fit on it. After the end of a sentence, a new paragraph is the likelier reading
    (a timeline of one line per month), and the only harm of a wrong one is a line break."""
    if _ends_sentence(previous.text) or _ends_bold(previous) != _starts_bold(piece):
        return False
    if piece.page == previous.last_page and piece.top - previous.bottom > max(0.6 * piece.height, 3.0):
        return False  # space between paragraphs
    space = 0.25 * piece.height
    return previous.x1 + space + piece.lead > edge


def _unbullet(text: str) -> str:
    # A bullet glyph is list formatting (Word's numbering, never part of the text in the .docx).
    return _BULLET.sub("", text, count=1)
