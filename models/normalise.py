"""Reading typed values out of answers as applicants write them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from difflib import SequenceMatcher

from blankett.models.spec import FormSpec
from blankett.models.text import fold

_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2007": " ", "'": " ",
                         "’": " ", "\u2212": "-", "–": "-"})
_NUMBER = re.compile(
    r"(?P<sign>-\s?)?(?P<num>\d{1,3}(?:[ .,]\d{3})+(?:,\d{1,2})?(?!\d)|\d+(?:[.,]\d+)?)"
    r"\s*(?P<unit>tkr|tusen|t\s?kr|k(?:r|sek)?\b|miljon|mkr|sek|kr|kronor|:-)?",
    re.IGNORECASE,
)
# The amount applied for, among others in the same answer ("Totalt 90 000 kr varav 45 000 kr söks").
_APPLIED = re.compile(r"\b(?:sök|sok|ansök|ansok|söks|soks|sökt|sokt|apply|applied|request)\w*",
                      re.IGNORECASE)


def parse_amount(text: str) -> int | None:
    """The amount applied for, in whole kronor: "45.000:-" -> 45000, "50 tkr" -> 50000,
    "SEK 25,000" -> 25000. With several amounts, the one next to "söks"/"söker" wins, else the
    first."""
    spaced = text.translate(_SPACES)
    found = [(m, _value(m, spaced)) for m in _NUMBER.finditer(spaced)]
    if not found:
        return None
    if len({v for _, v in found}) > 1:
        for verb in _APPLIED.finditer(spaced):
            nearest = min(found, key=lambda item: _distance(item[0], verb))
            if _distance(nearest[0], verb) <= 40:
                return nearest[1]
    return found[0][1]


def _distance(number: re.Match[str], verb: re.Match[str]) -> int:
    if number.end() <= verb.start():
        return verb.start() - number.end()
    return max(0, number.start() - verb.end())


def _value(match: re.Match[str], text: str) -> int:
    num = match["num"]
    if re.fullmatch(r"\d{1,3}(?:[ .,]\d{3})+(?:,\d{1,2})?", num):
        # Grouped thousands: "45 000", "45.000", "25,000" (English); a decimal comma after them.
        head, _, cents = num.rpartition(",") if re.search(r",\d{1,2}$", num) else (num, "", "")
        value = float(re.sub(r"[ .,]", "", head) + ("." + cents if cents else ""))
    else:
        value = float(num.replace(",", "."))
    unit = (match["unit"] or "").lower().replace(" ", "")
    if unit in ("tkr", "tusen", "k", "ksek"):
        value *= 1000
    elif unit in ("miljon", "mkr"):
        value *= 1_000_000
    if match["sign"] and not text[: match.start()].strip():
        value = -value
    return round(value)


class MunicipalityIndex:
    """Canonical municipality names from the ways they are written."""

    def __init__(self, spec: FormSpec) -> None:
        m = spec.municipality
        self._names = {fold(n): n for n in m.names}
        self._aliases = {fold(a): t for a, t in m.aliases.items()}
        self._suffixes = sorted((fold(s) for s in m.suffixes), key=len, reverse=True)

    def canonical(self, text: str) -> str | None:
        """The municipality named, also as the first part of "Uddevalla kommun, Stadsbiblioteket"
        or "Kungälvs kommun / Kungälvs bibliotek"."""
        whole = re.sub(r"\([^)]*\)", " ", text)
        parts = [whole, *re.split(r"[,/;–—\n]| - ", whole)]
        for part in parts:
            found = self._exact(fold(part))
            if found:
                return found
        return self._closest(fold(whole)) or self._closest(fold(parts[1]))

    def all_named(self, text: str) -> list[str]:
        """Every municipality named, in order: "Lerums kommun (huvudsökande) tillsammans med
        Alingsås kommun" -> Lerum, Alingsås. The one marked as leading the application first."""
        parts = re.split(r"[,/;&+\n]| - |\s(?:och|samt|tillsammans med|med|and|with)\s", text)
        named: list[str] = []
        lead: str | None = None
        for part in parts:
            found = self._exact(fold(re.sub(r"\([^)]*\)", " ", part)))
            if found and found not in named:
                named.append(found)
                if lead is None and re.search(r"huvudsök|huvudman|ansvarig|lead", part, re.IGNORECASE):
                    lead = found
        if lead is not None:
            named.remove(lead)
            named.insert(0, lead)
        return named

    def _exact(self, folded: str) -> str | None:
        for candidate in self._candidates(folded):
            if candidate in self._aliases:
                return self._aliases[candidate]
            if candidate in self._names:
                return self._names[candidate]
        return None

    def _candidates(self, folded: str) -> list[str]:
        forms = [folded]
        for word in ("kommun", "stad", "bibliotek"):
            # "Kommun: Ale" copied with its label, "Ale kommun / Ale bibliotek"
            if folded.startswith(word + " "):
                forms.append(folded[len(word) + 1:])
        for form in list(forms):
            for suffix in self._suffixes:
                if form.endswith(" " + suffix):
                    forms.append(form[: -len(suffix) - 1])
        for form in list(forms):
            if form.endswith("s"):  # genitive: "Mölndals kommun"
                forms.append(form[:-1])
        return forms

    def _closest(self, folded: str) -> str | None:
        if len(folded) < 4:
            return None
        scored = [
            (SequenceMatcher(None, candidate, name).ratio(), name)
            for candidate in self._candidates(folded)
            for name in self._names
            if len(name) >= 4
        ]
        ratio, name = max(scored, default=(0.0, ""))
        return self._names[name] if ratio >= 0.86 else None


_MONTHS = {
    "januari": 1, "jan": 1, "februari": 2, "feb": 2, "mars": 3, "mar": 3, "april": 4, "apr": 4,
    "maj": 5, "juni": 6, "jun": 6, "juli": 7, "jul": 7, "augusti": 8, "aug": 8,
    "september": 9, "sep": 9, "sept": 9, "oktober": 10, "okt": 10, "november": 11, "nov": 11,
    "december": 12, "dec": 12, "january": 1, "february": 2, "march": 3, "may": 5, "june": 6,
    "july": 7, "august": 8, "october": 10, "oct": 10,
}
MONTH_WORDS = "|".join(sorted(_MONTHS, key=len, reverse=True))
_MONTH_WORD = MONTH_WORDS


def _iso(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def parse_date(text: str) -> str | None:
    """An ISO date from "2026-03-15", "15/3 2026", "15.03.2026", "15 mars 2026", "Ale 2026-03-15"."""
    if m := re.search(r"(\d{4})[-./ ](\d{1,2})[-./ ](\d{1,2})(?!\d)", text):
        return _iso(int(m[1]), int(m[2]), int(m[3]))
    if m := re.search(r"(?<!\d)(\d{1,2})[-./](\d{1,2})[-./ ]\s?(\d{4}|\d{2})(?!\d)", text):
        year = int(m[3]) + (2000 if len(m[3]) == 2 else 0)
        return _iso(year, int(m[2]), int(m[1]))
    folded = fold(text)
    if m := re.search(rf"(?<!\d)(\d{{1,2}}) ({_MONTH_WORD}) (\d{{4}})", folded):
        return _iso(int(m[3]), _MONTHS[m[2]], int(m[1]))
    if m := re.search(rf"({_MONTH_WORD}) (\d{{1,2}}) (\d{{4}})", folded):
        return _iso(int(m[3]), _MONTHS[m[1]], int(m[2]))
    if m := re.fullmatch(r"(\d{4})(\d{2})(\d{2})", folded):
        return _iso(int(m[1]), int(m[2]), int(m[3]))
    return None


_TERMS = (r"vt|ht|varterminen|hostterminen|terminen|varen|hosten|sommaren|vintern|"
          r"kvartal|q[1-4]|tertial|manad|manader|lasaret|month|spring|autumn|fall|summer|week")


def names_time_of_year(text: str, year: int) -> bool:
    """Whether a timeline names a month, date, week or term, and not only in another year."""
    folded = fold(text)
    years = {int(y) for y in re.findall(r"(?<!\d)(20\d{2})(?!\d)", folded)}
    years |= {2000 + int(y) for y in re.findall(r"\b(?:vt|ht)\s?(\d{2})\b", folded)}
    if years and year not in years:
        return False
    timed = (
        re.search(rf"\b({_MONTH_WORD})\b", folded)
        or re.search(r"\b(?:vecka|veckor|v)\s?\d{1,2}\b", folded)
        or re.search(rf"\b({_TERMS})\b", folded)
        or re.search(r"\b(?:vt|ht)\s?\d{2}(?:\d{2})?\b", folded)
        or re.search(r"\d{4}[-/.]\d{1,2}|\d{1,2}/\d{1,2}", text)
    )
    return bool(timed) or (year in years and bool(re.search(r"\d{4}-\d{2}", text)))


_CHECKED = "☒☑✓✔✗✘■▣◼⬛"
_UNCHECKED = "☐□◻⬜○◯"
_CHECKBOX_LINE = re.compile(
    rf"^\s*(?:(?P<on>[{_CHECKED}]|\[\s*[xX✓✔]\s*\]|\(\s*[xX]\s*\)|[xX](?=\s))"
    rf"|(?P<off>[{_UNCHECKED}]|\[\s*\]|\(\s*\)))\s*(?P<rest>.*)$"
)


@dataclass(frozen=True)
class AreaReading:
    areas: tuple[str, ...]  # area keys, in the order written
    named_anything: bool  # some text was there, even if no area was recognised


class AreaIndex:
    """Strategic areas from ticked boxes, dropdown values or written names."""

    def __init__(self, spec: FormSpec) -> None:
        self._names: list[tuple[str, str]] = []
        for area in spec.areas:
            for name in (area.name, *area.names, area.key):
                folded = _fold_area(name)
                if folded:
                    self._names.append((folded, area.key))
        # Longest first so that "det lasfrämjande biblioteket" wins over a bare word.
        self._names.sort(key=lambda item: len(item[0]), reverse=True)
        self._full = [(_fold_area(a.name), a.key) for a in spec.areas]

    def read(self, text: str) -> AreaReading:
        lines = [line for line in re.split(r"[\n;]|(?=[☐☒☑□■])", text) if line.strip()]
        boxes = [_CHECKBOX_LINE.match(line) for line in lines]
        if any(boxes):
            chosen = [b["rest"] for b in boxes if b and b["on"]]
            keys = self._keys(" ; ".join(chosen))
            return AreaReading(tuple(dict.fromkeys(keys)), bool(chosen))
        keys = list(dict.fromkeys(self._keys(text)))
        if len(keys) > 1:
            # "Vi söker inom det digitala biblioteket, även om läsfrämjande arbete ingår": the
            # area named by its full name is the one chosen.
            full = list(dict.fromkeys(k for k in self._keys(text, full_only=True)))
            if len(full) == 1:
                keys = full
        return AreaReading(tuple(keys), bool(fold(text)))

    def named(self, text: str) -> list[str]:
        """Every area the text names, ticked or not, in the order written: the form's list of
        areas to tick names them all."""
        return list(dict.fromkeys(self._keys(text)))

    def _keys(self, text: str, *, full_only: bool = False) -> list[str]:
        folded = " " + _fold_area(text) + " "
        found: list[tuple[int, str]] = []
        for name, key in self._full if full_only else self._names:
            pos = folded.find(" " + name + " ")
            if pos >= 0:
                found.append((pos, key))
                folded = folded.replace(" " + name + " ", " # ")
        return [key for _, key in sorted(found)]


def _fold_area(text: str) -> str:
    words = fold(text.replace("-", " ")).split()
    return " ".join(w for w in words if w not in ("det", "den", "the"))


def clean_email(text: str) -> str:
    """The address out of "mailto:x@y.se" or "Anna Berg <x@y.se>"; otherwise the text itself."""
    text = text.strip()
    if m := re.search(r"<([^<>\s]+@[^<>\s]+)>", text):
        return m[1]
    text = re.sub(r"^mailto:", "", text, flags=re.IGNORECASE).strip().rstrip(".")
    # A narrow cell or a PDF line wraps a long address ("anna@kommun.example.or\ng"); an
    # address holds no spaces, so closing them up loses nothing.
    closed = re.sub(r"\s+", "", text)
    return closed if is_email(closed) else text


def is_email(text: str) -> bool:
    """An address as mail servers take it, Swedish letters and all (email-validator's check of
    its form; no DNS look-up)."""
    # Imported here: 20-40 ms, which `init` and `status` (importing this module) do without.
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def is_phone(text: str) -> bool:
    return bool(re.fullmatch(r"[\d\s+\-()/.]+", text)) and sum(c.isdigit() for c in text) >= 5
