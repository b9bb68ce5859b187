"""Folding of text for tolerant comparison: case, diacritics, numbering, punctuation."""

from __future__ import annotations

import re
import unicodedata

_NUMBERING = re.compile(
    r"""^\s*(?:
        (?:fråga|fraga|punkt|del|question|part)\s*\d+[a-z]?\s*[.:)\-–]*\s*   # "Fråga 3:"
      | \d+(?:\.\d+)*[a-z]?\s*[.):\-–]+\s*                                     # "3." "2.1" "4)" "3 -"
      | \d+(?:\.\d+)+\s+                                                        # "2.1 "
      | \d{1,2}\s+(?=[^\W\d])                                                   # "3 Syfte"
      | [a-hA-H]\s*[.)]\s+                                                      # "a) " "B. "
      | [ivxIVX]{1,4}\s*[.)]\s+                                                 # "iv) "
      | [•▪◦●\-–*]\s+                                                           # a bullet
    )""",
    re.VERBOSE | re.IGNORECASE,
)
_PARENTHESES = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")
_NON_WORD = re.compile(r"[^\w]+")


def strip_diacritics(text: str) -> str:
    if text.isascii():
        return text  # nothing to take off, and most words are so
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def fold(text: str) -> str:
    """Lower case, no diacritics, words separated by single spaces, no punctuation."""
    folded = strip_diacritics(text).casefold().replace("_", " ")
    return " ".join(_NON_WORD.sub(" ", folded).split())


def strip_numbering(text: str) -> str:
    previous = None
    while previous != text:
        previous, text = text, _NUMBERING.sub("", text, count=1)
    return text


def fold_label(text: str) -> str:
    """A heading reduced to its words: no numbering, no text in parentheses, folded."""
    return fold(_PARENTHESES.sub(" ", strip_numbering(text.strip())))


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text)


def collapse_space(text: str) -> str:
    """Runs of spaces inside lines folded, blank lines dropped, lines kept."""
    lines = (" ".join(line.split()) for line in text.replace("\r", "\n").split("\n"))
    return "\n".join(line for line in lines if line)


def one_line(text: str, limit: int) -> str:
    """Whitespace folded to single spaces, cut with an ellipsis past `limit` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
