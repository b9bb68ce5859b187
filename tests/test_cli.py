"""`blankett extract` as a person or a script runs it: exit codes, output lines, errors (run
inside the test's process, tests/cli_support.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import blankett_here as blankett

from blankett.fixtures.corpus import Case
from blankett.models.records import SCAN_KINDS
from blankett.models.spec import CORE_KEYS

KINDS = {"docx", "pdf-form", "pdf-text", "pdf-scanned", "image"}


def _paths(corpus_dir: Path, cases: list[Case]) -> list[Path]:
    return [corpus_dir / c.name for c in cases]


def test_json_lines_for_every_readable_form(corpus: list[Case], corpus_dir: Path) -> None:
    # Every form of the readers that parse, and one scan of each kind: a scan's line is made
    # like any other, and OCR takes seconds a page (tests/test_ocr.py reads scans of each
    # resolution, mode and container).
    scans = {c.kind: c for c in reversed(corpus) if c.kind in SCAN_KINDS}
    good = [c for c in corpus if c.kind is not None
            and (c.kind not in SCAN_KINDS or scans[c.kind] is c)]
    assert {c.kind for c in good} == KINDS
    result = blankett("extract", "--json", "--year", "2026", *_paths(corpus_dir, good))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == len(good)
    for case, line in zip(good, lines, strict=True):
        obj = json.loads(line)
        # Every key the JSON had before headings were read by their meaning, and the two since.
        assert set(obj) == {"file", "sha256", "kind", "fields", "complete", "problems",
                            "consultants", "sources", "needs_review", "unplaced"}
        assert obj["file"].endswith(case.name)
        assert obj["kind"] == case.kind and obj["kind"] in KINDS
        assert set(obj["fields"]) == set(CORE_KEYS)
        assert len(obj["sha256"]) == 64
        assert obj["consultants"] and all("@" in a for a in obj["consultants"])
        for problem in obj["problems"]:
            assert set(problem) == {"field", "code", "severity", "message"}
            assert problem["severity"] in ("error", "warning")
        for source in obj["sources"].values():
            assert set(source) == {"method", "label", "page", "matched_by", "confidence"}
            assert source["matched_by"] in ("label", "synonym", "words", "position", "shape")
            assert 0 < source["confidence"] <= 1


def test_bad_files_exit_2_with_one_error_line_each_and_the_rest_reported(
        corpus: list[Case], corpus_dir: Path) -> None:
    bad = [c for c in corpus if c.kind is None]
    good = [c for c in corpus if c.kind is not None][:3]
    result = blankett("extract", "--json", *_paths(corpus_dir, [*bad, *good]))
    assert result.returncode == 2
    errors = result.stderr.splitlines()
    assert len(errors) == len(bad)
    for case, line in zip(bad, errors, strict=True):
        assert line.startswith(f"error: {corpus_dir / case.name} ")
        assert case.error is not None and case.error in line.lower()
    assert "Traceback" not in result.stderr
    assert len(result.stdout.splitlines()) == len(good)


def test_human_summary_names_fields_problems_and_consultants(
        corpus: list[Case], corpus_dir: Path) -> None:
    incomplete = next(c for c in corpus if c.kind == "docx" and c.complete is False)
    result = blankett("extract", "--year", "2026", corpus_dir / incomplete.name)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert incomplete.name in out and "ofullständig" in out
    assert "Kommun" in out and "Målgrupp" in out
    assert "saknas" in out
    assert "@" in out


@pytest.mark.parametrize(("args", "expected"), [
    (["extract", "/no/such/form.docx"], "error: /no/such/form.docx does not exist"),
    (["extract", "/"], "error: / is a folder, not a file"),
])
def test_missing_paths(args: list[str], expected: str) -> None:
    result = blankett(*args)
    assert result.returncode == 2
    assert result.stderr.strip() == expected


def test_a_broken_routing_file_is_one_clear_line(tmp_path: Path, corpus: list[Case],
                                                 corpus_dir: Path) -> None:
    routing = tmp_path / "routing.toml"
    routing.write_text('[areas]\nopen = ["a@example.org"]\n[fallback]\nconsultants = ["b@example.org"]\n')
    result = blankett("extract", "--routing", routing, corpus_dir / corpus[0].name)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {routing}: ")
    assert "reading" in result.stderr and len(result.stderr.splitlines()) == 1

    routing.write_text("[areas\n")
    result = blankett("extract", "--routing", routing, corpus_dir / corpus[0].name)
    assert result.returncode == 2 and "not valid TOML" in result.stderr


def test_a_routing_file_changes_who_receives_the_form(tmp_path: Path, corpus: list[Case],
                                                      corpus_dir: Path) -> None:
    routing = tmp_path / "routing.toml"
    routing.write_text(
        '[areas]\nopen = ["open@example.org"]\nreading = ["reading@example.org"]\n'
        'digital = ["digital@example.org"]\nlearning = ["learning@example.org"]\n'
        '[fallback]\nconsultants = ["fallback@example.org"]\n')
    case = next(c for c in corpus if c.kind == "docx" and c.fields.get("strategic_area"))
    result = blankett("extract", "--json", "--routing", routing, corpus_dir / case.name)
    assert json.loads(result.stdout)["consultants"] == [f"{case.fields['strategic_area']}@example.org"]


def test_extract_does_not_import_prefect(corpus: list[Case], corpus_dir: Path) -> None:
    code = ("import sys\nfrom blankett.flows.cli.app import app\n"
            f"try:\n    app(['extract', '--json', {str(corpus_dir / corpus[0].name)!r}])\n"
            "except SystemExit:\n    pass\n"
            "assert 'prefect' not in sys.modules, 'prefect imported'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr


def test_help_reads_whole_sentences_and_flags_take_no_value() -> None:
    result = blankett("--help")
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    # Each command's first sentence whole (not cut off with "..."), no type tag on a flag.
    assert "...\n" not in result.stdout.split("Commands:")[1] and "<bool>" not in result.stdout
    assert "with a periodic full scan for shared drives that send no change events." in text
    run_help = blankett("watch", "--help").stdout
    assert "for shared drives" in " ".join(run_help.split())
    extract_help = " ".join(blankett("extract", "--help").stdout.split())
    assert "scan or photo (PNG, JPEG, TIFF) read by OCR" in extract_help


@pytest.mark.parametrize(("args", "says"), [
    (["decide", "1", "maybe"], "'maybe' is not one of 'granted', 'declined'"),
    (["show"], "Missing argument 'ID'"),
    (["nope"], "No such command 'nope'"),
    (["status", "--bogus"], "No such option: --bogus"),
    (["extract", "--max-pages", "0", "x.pdf"], "'--max-pages'"),
])
def test_a_mistake_on_the_command_line_is_one_line_naming_the_help(args: list[str], says: str) -> None:
    """click's own message is three lines (usage, a hint, the error); every other mistake a
    person can make is one."""
    result = blankett(*args)
    assert result.returncode == 2 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ") and says in line, line
    assert line.endswith(f"(see `blankett{' ' + args[0] if args[0] != 'nope' else ''} --help`)"), line


def test_the_command_alone_shows_its_help() -> None:
    result = blankett()
    assert "Commands:" in result.stdout + result.stderr and "Traceback" not in result.stderr
