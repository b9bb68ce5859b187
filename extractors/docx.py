"""Reading a Word (.docx) form: the answers in its tables, content controls, legacy form fields,
text boxes and free paragraphs.

python-docx opens the package (docx_package, behind the zip-bomb guard). Only the main document
part is read, with its style sheet to tell headings: page headers, footers, footnotes and comments
are never part of an answer. Its XML is walked directly, below python-docx's objects, because
python-docx's API skips content controls and more. The elements are python-docx's own classes,
some of which redefine `text` (a w:p's is its whole paragraph): the walk reads lxml's `text` of
w:t and w:instrText only, which python-docx leaves alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from blankett.extractors.context import ReadContext
from blankett.extractors.docx_flow import RANK_FLOW, RANK_NAMED, RANK_TABLE, Flow
from blankett.extractors.docx_inline import Named, NameResolver
from blankett.extractors.docx_model import Para, item_lines, para_lines
from blankett.extractors.docx_package import open_word
from blankett.extractors.docx_styles import Styles, wordml_namespace
from blankett.extractors.docx_walk import Walker
from blankett.extractors.errors import Unreadable
from blankett.models.labels import LabelMatch
from blankett.models.records import Extraction, FoundValue, Method, Source


@dataclass(frozen=True)
class _Candidate:
    key: str
    rank: int
    value: FoundValue


def read_docx(data: bytes, context: ReadContext) -> Extraction:
    package = open_word(data, context.limits)
    namespace = wordml_namespace(package.document)
    body = package.document.find(f"{{{namespace}}}body")
    if body is None:
        raise Unreadable("is a damaged Word file: its main document has no body", "damaged_word")
    styles = Styles(package.styles, namespace)

    walker = Walker(namespace, styles, _name_resolver(context))
    flow = Flow(context.matcher)
    flow.read(walker.blocks(body))

    found = flow.placement(context.placer)
    candidates = [_Candidate(k, RANK_FLOW if v.source.method in ("docx-paragraphs", "docx-textbox")
                             else RANK_TABLE, v) for k, v in found.values.items()]
    candidates += [_Candidate(n.match.key, RANK_NAMED, _from_named(n, context)) for n in walker.named]
    return Extraction(kind="docx", values=_merge(candidates), unplaced=found.unplaced)


def _name_resolver(context: ReadContext) -> NameResolver:
    """The field a control's tag or title, or a form field's name, stands for: a field key
    ("purpose") or one of its labels ("Syfte med aktiviteten")."""
    keys = set(context.spec.keys)

    def resolve(tag: str | None, alias: str | None) -> LabelMatch | None:
        label = (alias or tag or "").strip()
        for name in (tag, alias):
            if name and name.strip() in keys:
                return LabelMatch(key=name.strip(), label=label, exact=True)
        # A control's title is written for people, its tag often for code ("Text1", "rubrik_2").
        for name, loose in ((alias, True), (tag, False)):
            found = context.matcher.match(name, loose=loose) if name else None
            if found is not None and found.key:
                return LabelMatch(key=found.key, label=label, exact=found.exact)
        return None

    return resolve


def _from_named(named: Named, context: ReadContext) -> FoundValue:
    payload = named.payload
    if isinstance(payload, str):
        text = "\n".join(line.strip() for line in payload.split("\n") if line.strip())
    elif isinstance(payload, Para):
        text = "\n".join(line.text for line in para_lines(payload, context.matcher.is_hint))
    else:
        text = "\n".join(line.text for line in item_lines(payload, context.matcher.is_hint))
    method: Method = "docx-content-control" if named.kind == "control" else "docx-legacy-field"
    return FoundValue(value=text, source=Source(method=method, label=named.match.label,
                                                matched_by=named.match.by,
                                                confidence=named.match.confidence))


def _merge(candidates: list[_Candidate]) -> dict[str, FoundValue]:
    """Per field: a non-empty answer over an empty one, then the better-ranked reading, then the
    first in the document. Checkboxes of one field named alike are one answer, a line each."""
    candidates = _join_named_checkboxes(candidates)
    best: dict[str, tuple[tuple[bool, int, int], FoundValue]] = {}
    for order, c in enumerate(candidates):
        score = (not c.value.value.strip(), c.rank, order)
        if c.key not in best or score < best[c.key][0]:
            best[c.key] = (score, c.value)
    return {key: value for key, (_, value) in best.items()}


def _join_named_checkboxes(candidates: list[_Candidate]) -> list[_Candidate]:
    out: list[_Candidate] = []
    boxes: dict[str, int] = {}
    for c in candidates:
        text = c.value.value
        if c.rank != RANK_NAMED or not text or text[0] not in "☒☐":
            out.append(c)
            continue
        if c.key not in boxes:
            boxes[c.key] = len(out)
            out.append(c)
            continue
        first = out[boxes[c.key]]
        if text not in first.value.value.split("\n"):
            joined = FoundValue(value=first.value.value + "\n" + text, source=first.value.source)
            out[boxes[c.key]] = _Candidate(c.key, c.rank, joined)
    return out
