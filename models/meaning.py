"""What a heading nobody listed speaks of: its content words, stemmed, weighed by how specific
each is to one field of the form.

Each field's vocabulary is drawn from its label and synonyms (strongest), its hint and the
description of the part in the form specification. A word counts by its stem in Swedish or in
English ("målgruppen", "målgrupper" -> "målgrupp"), by a stem it extends by an inflection the
stemmer leaves ("syftet" -> "syft"), or by the parts of a compound ("kompetenshöjning" ->
"kompetens" + "höjning"). A word found in one field's vocabulary only weighs most; one found in
many ("aktiviteten") weighs next to nothing.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

from blankett.models.spec import FormSpec
from blankett.models.text import fold, strip_numbering

_SWEDISH = snowballstemmer.stemmer("swedish")
_ENGLISH = snowballstemmer.stemmer("english")

# Words that say how a question is asked, not what it asks about (folded).
_STOP = frozenset(re.findall(r"\w+", """
    och eller samt i pa for med som att av till om fran det den de dem en ett ar vara ska skall
    kan kommer vill har hade blir bli vad hur vilka vilken vilket ni er era ert vi var vara vart
    du dig din ditt man sig sin sitt sina mm etc ev t ex bl a osv nagon nagra detta denna dessa
    beskriv beskriva beskrivning ange redogor beratta kort kortfattat garna tex respektive resp
    vilka gors gor galler star ansokan ansoka ansoker ansokt sokande soker soka sokt soks
    the a an of to for and or in on at by with from is are be will would should can could
    you your we our us this that these it its please describe state give briefly do does want wish like
    text textfalt falt field kryssruta checkbox dropdown untitled namnlos
"""))

# A word in this many fields' descriptions is common to them all.
_COMMON_IN_DESCRIPTIONS = 5
# Weights of the places a field's words come from.
_LABEL_STRENGTH = 1.0
_TEXT_STRENGTH = 0.6
# A compound's part weighs less than the word itself.
_PART_STRENGTH = 0.7
# The weight of the last word of a heading that is no question, and of the word a question
# turns on.
_HEAD = 1.5
_ASKED = 2.0
# Shortest stem a word may extend, and the longest inflection it may extend it by.
_MIN_PREFIX = 4
_MAX_INFLECTION = 3
_MIN_PART = 3

# A guess needs this much evidence (about one word specific to one field) and this lead over the
# next field.
MIN_SCORE = 1.6
MIN_LEAD = 1.35

_WORD = re.compile(r"[^\W\d_]+")


@lru_cache(maxsize=1 << 15)
def _stems(word: str) -> frozenset[str]:
    # Cached: building a vocabulary stems the same pieces of words over and over (about 5 000
    # calls for 1 700 words), and it is built at every start of a command that reads a form.
    lowered = word.casefold()
    return frozenset(fold(stem) for stem in (_SWEDISH.stemWord(lowered), _ENGLISH.stemWord(lowered))
                     if stem)


# Longer "words" are no words of a heading (and would cost their length squared to split), nor
# are headings longer than this.
_MAX_WORD = 40
_MAX_TEXT = 300


def content_words(text: str) -> list[str]:
    """The words of a heading that may say what it is about: no numbering, no function words."""
    words = _WORD.findall(strip_numbering(text.strip()[:_MAX_TEXT]).casefold())
    return [w for w in words if fold(w) not in _STOP and 1 < len(w) <= _MAX_WORD]


@dataclass(frozen=True)
class Guess:
    key: str
    score: float
    runner_up: float

    @property
    def confidence(self) -> float:
        """Between 0.5 (barely ahead) and 0.9: words never weigh as much as a listed label."""
        lead = (self.score - self.runner_up) / self.score if self.score else 0.0
        return round(0.5 + 0.4 * lead, 2)


class Vocabulary:
    """Each field's words, and the fields a heading's words point to."""

    def __init__(self, spec: FormSpec) -> None:
        strengths: dict[str, dict[str, float]] = defaultdict(dict)
        sources: list[tuple[str, str, float]] = []
        for f in spec.fields:
            sources += [(f.key, text, _LABEL_STRENGTH) for text in (*f.labels, *f.questions)]
            sources += [(f.key, text, _TEXT_STRENGTH) for text in (f.hint or "", f.description)]
        # Words most descriptions use ("biblioteket", "aktiviteten") say nothing of one part.
        described = Counter(stem for f in spec.fields
                            for stem in {s for w in content_words(f"{f.hint or ''} {f.description}")
                                         for s in _stems(w)})
        common = {stem for stem, count in described.items() if count >= _COMMON_IN_DESCRIPTIONS}
        # In a question, the word it turns on says most: "Why this project?" asks for a purpose.
        self._asks: dict[str, set[str]] = defaultdict(set)
        for f in spec.fields:
            for word in (w for q in f.questions for w in content_words(q)):
                for stem in _stems(word):
                    self._asks[stem].add(f.key)
        words_of: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for key, text, strength in sources:
            for word in content_words(text):
                stems = _stems(word)
                if strength < _LABEL_STRENGTH and stems & common:
                    continue
                words_of[key].append((word, strength))
                for stem in stems:
                    _keep(strengths[stem], key, strength)
        self._simple = frozenset(strengths)
        self._labelled = frozenset(
            stem for stem, keys in strengths.items() if max(keys.values()) >= _LABEL_STRENGTH)
        self._prefixes = frozenset(s for s in strengths if len(s) >= _MIN_PREFIX)
        # Compounds in the vocabulary teach their parts: "kompetensutveckling" also speaks of
        # "kompetens" and of "utveckling".
        for key, words in words_of.items():
            for word, strength in words:
                for part in self._compound(fold(word)):
                    _keep(strengths[part], key, strength * _PART_STRENGTH)
        self._strengths = dict(strengths)
        # A word's weight falls with the number of fields it speaks for, a field that has it only
        # in its description counting for less than one that names it in a label.
        fields = len(spec.fields)
        self._weight = {stem: max(0.0, math.log((fields + 1) / sum(keys.values())))
                        for stem, keys in strengths.items()}

    def scores(self, text: str) -> dict[str, float]:
        """How strongly the heading's words point to each field."""
        return dict(self._scores(text))

    @lru_cache(maxsize=4096)  # noqa: B019 - one vocabulary lives as long as its spec
    def _scores(self, text: str) -> tuple[tuple[str, float], ...]:
        total: dict[str, float] = defaultdict(float)
        words = list(dict.fromkeys(content_words(text)))
        head = _head(text)
        # The word a question opens with ("Varför ...", "När ...", "For whom ...").
        opening = _WORD.findall(strip_numbering(text.strip()).casefold())[:2] \
            if text.rstrip().endswith("?") else []
        for word in words:
            best: dict[str, float] = {}
            for stem in self._known(word):
                weight = self._weight[stem] * (_HEAD if word == head and len(words) > 1 else 1.0)
                for key, strength in self._strengths[stem].items():
                    asks = self._asks.get(stem, ())
                    # Only a question word that one part alone is asked by ("vem" asks for a
                    # contact and for a target group alike).
                    boost = _ASKED if word in opening and asks == {key} else 1.0
                    best[key] = max(best.get(key, 0.0), weight * strength * boost)
            for key, value in best.items():
                total[key] += value
        return tuple(sorted(total.items(), key=lambda kv: -kv[1]))

    def guess(self, text: str) -> Guess | None:
        """The one field the heading's words point to clearly, if any."""
        ranked = self._scores(text)
        if not ranked:
            return None
        key, score = ranked[0]
        runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
        if score < MIN_SCORE or score < MIN_LEAD * runner_up:
            return None
        return Guess(key, score, runner_up)

    @lru_cache(maxsize=8192)  # noqa: B019
    def _known(self, word: str) -> frozenset[str]:
        stems = _stems(word) & self._simple
        if stems:
            return stems
        folded = fold(word)
        inflected = self._extends(folded)
        if inflected:
            return frozenset({inflected})
        return frozenset(self._compound(folded))

    def _extends(self, folded: str) -> str | None:
        """The longest known stem the word extends by a short ending ("syftet" -> "syft"): only
        the word's own few longest beginnings can be one, looked up rather than searched for."""
        for end in range(len(folded), max(_MIN_PREFIX, len(folded) - _MAX_INFLECTION) - 1, -1):
            if folded[:end] in self._prefixes:
                return folded[:end]
        return None

    def _compound(self, folded: str) -> list[str]:
        """The known parts of a compound, head first: "personalinsats" -> personal, insats.
        A linking "s" between them is dropped ("kompetens|höjning", "verksamhets|plan")."""
        best: list[str] = []
        for cut in range(len(folded) - _MIN_PART, _MIN_PART - 1, -1):
            head, tail = folded[:cut], folded[cut:]
            head_stem = self._part(head) or (self._part(head[:-1]) if head.endswith("s") else None)
            tail_stem = self._part(tail)
            if head_stem and tail_stem:
                return [head_stem, tail_stem]
            # A known head before an unknown tail still says what the word is about
            # ("målbild" is a kind of "mål"), if it is long or a label's own word.
            labelled = len(tail) >= 4 and head_stem in self._labelled
            if not best and head_stem and (len(head) >= 5 or labelled):
                best = [head_stem]
        return best

    def _part(self, piece: str) -> str | None:
        if len(piece) < _MIN_PART:
            return None
        stems = _stems(piece) & self._simple
        if stems:
            return max(stems, key=len)
        return self._extends(piece) if len(piece) >= _MIN_PREFIX else None


# Words after which a noun phrase goes on with a complement: "Målbild för verksamheten".
_PREPOSITIONS = frozenset({"for", "med", "i", "av", "till", "om", "pa", "fran", "inom", "efter", "vid",
                           "under", "hos", "kring", "of", "with", "in", "from", "to", "after"})


def _head(text: str) -> str | None:
    """The head of a heading that is a noun phrase: Swedish puts it last ("Ansvarigt bibliotek"
    is the library, "Bibliotekets egen insats" the contribution), before any complement
    ("Målbild för verksamheten" is the goal). A question has none."""
    if text.rstrip().endswith("?"):
        return None
    words = _WORD.findall(strip_numbering(text.strip()).casefold())
    cut = next((n for n, w in enumerate(words) if n and fold(w) in _PREPOSITIONS), len(words))
    phrase = [w for w in words[:cut] if fold(w) not in _STOP and len(w) > 1]
    return phrase[-1] if phrase else None


def _keep(strengths: dict[str, float], key: str, strength: float) -> None:
    strengths[key] = max(strengths.get(key, 0.0), strength)
