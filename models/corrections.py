"""A consultant's corrections of what was read: each takes the place of the value read for its
field, and is checked by the same rules as if the form had said it."""

from __future__ import annotations

from collections.abc import Mapping

from blankett.models.records import Extraction, FoundValue, Source

# How a corrected field's source names who corrected it (Source.label): the reports and
# `blankett show` say it as it stands.
CORRECTED_BY = "rättat av {who}"


def corrected(extraction: Extraction, corrections: Mapping[str, tuple[str, str]]) -> Extraction:
    """`extraction` with `corrections` ({field: (value, who)}) in place of the values read. An
    empty value empties the field. The extraction given is left as it is: what the reader read
    stays what is stored, and corrections are applied to it afresh each time it is checked."""
    if not corrections:
        return extraction
    values = dict(extraction.values)
    for key, (value, who) in corrections.items():
        values[key] = FoundValue(value=value, source=Source(
            method="correction", label=CORRECTED_BY.format(who=who)))
    return extraction.model_copy(update={"values": values})


def corrected_by(source: Mapping[str, object] | None) -> str | None:
    """"rättat av anna" when a stored source (Result.sources' value) is a correction."""
    if source and source.get("method") == "correction":
        return str(source.get("label") or "")
    return None
