"""What an answer looks like: an address with "@" is an e-mail, one of the municipalities is the
municipality, digits with "kr" an amount, a date a date, an area's name the area.

Used to choose between the fields a heading nobody could name may stand for, never to overrule
a clearly labelled answer.
"""

from __future__ import annotations

import re
from functools import lru_cache

from blankett.models.normalise import (
    AreaIndex,
    MunicipalityIndex,
    clean_email,
    is_email,
    is_phone,
    parse_amount,
    parse_date,
)
from blankett.models.spec import FormSpec
from blankett.models.text import fold

# How much a shape says: one that only one field's answers have, one that points to a field,
# and the pull of a long text towards the description parts (and away from one-line fields).
CERTAIN = 3.0
LIKELY = 1.5
LONG_TEXT = 0.8
# Words that make a text a description rather than a one-line value.
LONG_WORDS = 8

_CURRENCY = re.compile(r"\b(?:kr|kronor|sek|tkr|tusen)\b|:-|\d\s*kr\b", re.IGNORECASE)
_NAME = re.compile(r"[A-ZÅÄÖÉ][\w'\-]+(?:\s+[A-ZÅÄÖÉ][\w'\-]+){1,3}")
# A library's name, not a librarian's title ("bibliotekarie", "bibliotekschef").
_LIBRARY = re.compile(r"bibliotek(?!s?chef|ari)")
_BOX = re.compile(r"[☒☐☑□■]|\[[ xX]?\]")


class Shapes:
    def __init__(self, spec: FormSpec) -> None:
        self._municipalities = MunicipalityIndex(spec)
        self._areas = AreaIndex(spec)
        self._descriptions = tuple(f.key for f in spec.fields if f.kind == "description")
        self._one_line = tuple(f.key for f in spec.fields if f.one_line)

    @lru_cache(maxsize=2048)  # noqa: B019 - lives as long as its spec
    def fits(self, text: str) -> dict[str, float]:
        """How well the answer's shape suits each field it suits at all (negative: it does not)."""
        lines = [line.strip() for line in text.split("\n") if line.strip()]
        if not lines:
            return {}
        words = len(text.split())
        if words >= LONG_WORDS:
            out = dict.fromkeys(self._descriptions, LONG_TEXT)
            out.update(dict.fromkeys(self._one_line, -CERTAIN))
            return out
        if _BOX.search(text) or len(self._areas.read(text).areas) == 1:
            return {"strategic_area": CERTAIN}
        return self._one(lines[0]) if len(lines) == 1 else {}

    def _one(self, line: str) -> dict[str, float]:
        if "@" in line and is_email(clean_email(line)):
            return {"contact_email": CERTAIN}
        digits = sum(c.isdigit() for c in line)
        if digits and parse_date(line):
            return {"date": CERTAIN}
        if digits >= 6 and is_phone(line):
            return {"contact_phone": CERTAIN}
        if digits and (_CURRENCY.search(line) or re.fullmatch(r"[\d\s.,]+", line)) \
                and parse_amount(line) is not None:
            return {"requested_amount_sek": CERTAIN}
        if _LIBRARY.search(fold(line)):
            # A library's name, or an activity named after it: no person's name.
            return {"library": LIKELY, "contact_name": -LIKELY, "signatory": -LIKELY}
        if len(line.split()) <= 3 and self._municipalities.canonical(line):
            return {"municipality": CERTAIN}
        name, _, title = line.partition(",")
        if _NAME.fullmatch(name.strip()):
            # A name with a title after it ("Eva Berg, bibliotekschef") is how a form is signed.
            return {"signatory": LIKELY, "contact_name": 1.0} if title.strip() else \
                {"contact_name": LIKELY, "signatory": 1.0}
        return {}
