"""Shared test fixtures: the generated corpus of forms, built once per session into a temp dir;
the markers that pick the long tests out for a quick edit loop (README, "For developers")."""

from __future__ import annotations

from pathlib import Path

import pytest

from blankett.fixtures.corpus import Case, write_corpus

YEAR = 2026
# The tests each marker names, by module: crash, fault and load runs; tests that start Prefect
# servers or blankett's commands as processes; tests that run Tesseract.
MARKED = {
    "reliability": {"test_crash", "test_watch_crash", "test_load", "test_faults"},
    "server": {"test_pipeline_cli", "test_pipeline_flows"},
    "ocr": {"test_ocr", "test_scan_image"},
}


# Started first, so that on two cores they run beside the many short tests rather than alone
# at the end: the longest take a minute.
FIRST = ("test_watch_crash", "test_load", "test_crash", "test_pipeline_cli", "test_faults")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.path.stem
        for marker, modules in MARKED.items():
            if module in modules:
                item.add_marker(marker)
    items.sort(key=lambda item: FIRST.index(item.path.stem) if item.path.stem in FIRST else len(FIRST))


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("corpus")


@pytest.fixture(scope="session")
def corpus(corpus_dir: Path) -> list[Case]:
    return write_corpus(corpus_dir, year=YEAR)
