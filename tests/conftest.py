"""Shared test fixtures: the generated corpus of forms, built once per session into a temp dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from blankett.fixtures.corpus import Case, write_corpus

YEAR = 2026


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("corpus")


@pytest.fixture(scope="session")
def corpus(corpus_dir: Path) -> list[Case]:
    return write_corpus(corpus_dir, year=YEAR)
