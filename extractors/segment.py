"""Turning a run of text blocks (paragraphs, lines) into answers by the labels that head them.

Shared by the readers of free Word documents and of printed PDFs: both see a sequence of
headings and paragraphs, and an answer is whatever stands between its label and the next one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from blankett.models.labels import LabelMatch, LabelMatcher
from blankett.models.records import FoundValue, Method, Source

_PLACE_AND_DATE = re.compile(
    r"(?:[A-ZÅÄÖ][\w\-]*(?: [A-ZÅÄÖ][\w\-]*)?,? (?:den )?)?"
    r"(?:\d{4}-\d{2}-\d{2}|\d{1,2} [a-zåäö]+ \d{4}|\d{1,2}[/.]\d{1,2}[ ./-]\d{2,4})"
)


@dataclass(frozen=True)
class Block:
    text: str
    page: int | None = None
    # Styled as a heading, or bold: the applicant meant it as a label.
    emphasised: bool = False


@dataclass
class _Open:
    match: LabelMatch
    page: int | None
    parts: list[str]


class Segmenter:
    """Collects answers under labels. The first non-empty answer of a field wins: a label seen
    again later (a sentence "Mål: ..." inside another answer, say) is read as text."""

    def __init__(self, matcher: LabelMatcher, method: Method) -> None:
        self._matcher = matcher
        self._method = method
        self._done: dict[str, _Open] = {}
        self._open: _Open | None = None

    def feed(self, block: Block) -> None:
        text = block.text.strip()
        if not text or self._matcher.is_hint(text):
            return
        whole = self._matcher.match(text, loose=block.emphasised)
        if whole is not None and self._starts(whole, block, ""):
            return
        split = self._matcher.split(text)
        if split is not None and self._starts(split[0], block, split[1], inline=bool(split[1])):
            return
        if "date" not in self._done and _PLACE_AND_DATE.fullmatch(text):
            # The signature line "Lerum 2026-01-20" often stands without its label.
            self._close()
            self._done["date"] = _Open(LabelMatch("date", "", exact=False), block.page, [text])
            return
        if self._open is not None:
            self._open.parts.append(text)

    def _starts(self, match: LabelMatch, block: Block, rest: str, *, inline: bool = False) -> bool:
        if match.key == "":
            self._close()
            return True
        # A near-miss inside an answer is more likely text than a label, unless it is set out
        # as one: a heading or bold line, or a short head before a colon with its answer.
        asked = block.text.rstrip().endswith("?")  # the form's questions, asked on a line
        if not (match.exact or block.emphasised or inline or asked) and self._open is not None:
            return False
        if not match.exact and self._open is not None and self._open.match.key == match.key:
            return False  # a lead-in of the answer that speaks of its own field
        if self._has_answer(match.key):
            return False
        self._close()
        self._open = _Open(match, block.page, [rest] if rest else [])
        return True

    def _has_answer(self, key: str) -> bool:
        done = self._done.get(key)
        if done is not None and any(done.parts):
            return True
        return self._open is not None and self._open.match.key == key and any(self._open.parts)

    def _close(self) -> None:
        if self._open is not None:
            key = self._open.match.key
            if key not in self._done or not any(self._done[key].parts):
                self._done[key] = self._open
        self._open = None

    def values(self) -> dict[str, FoundValue]:
        self._close()
        return {
            key: FoundValue(
                value="\n".join(p for p in item.parts if p),
                source=Source(method=self._method, label=item.match.label, page=item.page),
            )
            for key, item in self._done.items()
        }


def segment(blocks: Iterable[Block], matcher: LabelMatcher, method: Method) -> dict[str, FoundValue]:
    segmenter = Segmenter(matcher, method)
    for block in blocks:
        segmenter.feed(block)
    return segmenter.values()
