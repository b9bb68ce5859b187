"""The SMTP password is read from the environment and goes nowhere else: not into the store,
the logs, the outbox, the reports or an error line."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pipeline_support import by_name, drop, free_port, intake_pass, make_home

from blankett.fixtures.corpus import Case
from blankett.flows.home.settings import load_home
from blankett.flows.pipeline.resources import open_pipeline

SECRET = "Hemligt-Lösen-7731"


def test_the_password_is_nowhere_but_in_the_environment(
        corpus: list[Case], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "home"
    make_home(root, smtp_port=free_port())  # nothing listens there: every delivery fails
    settings = root / "blankett.toml"
    settings.write_text(settings.read_text().replace('[smtp]\n', '[smtp]\nuser = "blankett"\n', 1))
    home = load_home(root, variables={"BLANKETT_SMTP_PASSWORD": SECRET})
    drop(home, by_name(corpus, "docx_mall_goteborg.docx", "ansokan_word97.doc"))
    caplog.set_level(logging.DEBUG)
    pipeline = open_pipeline(home)
    try:
        taken, delivered = intake_pass(pipeline)
    finally:
        pipeline.close()
    assert len(taken) == 2 and delivered.pending == 2  # the server is down: queued, not lost
    assert SECRET not in caplog.text
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert SECRET.encode() not in data and SECRET.encode("utf-16-le") not in data, path
