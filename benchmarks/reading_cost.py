"""What reading a form costs against the bare parse of its file by the library beneath.

Run: .venv/bin/python benchmarks/reading_cost.py [--repeat 5]

For each form of the corpus and of the reworded sets, in this process (no worker), the median of
`repeat` runs of:

- blankett's read: sniff, parse, find the answers and place them (extractors.read);
- the bare parse: for a Word file python-docx opening it and walking every paragraph and table
  cell; for a fillable PDF pypdf's `get_fields()`; for a printed PDF pdfminer interpreting every
  page into characters (what the reader starts from).

Prints a Markdown table for BENCHMARKS.md: the medians per kind and the ratio of the two.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections import defaultdict
from collections.abc import Callable

import docx
from pdfminer.high_level import extract_pages
from pypdf import PdfReader

from blankett.extractors import ReadContext, read
from blankett.extractors.sniff import sniff
from blankett.fixtures.corpus import Case, build_corpus
from blankett.fixtures.messy import messy_cases
from blankett.fixtures.reworded import reworded_cases
from blankett.models.spec import load_spec


def bare_docx(data: bytes) -> None:
    document = docx.Document(io.BytesIO(data))
    for paragraph in document.paragraphs:
        _ = paragraph.text
    for table in document.tables:
        for row in table.rows:
            for cell in row.cells:
                _ = cell.text


def bare_form(data: bytes) -> None:
    PdfReader(io.BytesIO(data)).get_fields()


def bare_printed(data: bytes) -> None:
    for page in extract_pages(io.BytesIO(data), laparams=None):
        _ = list(page)


BARE: dict[str, Callable[[bytes], None]] = {
    "docx": bare_docx, "pdf-form": bare_form, "pdf-text": bare_printed,
}


def median_ms(function: Callable[[], object], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        runs.append((time.perf_counter() - start) * 1000)
    return statistics.median(runs)


def forms() -> list[Case]:
    """The forms of the corpus, of the reworded sets and of the messy set that a bare parse opens.
    Old formats (.doc, .odt, .rtf) are read as Word files once LibreOffice has converted them:
    python-docx cannot open them, so they have no bare parse to compare with."""
    return [c for c in (*build_corpus(2026), *reworded_cases("tune"), *reworded_cases("heldout"),
                        *messy_cases()) if c.kind in BARE and sniff(c.data) in ("docx", "pdf")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    context = ReadContext(load_spec())
    cases = forms()
    ours: dict[str, list[float]] = defaultdict(list)
    bare: dict[str, list[float]] = defaultdict(list)
    # Both warm: the first read of each kind pays for imports and caches.
    for case in cases[:3]:
        read(case.data, context)
    for case in cases:
        ours[case.kind].append(median_ms(lambda c=case: read(c.data, context), args.repeat))
        bare[case.kind].append(median_ms(lambda c=case: BARE[c.kind](c.data), args.repeat))
    print("| kind | forms | blankett median ms | bare parse median ms | ratio |")
    print("|---|---|---|---|---|")
    for kind in BARE:
        ours_ms, bare_ms = statistics.median(ours[kind]), statistics.median(bare[kind])
        print(f"| {kind} | {len(ours[kind])} | {ours_ms:.1f} | {bare_ms:.1f} | {ours_ms / bare_ms:.2f} |")


if __name__ == "__main__":
    main()
