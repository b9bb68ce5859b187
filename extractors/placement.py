"""Which field each part of a form answers, the strongest signal first.

The readers cut a document into sections: a heading as written and the answer under it. A
heading whose words name a field (its label, a listed synonym, or words specific to one field)
keeps that field. The others are placed by where they stand: the parts of the form follow the
template's order, so a run of headings nobody could name, standing between two that were named,
is aligned with the fields the order leaves for it (a sequence alignment: a part left out leaves
a gap rather than shifting the others), weighed by what their words hint at and by the shape of
their answers (an address with "@", a municipality, an amount). A section nothing can place is
kept as unplaced, for a person to read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from blankett.models.labels import CONFIDENCE, LabelMatch
from blankett.models.meaning import Vocabulary
from blankett.models.records import FoundValue, MatchedBy, Method, Source, Unplaced
from blankett.models.shapes import CERTAIN, Shapes
from blankett.models.spec import FormSpec
from blankett.models.text import fold_label

# A section aligned with a field for standing where it stands, before anything else is weighed.
_IN_ORDER = 0.6
# The pull towards the field at the same relative place in the run as the section.
_DRIFT = 0.35
# Words below the bar of a guess still hint: this much per unit of their score.
_HINT = 0.5
# A hint or a shape at least this strong names how the field was found.
_NAMED_BY = 1.0
# Position alone places a heading only where the order leaves little choice: at most this many
# more free fields than headings in the run.
_MAX_SLACK = 1
# A guess from a heading's words this sure is placed as it is; a less sure one is weighed
# against the order of the form, with this much in its favour.
_FIRM_WORDS = 0.8
_GUESS = 1.5
# Fields placed before the signature for it to end the form, rather than to head it.
_MIN_BEFORE_SIGNATURE = 5
# Fields whose answers have a shape that a guess from a heading's words must agree with.
_SHAPED = ("text", "email", "phone", "municipality", "amount", "date", "area")


@dataclass
class Section:
    """A heading as written and the answer lines under it."""

    heading: str
    match: LabelMatch | None  # what the heading's own words name; key "" for a form's section
    parts: list[str] = field(default_factory=list)
    page: int | None = None
    method: Method = "docx-paragraphs"
    # The heading was set out as one (a heading style, bold, larger type, a label cell), not
    # only phrased as one.
    strong: bool = False

    @property
    def text(self) -> str:
        return "\n".join(p for p in self.parts if p)

    @property
    def divider(self) -> bool:
        return self.match is not None and not self.match.key


@dataclass(frozen=True)
class _Placed:
    key: str
    by: MatchedBy
    confidence: float


@dataclass
class Placement:
    values: dict[str, FoundValue]
    unplaced: list[Unplaced]


Rank = Callable[[Section], int]


class Placer:
    """The form's order, vocabulary and answer shapes: everything placing needs, built once."""

    def __init__(self, spec: FormSpec, vocabulary: Vocabulary) -> None:
        self.order = spec.keys
        self._index = {key: n for n, key in enumerate(self.order)}
        self._kinds = {f.key: f.kind for f in spec.fields}
        # "Beskrivning av aktiviteten" stands before the first description part.
        self._sections: dict[str, float] = {}
        for f in spec.fields:
            self._sections.setdefault(fold_label(f.section), self._index[f.key] - 0.5)
        self._vocabulary = vocabulary
        self._shapes = Shapes(spec)
        # The form's closing part (the signature): its fields and where its heading stands.
        last = spec.fields[-1].section
        self._closing = frozenset(f.key for f in spec.fields if f.section == last)
        self._closing_at = self._sections[fold_label(last)]

    def place(self, sections: Sequence[Section], rank: Rank | None = None) -> Placement:
        placed: dict[int, _Placed] = {}
        unknown: list[int] = []
        guesses: dict[int, LabelMatch] = {}
        for n, section in enumerate(sections):
            match = section.match
            if match is None:
                if section.heading:
                    unknown.append(n)
            elif not match.key:
                continue
            elif self._contradicted(match, section):
                unknown.append(n)
            elif match.by == "words" and match.confidence < _FIRM_WORDS:
                # A guess from words is weighed with the order, not placed before it.
                guesses[n] = match
                unknown.append(n)
            else:
                placed[n] = _Placed(match.key, match.by, match.confidence)
        # A firm guess from words that the listed labels around it put out of order is weighed
        # with the order too: "Önskat läge" between "Syfte" and "Kunskap" is the goal.
        for n in self._out_of_order(placed):
            match = sections[n].match
            assert match is not None
            guesses[n] = match
            unknown.append(n)
            del placed[n]
        unknown.sort()
        end = self._signed(sections, placed)
        for n in [n for n, p in placed.items() if n > end and p.key not in self._closing]:
            del placed[n]  # an appendix after the signature answers nothing of the form
        taken = set(_choose(sections, placed, rank))
        for run, low, high in self._runs(sections, placed, unknown):
            free = [k for k in self.order if k not in taken and low < self._index[k] < high]
            if run[0] > end:
                free = [k for k in free if k in self._closing]
            if len(free) - len(run) > _MAX_SLACK:
                # The order leaves much open here, so it says little, and binds nothing either:
                # each heading takes what its words or its answer name ("Egen insats" asked
                # before "Målgrupp").
                free = [k for k in self.order if k not in taken]
                found = self._match_each(sections, run, free, guesses)
            else:
                found = self._align(sections, run, free, guesses)
            for n, placed_as in found.items():
                placed[n] = placed_as
                taken.add(placed_as.key)
        chosen = _choose(sections, placed, rank)
        values = {key: _value(sections[n], placed[n]) for key, n in chosen.items()}
        used = set(chosen.values())
        unplaced = [
            Unplaced(heading=s.heading, text=s.text, page=s.page)
            for n, s in enumerate(sections)
            if n not in used and s.text and s.heading and not s.divider and _not_within(s, values)
        ]
        return Placement(values, unplaced)

    def _out_of_order(self, placed: dict[int, _Placed]) -> list[int]:
        listed = sorted((n, self._index[p.key]) for n, p in placed.items() if p.by in ("label", "synonym"))
        out = []
        for n, p in placed.items():
            if p.by != "words":
                continue
            before = [at for m, at in listed if m < n]
            after = [at for m, at in listed if m > n]
            low = before[-1] if before else -1
            high = after[0] if after else len(self.order)
            if low < high and not low < self._index[p.key] < high:
                out.append(n)
        return out

    def _signed(self, sections: Sequence[Section], placed: dict[int, _Placed]) -> int:
        """Where the form's signature ends: the last section of its closing part ("Underskrift",
        the date, the name), when most of the form stands before it. What follows is an
        appendix (a budget, a CV), whose "Summa" is no amount sought. Past the end when the
        form has no such ending."""
        closing = [n for n, p in placed.items() if p.key in self._closing]
        closing += [n for n, s in enumerate(sections) if s.divider
                    and self._sections.get(fold_label(s.heading)) == self._closing_at]
        if not closing:
            return len(sections)
        end = max(closing)
        before = {p.key for n, p in placed.items() if n < end and p.key not in self._closing}
        return end if len(before) >= _MIN_BEFORE_SIGNATURE else len(sections)

    def _contradicted(self, match: LabelMatch, section: Section) -> bool:
        """A guess from a heading's words that the answer's shape denies: "Telefonnummer till
        kontaktpersonen" above "0521-123 45" is no name."""
        if match.by != "words" or not section.text:
            return False
        fits = self._shapes.fits(section.text)
        if self._kinds[match.key] not in _SHAPED:
            return False
        certain = [k for k, v in fits.items() if v >= CERTAIN]
        if certain:
            return match.key not in certain
        # A shape that speaks against the guess and for another field ("Skövde folkbibliotek"
        # under "Ansvarigt bibliotek" is no contact person).
        return fits.get(match.key, 0.0) < 0 and max(fits.values(), default=0.0) > 0

    def _runs(self, sections: Sequence[Section], placed: dict[int, _Placed],
              unknown: list[int]) -> list[tuple[list[int], float, float]]:
        """Runs of unknown sections between two anchors (placed fields or the form's section
        headings), with the template positions of the anchors around them."""
        anchors: list[tuple[int, float]] = [(n, self._index[p.key]) for n, p in placed.items()]
        for n, s in enumerate(sections):
            if s.divider and (at := self._sections.get(fold_label(s.heading))) is not None:
                anchors.append((n, at))
        anchors.sort()
        runs: list[tuple[list[int], float, float]] = []
        for n in unknown:
            before = [a for a in anchors if a[0] < n]
            after = [a for a in anchors if a[0] > n]
            low = before[-1][1] if before else -1.0
            high = after[0][1] if after else float(len(self.order))
            if high <= low:
                # Parts out of the template's order: the run may take any free field.
                low, high = -1.0, float(len(self.order))
            if runs and runs[-1][1:] == (low, high) and not any(
                    runs[-1][0][-1] < a[0] < n for a in anchors):
                runs[-1][0].append(n)
            else:
                runs.append(([n], low, high))
        return runs

    def _match_each(self, sections: Sequence[Section], run: list[int], free: list[str],
                    guesses: dict[int, LabelMatch]) -> dict[int, _Placed]:
        """Each section to the free field its words or answer name best, strongest first."""
        options = sorted(
            ((gain, n, key, by) for n in run for key in free
             for gain, by in [self._gain(sections[n], guesses.get(n), key, 0, 1, 0, 1, False)]
             if gain > 0),
            key=lambda option: -option[0])
        out: dict[int, _Placed] = {}
        used: set[str] = set()
        for _, n, key, by in options:
            if n not in out and key not in used:
                guess = guesses.get(n)
                confidence = guess.confidence if guess is not None and guess.key == key else CONFIDENCE[by]
                out[n] = _Placed(key, by, confidence)
                used.add(key)
        return out

    def _align(self, sections: Sequence[Section], run: list[int], free: list[str],
               guesses: dict[int, LabelMatch]) -> dict[int, _Placed]:
        """The best order-keeping pairing of the run's sections with the free fields."""
        if not free:
            return {}
        tight = len(free) - len(run) <= _MAX_SLACK
        gains = [[self._gain(sections[n], guesses.get(n), key, i, len(run), j, len(free), tight)
                  for j, key in enumerate(free)] for i, n in enumerate(run)]
        rows, cols = len(run), len(free)
        best = [[0.0] * (cols + 1) for _ in range(rows + 1)]
        for i in range(rows - 1, -1, -1):
            for j in range(cols - 1, -1, -1):
                take = gains[i][j][0] + best[i + 1][j + 1] if gains[i][j][0] > 0 else float("-inf")
                best[i][j] = max(take, best[i + 1][j], best[i][j + 1])
        out: dict[int, _Placed] = {}
        i = j = 0
        while i < rows and j < cols:
            gain, by = gains[i][j]
            if gain > 0 and best[i][j] == gain + best[i + 1][j + 1]:
                guess = guesses.get(run[i])
                if guess is not None and guess.key == free[j]:
                    confidence = guess.confidence
                else:
                    exact_fit = rows == cols
                    confidence = CONFIDENCE[by] if by != "position" or exact_fit else CONFIDENCE[by] - 0.1
                out[run[i]] = _Placed(free[j], by, confidence)
                i, j = i + 1, j + 1
            elif best[i][j] == best[i + 1][j]:
                i += 1
            else:
                j += 1
        return out

    def _gain(self, section: Section, guess: LabelMatch | None, key: str, i: int, rows: int,
              j: int, cols: int, tight: bool) -> tuple[float, MatchedBy]:
        """What pairing the run's i-th section with the j-th free field is worth, and what
        would have placed it."""
        hint = self._vocabulary.scores(section.heading).get(key, 0.0) * _HINT
        if guess is not None and guess.key == key:
            hint += _GUESS
        shape = self._shapes.fits(section.text).get(key, 0.0) if section.text else 0.0
        drift = abs(i / max(rows - 1, 1) - j / max(cols - 1, 1)) if rows > 1 or cols > 1 else 0.0
        # An empty answer says nothing of its heading: where headings outnumber the fields,
        # the empty one is the likelier odd one out (a heading of a part of the form).
        base = _IN_ORDER if section.text else _IN_ORDER * 0.75
        gain = base + hint + shape - _DRIFT * drift
        by: MatchedBy = "position"
        if shape >= _NAMED_BY and shape >= hint:
            by = "shape"
        elif hint >= _NAMED_BY:
            by = "words"
        elif not tight:
            return 0.0, by  # many fields free, nothing but the order to go by: no evidence
        return gain, by


def _choose(sections: Sequence[Section], placed: dict[int, _Placed], rank: Rank | None) -> dict[str, int]:
    """Per field, the section that answers it: one under the field's own label over one found
    otherwise (an empty "Sökt belopp" is not answered by a budget's total further on), then a
    non-empty answer over an empty one, the better-ranked reading, the first in the document."""
    best: dict[str, tuple[tuple[bool, bool, int, int], int]] = {}
    for n, found in placed.items():
        section = sections[n]
        listed = found.by in ("label", "synonym")
        score = (not listed, not section.text.strip(), rank(section) if rank else 0, n)
        if found.key not in best or score < best[found.key][0]:
            best[found.key] = (score, n)
    return {key: n for key, (_, n) in best.items()}


def _value(section: Section, placed: _Placed) -> FoundValue:
    return FoundValue(value=section.text, source=Source(
        method=section.method, label=section.heading or None, page=section.page,
        matched_by=placed.by, confidence=placed.confidence))


def _not_within(section: Section, values: dict[str, FoundValue]) -> bool:
    """A second reading of text already given as an answer is no part of its own."""
    return not any(section.text in v.value for v in values.values())
