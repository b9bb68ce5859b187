"""Recognising the labels of the form in the many ways applicants write them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

from blankett.models.meaning import MIN_LEAD, Vocabulary
from blankett.models.records import MatchedBy
from blankett.models.spec import FormSpec
from blankett.models.text import fold, fold_label

# Words around a label that do not change which field it names ("Beskriv målgruppen för
# aktiviteten" is the target group). Folded forms.
_LEADING = ("beskriv kortfattat", "beskriv kort", "beskriv", "ange", "redogor for", "redogor",
            "vad ar", "vilken ar", "vilket ar", "vilka ar", "ert", "er", "vart", "var", "vara",
            "aktivitetens", "projektets", "the", "your", "describe")
_TRAILING = ("med aktiviteten", "for aktiviteten", "i aktiviteten", "genom aktiviteten",
             "av aktiviteten", "med projektet", "for projektet", "i projektet", "av projektet",
             "med arbetet", "for arbetet", "of the activity", "of the project", "i kronor",
             "i kr", "i sek", "kronor", "kr", "sek")
# Swedish definite endings: "malgruppen", "syftet", "tidsplanen".
_DEFINITE = ("en", "et", "n", "t", "na", "arna", "erna")

# Labels longer than this many words are sentences, not labels.
MAX_LABEL_WORDS = 16
# A wording recognised only by its keywords must be shorter still.
MAX_KEYWORD_LABEL_WORDS = 12
# Fuzzy matching only for labels at least this long: short ones ("Mål", "Tel") must match exactly.
MIN_FUZZY_LENGTH = 6
FUZZY_RATIO = 0.88

_PARENTHESISED = re.compile(r"\(([^()]{3,60})\)")
_SEPARATOR = re.compile(r"\s*(?::|\?|\s[–—-]\s|\t)\s*")


# How sure each way of finding a field is, when nothing else says otherwise.
CONFIDENCE: dict[MatchedBy, float] = {
    "label": 1.0, "synonym": 0.95, "words": 0.75, "position": 0.6, "shape": 0.6,
}
# A listed wording written with a typo.
NEAR_MISS_CONFIDENCE = 0.85


@dataclass(frozen=True)
class LabelMatch:
    key: str  # a field key, or "" for a section heading of the form
    label: str  # the text as written
    exact: bool  # a listed wording, not a near-miss or a guess from its words
    by: MatchedBy = "label"
    confidence: float = 1.0


class LabelMatcher:
    """Tells whether a piece of text is a label of the form, and of which field."""

    def __init__(self, spec: FormSpec) -> None:
        self._variants: dict[str, str] = {}
        ambiguous: set[str] = set()
        for field in spec.fields:
            for label in field.labels:
                folded = fold_label(label)
                if self._variants.get(folded, field.key) != field.key:
                    ambiguous.add(folded)
                self._variants[folded] = field.key
        for heading in spec.form.section_headings:
            self._variants.setdefault(fold_label(heading), "")
        for folded in ambiguous:
            del self._variants[folded]
        self._fuzzy = [v for v in self._variants if len(v) >= MIN_FUZZY_LENGTH]
        self._main = {fold_label(f.label): f.key for f in spec.fields}
        self.vocabulary = Vocabulary(spec)
        self._places = frozenset(fold(name) for name in spec.municipality.names)
        self._hints = {fold(f.hint): f.key for f in spec.fields if f.hint}
        self._keywords = [
            (f.key, re.compile(r"\b(?:" + "|".join(f.keywords) + ")"))
            for f in spec.fields if f.keywords
        ]
        # An area ticked or written on a line of its own is an answer, however it is styled.
        self._answers = {fold_label(n) for a in spec.areas for n in (a.name, *a.names)}

    def match(self, text: str, *, loose: bool = False, guess: bool = True) -> LabelMatch | None:
        """The field that `text`, taken whole, is the label of.

        `loose` is for text set out as a label (a heading, a bold line, a cell of the label
        column): it also accepts a wording that names one field by its keywords, or, unless
        `guess` is off (text set out only weakly, as the first cell of a row), by its words.
        """
        if len(text) > 200:
            return None
        folded = fold_label(text)
        key, exact = self._lookup(folded)
        if key == "" and (inner := _PARENTHESISED.search(text)):
            # "Underskrift (namnförtydligande)": a heading of the form naming one of its fields.
            found = self.match(inner.group(1), loose=True)
            if found is not None and found.key:
                return LabelMatch(found.key, text.strip(), found.exact, found.by, found.confidence)
        if key is not None:
            if not exact:
                return LabelMatch(key, text.strip(), False, "synonym", NEAR_MISS_CONFIDENCE)
            if not key or self._main.get(folded) == key:
                return LabelMatch(key, text.strip(), True)
            return LabelMatch(key, text.strip(), True, "synonym", CONFIDENCE["synonym"])
        if (loose or _looks_like_label(text)) and _could_be_label(text, folded):
            return self._by_words(text, folded, guess)
        return None

    def _by_words(self, text: str, folded: str, guess_allowed: bool = True) -> LabelMatch | None:
        """A wording nobody listed: the field its keywords or its content words point to. The
        words overrule a keyword when they point elsewhere clearly ("Telefonnummer till
        kontaktpersonen" is the phone, whatever "kontaktperson" says)."""
        if not folded or len(folded.split()) > MAX_KEYWORD_LABEL_WORDS or folded in self._answers:
            return None
        if self._names_a_place(folded):
            return None  # "Alingsås kommun", "Lerums bibliotek": answers name places, labels don't
        keyword = self._by_keywords(folded)
        # A line that begins in lower case goes on from the line above.
        guess_allowed = guess_allowed and not text.lstrip()[:1].islower()
        guess = self.vocabulary.guess(text) if guess_allowed else None
        if keyword is not None and guess is None and guess_allowed:
            scores = self.vocabulary.scores(text)
            if max(scores.values(), default=0.0) > scores.get(keyword, 0.0):
                return None  # the words point elsewhere as much: no keyword decides that
        if keyword is not None and (guess is None or guess.key == keyword):
            confidence = CONFIDENCE["words"] if guess is None else max(CONFIDENCE["words"], guess.confidence)
            return LabelMatch(keyword, text.strip(), False, "words", confidence)
        if guess is not None and (keyword is None or
                                  guess.score >= MIN_LEAD * self.vocabulary.scores(text).get(keyword, 0.0)):
            return LabelMatch(guess.key, text.strip(), False, "words", guess.confidence)
        if keyword is not None:
            return LabelMatch(keyword, text.strip(), False, "words", CONFIDENCE["words"] - 0.1)
        return None

    def split(self, line: str) -> tuple[LabelMatch, str] | None:
        """`Label: answer` (also `Label? answer`, `Label – answer`, `Label<TAB>answer`)."""
        for sep in _SEPARATOR.finditer(line[:160]):
            head, rest = line[: sep.start()], line[sep.end():]
            found = self.match(head, loose=_short_head(head))
            if found is not None:
                return found, rest.strip()
        return None

    def _names_a_place(self, folded: str) -> bool:
        words = folded.split()
        # "Vara" and "Mark" are also everyday words ("ska vara klart").
        places = self._places - {"vara", "mark"}
        return any(p in places or (p.endswith("s") and p[:-1] in places)
                   for p in _phrases(words))

    def _by_keywords(self, folded: str) -> str | None:
        # Swedish puts the head of a phrase last: "Bibliotekets egen insats" is the insats.
        best: tuple[int, str] | None = None
        for key, pattern in self._keywords:
            for found in pattern.finditer(folded):
                if best is None or found.end() > best[0]:
                    best = (found.end(), key)
        return best[1] if best else None

    def is_hint(self, text: str) -> bool:
        """The template's instruction line under a label, which is never an answer."""
        return fold(text) in self._hints

    def is_hint_part(self, text: str) -> bool:
        """The start or the end of an instruction line that a narrow label cell wrapped."""
        folded = fold(text)
        return len(folded) >= 3 and any(
            hint.startswith(folded + " ") or hint.endswith(" " + folded) or hint == folded
            for hint in self._hints)

    @lru_cache(maxsize=4096)  # noqa: B019 - the matcher lives as long as its spec
    def _lookup(self, folded: str) -> tuple[str | None, bool]:
        if not folded or len(folded.split()) > MAX_LABEL_WORDS:
            return None, False
        for candidate in _reductions(folded, self._places):
            if candidate in self._variants:
                return self._variants[candidate], True
            for ending in _DEFINITE:
                if candidate.endswith(ending) and candidate[: -len(ending)] in self._variants:
                    return self._variants[candidate[: -len(ending)]], True
        return self._closest(folded), False

    def _closest(self, folded: str) -> str | None:
        if len(folded) < MIN_FUZZY_LENGTH:
            return None
        best, best_ratio, runner_up = None, 0.0, None
        for variant in self._fuzzy:
            if abs(len(variant) - len(folded)) > max(3, len(variant) // 5):
                continue
            matcher = SequenceMatcher(None, folded, variant, autojunk=False)
            # Cheap upper bounds first: most variants cannot come close.
            if min(matcher.real_quick_ratio(), matcher.quick_ratio()) < FUZZY_RATIO - 0.02:
                continue
            ratio = matcher.ratio()
            if ratio > best_ratio:
                best, best_ratio, runner_up = variant, ratio, best
        if best is None or best_ratio < FUZZY_RATIO:
            return None
        # Two different fields equally close: refuse rather than guess.
        if runner_up is not None and self._variants[runner_up] != self._variants[best]:
            close = SequenceMatcher(None, folded, runner_up, autojunk=False).ratio()
            if close >= best_ratio - 0.02:
                return None
        return self._variants[best]


def _phrases(words: list[str]) -> set[str]:
    return {" ".join(words[i:i + n]) for n in (1, 2) for i in range(len(words) - n + 1)}


def _looks_like_label(text: str) -> bool:
    stripped = text.strip()
    return stripped.endswith((":", "?")) and len(stripped.split()) <= MAX_KEYWORD_LABEL_WORDS


_SENTENCE_INSIDE = re.compile(r"[.!]\s+[A-ZÅÄÖ]")


def _could_be_label(text: str, folded: str) -> bool:
    """No answer inside: "Sökt belopp: 25 000" is a label with its answer, to be split; and no
    sentence: a label is not a sentence that ends and another that begins."""
    inner = text.strip().rstrip(":?").strip()
    if _SEPARATOR.search(inner) or any(c.isdigit() for c in folded) or _SENTENCE_INSIDE.search(inner):
        return False
    # "Tel." ends with a full stop; a sentence that does is text.
    return not (inner.endswith(".") and len(folded.split()) > 3)


def _short_head(head: str) -> bool:
    """The part before a colon, short and without a verb, is a label ("Belopp vi söker:"),
    not the start of a sentence ("Målgruppen är barn: ...")."""
    words = fold(head).split()
    return 0 < len(words) <= 4 and not {"ar", "har", "blir", "ska", "kommer", "var"} & set(words)


def _reductions(folded: str, places: frozenset[str]) -> list[str]:
    forms = [folded]
    for lead in _LEADING:
        # "Vara kommun" is an answer, not "our municipality".
        if folded.startswith(lead + " ") and lead not in places:
            forms.append(folded[len(lead) + 1:])
            break
    for form in list(forms):
        for trail in _TRAILING:
            if form.endswith(" " + trail):
                forms.append(form[: -len(trail) - 1])
                break
    return forms
