"""One file read in a worker under a time and a memory limit: a hostile file costs a refusal."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from blankett.extractors import ReadContext, Unreadable
from blankett.fixtures.corpus import Case
from blankett.fixtures.hostile import (
    flate_bomb_pdf,
    giant_image_docx,
    giant_image_pdf,
    reference_loop_pdf,
)
from blankett.flows.pipeline.examine import Examiner, Failure
from blankett.flows.pipeline.isolation import read_isolated
from blankett.models.limits import MB, Limits
from blankett.models.records import Report
from blankett.models.spec import load_routing, load_spec

SPEC = load_spec()


def test_a_stream_inflating_past_the_memory_limit_is_refused_quickly() -> None:
    bomb = flate_bomb_pdf(400)
    assert len(bomb) < 1024 * 1024
    start = time.monotonic()
    with pytest.raises(Unreadable, match="MB"):
        read_isolated(bomb, ReadContext(SPEC), seconds=60, memory_bytes=256 * MB)
    assert time.monotonic() - start < 30


def test_a_read_past_the_time_limit_is_stopped(corpus: list[Case]) -> None:
    printed = next(c for c in corpus if c.kind == "pdf-text")
    with pytest.raises(Unreadable, match="longer than"):
        read_isolated(printed.data, ReadContext(SPEC), seconds=0.001, memory_bytes=1024 * MB)


def test_the_worker_reads_what_the_process_reads(corpus: list[Case]) -> None:
    # Without OCR: Tesseract runs as a program of its own either way, and a scan costs seconds.
    isolated = Examiner(SPEC, load_routing(), 2026, Limits(ocr=False))
    inline = Examiner(SPEC, load_routing(), 2026, Limits(read_seconds=None, ocr=False))
    for case in corpus[::5]:
        a, b = isolated.examine_bytes(case.name, case.data), inline.examine_bytes(case.name, case.data)
        assert type(a) is type(b)
        if isinstance(a, Report):
            assert isinstance(b, Report) and a.model_dump() == b.model_dump()
        else:
            assert isinstance(a, Failure) and isinstance(b, Failure) and a.line == b.line


def test_the_other_files_of_a_run_are_read_after_a_hostile_one(corpus: list[Case]) -> None:
    examiner = Examiner(SPEC, load_routing(), 2026, Limits(read_memory_mb=256))
    bomb = examiner.examine_bytes("bomb.pdf", flate_bomb_pdf(400))
    assert isinstance(bomb, Failure) and bomb.line.startswith("error: bomb.pdf ")
    good = next(c for c in corpus if c.kind == "docx" and c.complete)
    assert isinstance(examiner.examine_bytes(good.name, good.data), Report)


def test_a_worker_that_cannot_start_says_so_in_one_line() -> None:
    # As in the forkserver when the run handing a worker its file is killed mid-way.
    done = subprocess.run([sys.executable, "-c", "import blankett.flows.pipeline.worker_start\n"
                           "import pickle; pickle.loads(b'\\x80\\x04\\x95')"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("a reader worker did not start (UnpicklingError: ")


@pytest.mark.parametrize(("make", "kind"), [
    (reference_loop_pdf, None),  # refused: its page tree is its own child
    (giant_image_pdf, "pdf-scanned"),  # only an image: a scan, its pixels never decoded
    (giant_image_docx, "docx"),  # the picture is left alone, the text read
])
def test_reference_loops_and_giant_images_cost_no_more_than_a_normal_file(
        make: Callable[[], bytes], kind: str | None) -> None:
    data = make()
    for limits in (Limits(read_memory_mb=256), Limits(read_seconds=None)):  # in a worker, and not
        examiner = Examiner(SPEC, load_routing(), 2026, limits)
        start = time.monotonic()
        outcome = examiner.examine_bytes("hostile", data)
        assert time.monotonic() - start < 10
        if kind is None:
            assert isinstance(outcome, Failure) and "\n" not in outcome.line
            assert outcome.line.startswith("error: hostile is a damaged PDF")
        else:
            assert isinstance(outcome, Report) and outcome.kind == kind
