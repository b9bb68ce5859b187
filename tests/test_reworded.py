"""Forms worded the applicant's own way and real documents' mess, read end to end.

The tune half of the reworded forms and the messy forms are checked field by field: they are what
the readers were improved against, and must stay right. The held-out half is only scored, against
the bar the readers must clear; none of its wordings may find its way into the label list.
`.venv/bin/python benchmarks/accuracy.py` prints every figure (ACCURACY.md).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
import shared_sets
from accuracy_support import ACCURACY

from blankett.fixtures.corpus import Case
from blankett.fixtures.libreoffice import soffice
from blankett.fixtures.reworded import LAYOUTS, WORDINGS, reworded_cases
from blankett.models.records import Report
from blankett.models.spec import load_spec
from blankett.models.text import fold_label

ROOT = Path(__file__).resolve().parent.parent
# What the held-out half must score, by the measure of the issue that asked for it.
HELDOUT_FIELDS = 0.95
HELDOUT_VERDICTS = 0.90


EXAMINER = ACCURACY.examiner()


@cache
def tune() -> list[Case]:
    return shared_sets.tune()


@cache
def messy() -> list[Case]:
    return shared_sets.messy()


def _check(case: Case) -> None:
    report = EXAMINER.examine_bytes(case.name, case.data)
    assert isinstance(report, Report), report
    got = {k: ACCURACY.comparable(v) for k, v in report.fields.items()}
    expected = {k: ACCURACY.comparable(v) for k, v in case.fields.items()}
    wrong = {k: (got.get(k), v) for k, v in expected.items() if got.get(k) != v}
    assert wrong == {}, "field: (read, expected)"
    assert report.complete is case.complete


@pytest.mark.parametrize("case", tune(), ids=lambda c: c.name)
def test_tune_forms_are_read_right(case: Case) -> None:
    _check(case)


@pytest.mark.parametrize("case", messy(), ids=lambda c: c.name)
def test_messy_forms_are_read_right(case: Case) -> None:
    _check(case)


def test_libreoffice_exports_are_part_of_the_run() -> None:
    """Without LibreOffice the exported layouts would silently drop out of the figures."""
    if soffice() is None:
        pytest.skip("LibreOffice is not installed (`.ci/run` installs it)")
    assert any(c.name.endswith("_libreoffice.pdf") for c in messy())
    exported = {layout.name for layout in LAYOUTS["tune"] if layout.exported}
    assert exported <= {sorted(c.tags - {"tune"})[0] for c in tune()}


def test_the_heldout_half_clears_the_bar() -> None:
    scores = ACCURACY.score(reworded_cases("heldout", per_layout=shared_sets.PER_LAYOUT), EXAMINER, "layout")
    # Only the shares: what was wrong stays unseen, so that nobody tunes to it.
    assert scores.fields.share >= HELDOUT_FIELDS, f"field accuracy {scores.fields.share:.3f}"
    assert scores.verdicts.share >= HELDOUT_VERDICTS, f"verdicts {scores.verdicts.share:.3f}"
    # A form in words nobody tuned the readers to is still the form, never another document.
    assert scores.not_the_form == 0, f"{scores.not_the_form} refused as not the form"


def test_no_heldout_wording_is_in_the_label_list() -> None:
    """A wording the readers were never tuned to must not have been copied into form.toml. Some
    held-out wordings are common enough that the list had them before the held-out half was
    written; only those may match."""
    before = {line for line in (ROOT / "tests" / "data" / "labels_before_heldout.txt")
              .read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")}
    spec = load_spec()
    listed = {fold_label(label) for f in spec.fields for label in (*f.labels, *f.questions)}
    listed |= {fold_label(h) for h in spec.form.section_headings}
    toml = (ROOT / "models" / "form.toml").read_text(encoding="utf-8").casefold()
    for key, wordings in WORDINGS["heldout"].items():
        for wording in wordings:
            folded = fold_label(wording)
            assert folded not in listed or folded in before, (key, wording)
            # Longer wordings not even inside a description.
            if len(wording.split()) >= 4 and folded not in before:
                core = re.sub(r"^[\w.]{1,4}[.):]\s+", "", wording.strip()).rstrip("?:").casefold()
                assert core not in toml, (key, wording)


def test_the_halves_share_no_wording_and_no_layout() -> None:
    def norm(text: str) -> str:
        return re.sub(r"[:?\s]+$", "", text.strip().casefold())

    tune_words = {norm(w) for ws in WORDINGS["tune"].values() for w in ws}
    heldout_words = {norm(w) for ws in WORDINGS["heldout"].values() for w in ws}
    assert not tune_words & heldout_words
    assert not {lay.name for lay in LAYOUTS["tune"]} & {lay.name for lay in LAYOUTS["heldout"]}
