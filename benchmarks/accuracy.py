"""How well the readers do on forms worded the applicant's own way: the figures of ACCURACY.md.

Run: .venv/bin/python benchmarks/accuracy.py [--per-layout 6] [--failures]

Scores three sets: the fixture corpus (fixtures/corpus.py), the tune half and the held-out half
of the reworded forms (fixtures/reworded.py). For each:

- field accuracy: the share of (form, field) pairs read as expected, all 20 fields, texts
  compared as a reader sees them (bullets and line breaks aside);
- verdicts: the share of forms whose completeness (complete or not) is right;
- missing-field F1: over the fields reported missing against those really left out;
- not the form: the files refused as another document than the form (models/identity.py): none
  of the forms, blank and almost empty forms included, and every one of the other documents
  (fixtures/other_documents.py: minutes, letters, invoices, reports, budgets, plans).
"""

from __future__ import annotations

import argparse
import io
import platform
import re
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from pypdf import PdfReader

from blankett.fixtures.corpus import Case, build_corpus
from blankett.flows.pipeline.examine import Examiner, Failure
from blankett.models.limits import Limits
from blankett.models.records import Report
from blankett.models.spec import load_routing, load_spec

YEAR = 2026


def comparable(value: str | int | None) -> str | int | None:
    """Texts compared as a reader sees them: bullets and line breaks do not matter."""
    if not isinstance(value, str):
        return value
    lines = (re.sub(r"^\s*(?:[•\-*–▪◦]|\d+[.)])\s+", "", line) for line in value.splitlines())
    return " ".join(" ".join(lines).split())


@dataclass
class Tally:
    right: int = 0
    total: int = 0

    def add(self, ok: bool) -> None:
        self.right += ok
        self.total += 1

    @property
    def share(self) -> float:
        return self.right / self.total if self.total else 1.0


@dataclass
class Scores:
    forms: int = 0
    fields: Tally = field(default_factory=Tally)
    verdicts: Tally = field(default_factory=Tally)
    by_field: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    # Field accuracy and verdicts by kind of file and by layout (the messy sets: by mess).
    by_group: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    verdict_by_group: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_kind: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    verdict_by_kind: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    true_missing: int = 0
    said_missing: int = 0
    both_missing: int = 0
    # Forms refused as another document than the form.
    not_the_form: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def missing_f1(self) -> float:
        if not self.true_missing and not self.said_missing:
            return 1.0
        return 2 * self.both_missing / (self.true_missing + self.said_missing)


def _missing(problems: Iterable[tuple[str | None, str]]) -> set[str]:
    return {f for f, code in problems if code == "missing" and f}


def score(cases: Iterable[Case], examiner: Examiner, group_of: str = "kind") -> Scores:
    """Every readable form of `cases` read and compared with what it should give. `group_of`
    names the per-group rows: the kind of file, or the layout (its second tag)."""
    scores = Scores()
    for case in cases:
        if case.kind is None or case.kind in ("pdf-scanned", "image"):
            continue
        group = case.kind if group_of == "kind" else case.name.split("_", 1)[1].rsplit(".", 1)[0] \
            if "messy" in case.tags else sorted(case.tags - {"tune", "heldout"})[0]
        result = examiner.examine_bytes(case.name, case.data)
        scores.forms += 1
        if isinstance(result, Failure):
            scores.not_the_form += result.kind == "not_the_form"
            got: dict[str, object] = {}
            problems: set[tuple[str | None, str]] = set()
            complete = None
        else:
            assert isinstance(result, Report)
            got = {k: comparable(v) for k, v in result.fields.items()}
            problems = {(p.field, p.code) for p in result.problems}
            complete = result.complete
        for key, expected in case.fields.items():
            ok = got.get(key) == comparable(expected)
            scores.fields.add(ok)
            scores.by_field[key].add(ok)
            scores.by_group[group].add(ok)
            scores.by_kind[case.kind].add(ok)
            if not ok:
                scores.failures.append(f"{case.name} {key}: read {str(got.get(key))[:90]!r}, "
                                       f"expected {str(comparable(expected))[:90]!r}")
        verdict_ok = complete is case.complete
        scores.verdicts.add(verdict_ok)
        scores.verdict_by_group[group].add(verdict_ok)
        scores.verdict_by_kind[case.kind].add(verdict_ok)
        truth, said = _missing(case.problems), _missing(problems)
        scores.true_missing += len(truth)
        scores.said_missing += len(said)
        scores.both_missing += len(truth & said)
    return scores


def examiner() -> Examiner:
    # Read in this process: the worker's isolation changes nothing of what is read.
    return Examiner(load_spec(), load_routing(), YEAR, Limits(read_seconds=None))


def table(name: str, scores: Scores) -> list[str]:
    return [f"| {name} | {scores.forms} | {scores.fields.share:.3f} | {scores.verdicts.share:.3f} "
            f"| {scores.missing_f1:.3f} |"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-layout", type=int, default=6, help="forms per layout and half")
    parser.add_argument("--failures", action="store_true", help="list every wrong field of the tune half")
    parser.add_argument("--half", choices=("tune", "heldout", "both"), default="both")
    parser.add_argument("--scans", action="store_true",
                        help="instead: scans of corpus forms read by OCR, by resolution and skew")
    parser.add_argument("--printed-scans", action="store_true",
                        help="instead: printed forms of every set scanned and read by OCR")
    args = parser.parse_args()
    if args.scans:
        return scans()
    if args.printed_scans:
        return printed_scans(args.per_layout, args.half, args.failures)

    from blankett.fixtures.messy import messy_cases
    from blankett.fixtures.reworded import reworded_cases

    reader = examiner()
    sets: dict[str, list[Case]] = {"corpus": build_corpus(YEAR), "messy": messy_cases()}
    halves = ("tune", "heldout") if args.half == "both" else (args.half,)
    for half in halves:
        sets[half] = reworded_cases(half, YEAR, args.per_layout)  # type: ignore[arg-type]
    results = {name: score(cases, reader, "kind" if name == "corpus" else "layout")
               for name, cases in sets.items()}
    print(f"Python {platform.python_version()}, {args.per_layout} forms per layout and half.\n")

    print("| set | forms | field accuracy | verdicts right | missing-field F1 |")
    print("|---|---|---|---|---|")
    for name, scores in results.items():
        print("\n".join(table(name, scores)))
    names = list(results)
    print("\n| field | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for key in results[names[0]].by_field:
        print(f"| {key} | " + " | ".join(f"{results[n].by_field[key].share:.2f}" for n in names) + " |")
    print("\n| kind of file | " + " | ".join(f"{n} forms | {n} fields | {n} verdicts" for n in names) + " |")
    print("|---|" + "---|---|---|" * len(names))
    for kind in ("docx", "pdf-form", "pdf-text"):
        cells = []
        for n in names:
            tally, verdicts = results[n].by_kind.get(kind), results[n].verdict_by_kind.get(kind)
            cells.append(f"{verdicts.total} | {tally.share:.3f} | {verdicts.share:.3f}"
                         if tally and verdicts else "– | – | –")
        print(f"| {kind} | " + " | ".join(cells) + " |")
    print_layouts(results)
    print_identity(results, reader)
    if args.failures:
        for name in ("corpus", "messy", "tune"):
            if name in results:
                print(f"\n## wrong in {name}\n")
                print("\n".join(results[name].failures))
    return 0


def refused(data: Iterable[tuple[str, bytes]], examiner: Examiner) -> tuple[int, int]:
    """(files, those refused as not the form)."""
    files = taken = 0
    for name, content in data:
        result = examiner.examine_bytes(name, content)
        files += 1
        taken += isinstance(result, Failure) and result.kind == "not_the_form"
    return files, taken


def print_identity(results: dict[str, Scores], examiner: Examiner) -> None:
    """Forms taken for another document, and other documents taken for the form."""
    from blankett.fixtures.corpus import almost_empty_forms
    from blankett.fixtures.other_documents import other_documents

    print("\n| set | files | refused as not the form |")
    print("|---|---|---|")
    for name, scores in results.items():
        print(f"| {name} | {scores.forms} | {scores.not_the_form} |")
    sparse = refused(((c.name, c.data) for c in almost_empty_forms(YEAR)), examiner)
    print(f"| blank and almost empty forms | {sparse[0]} | {sparse[1]} |")
    others = refused(((d.name, d.data) for d in other_documents()), examiner)
    print(f"| other documents (all should be) | {others[0]} | {others[1]} |")


def scans() -> int:
    """Applications scanned at every resolution, mode and skew of the grid, read by OCR: field
    accuracy, and whether the verdict is the one the digital form gets (its own, as the corpus
    reads every digital form right)."""
    from blankett.extractors import ocr
    from blankett.fixtures.answers import application, profile
    from blankett.fixtures.form import MUNICIPALITIES, REQUIRED
    from blankett.fixtures.scans import GRID, scanned_file
    from blankett.fixtures.themes import THEMES

    if ocr.tesseract() is None:
        print(f"Tesseract with its Swedish model is not installed ({ocr.INSTALL_HINT}).")
        return 1
    reader = examiner()
    apps = []
    for n in range(6):
        app = application(profile(MUNICIPALITIES[n * 8], n), THEMES[n % len(THEMES)], YEAR, variant=n)
        apps.append(app.empty(*sorted(REQUIRED)[n:n + 1]) if n % 3 == 2 else app)
    print(f"Python {platform.python_version()}, {len(apps)} applications (two with an answer left "
          "out), each scanned in every way of the grid.\n")
    print("| dpi | mode | skew | forms | field accuracy | verdicts as the digital form | s a page |")
    print("|---|---|---|---|---|---|---|")
    for scan in GRID:
        fields, verdicts, seconds, pages = Tally(), Tally(), 0.0, 0
        for n, app in enumerate(apps):
            data = scanned_file(app, scan, f"scan-{n}")
            start = time.perf_counter()
            report = reader.examine_bytes(scan.name, data)
            seconds += time.perf_counter() - start
            pages += len(PdfReader(io.BytesIO(data)).pages)
            got = report.fields if isinstance(report, Report) else {}
            for key, expected in app.expected.items():
                fields.add(comparable(got.get(key)) == comparable(expected))
            verdicts.add(isinstance(report, Report) and report.complete is app.complete)
        print(f"| {scan.dpi} | {scan.mode} | {scan.skew:g}° | {verdicts.total} | {fields.share:.3f} "
              f"| {verdicts.share:.3f} | {seconds / max(pages, 1):.1f} |")
    return 0


def print_layouts(results: dict[str, Scores]) -> None:
    """Each set's figures by layout (the corpus's are by kind of file, above)."""
    for name, scores in results.items():
        if name == "corpus":
            continue
        print(f"\n| {name}: layout | forms | field accuracy | verdicts right |")
        print("|---|---|---|---|")
        for group, tally in sorted(scores.by_group.items()):
            verdicts = scores.verdict_by_group[group]
            print(f"| {group} | {verdicts.total} | {tally.share:.3f} | {verdicts.share:.3f} |")


def printed_scans(per_layout: int, half: str, failures: bool) -> int:
    """The printed and exported PDFs of every set (tables, columns, letterheads, headings in the
    applicant's words) as a scanner sees them: drawn at 200 dpi in grey, turned 1°, specked,
    JPEG, then read by OCR. Fillable forms are left out: a box shows only the part of a long
    answer that fits it, so the expected answer is not on the paper."""
    from dataclasses import replace

    from blankett.extractors import ocr
    from blankett.fixtures.messy import messy_cases
    from blankett.fixtures.reworded import reworded_cases
    from blankett.fixtures.scans import Scan, scanned_print

    if ocr.tesseract() is None:
        print(f"Tesseract with its Swedish model is not installed ({ocr.INSTALL_HINT}).")
        return 1
    scan = Scan(dpi=200, mode="grey", skew=1.0)
    sets: dict[str, list[Case]] = {"corpus": build_corpus(YEAR), "messy": messy_cases()}
    for name in ("tune", "heldout") if half == "both" else (half,):
        sets[name] = reworded_cases(name, YEAR, per_layout)  # type: ignore[arg-type]
    reader = examiner()
    print(f"Python {platform.python_version()}, {per_layout} forms per layout; every printed "
          f"form scanned at {scan.dpi} dpi, {scan.mode}, turned {scan.skew:g}°.\n")
    print("| set | forms | field accuracy | verdicts right | missing-field F1 | s a form |")
    print("|---|---|---|---|---|---|")
    results = {}
    for name, cases in sets.items():
        printed = [replace(c, data=scanned_print(c.data, scan, c.name)) for c in cases
                   if c.kind == "pdf-text"]
        start = time.perf_counter()
        results[name] = score(printed, reader, "kind" if name == "corpus" else "layout")
        seconds = (time.perf_counter() - start) / max(1, len(printed))
        print(f"{table(name, results[name])[0]} {seconds:.1f} |")
    print_layouts(results)
    print("\n| set | files | refused as not the form |")
    print("|---|---|---|")
    for name, scores in results.items():
        print(f"| {name} | {scores.forms} | {scores.not_the_form} |")
    from blankett.fixtures.other_documents import other_documents

    others = refused(((d.name, scanned_print(d.data, scan, d.name)) for d in other_documents()
                      if d.kind == "pdf-text"), reader)
    print(f"| other documents (all should be) | {others[0]} | {others[1]} |")
    if failures:
        for name in ("corpus", "messy", "tune"):
            if name in results:
                print(f"\n## wrong in {name}\n")
                print("\n".join(results[name].failures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
