"""File names as they come: spaces, Swedish letters, line breaks, leading dashes, dots, very long
names; and what must never be followed out of the inbox."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline_support import Recording, by_name, intake_pass, make_home
from sqlalchemy import select

from blankett.fixtures.corpus import Case
from blankett.flows.pipeline.resources import open_pipeline
from blankett.flows.store.database import Store, Submission

NAMES = [
    "Ansökan Åmål – slutversion (2).docx",
    "rad\nbrytning.docx",
    "-rf.docx",
    "--help.docx",
    "x..docx",
    "x" * 240 + ".docx",
    "ansökan\u0301 nfd.docx",
    "tab\there.docx",
    "semi;colon$(echo hi).docx",
]


def test_every_name_is_taken_filed_inside_the_archive_and_remembered(
        corpus: list[Case], tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    (form,) = by_name(corpus, "docx_mall_goteborg.docx")
    for n, name in enumerate(NAMES):
        # Different bytes each, so that none is a duplicate of another.
        (home.inbox / name).write_bytes(form.data + b"\0" * (n + 1))
    pipeline = open_pipeline(home, delivery=Recording())
    try:
        taken, _ = intake_pass(pipeline)
    finally:
        pipeline.close()
    assert sorted(t.name for t in taken) == sorted(NAMES)
    assert list(home.inbox.iterdir()) == []
    # A name starting with a dot is a hidden file, left alone like the other hidden files.
    (home.inbox / "..docx").write_bytes(form.data)
    pipeline = open_pipeline(home, delivery=Recording())
    try:
        assert intake_pass(pipeline, patience=0.5)[0] == []
    finally:
        pipeline.close()
    archived = list((home.archive / "2026").iterdir())
    assert len(archived) == len(NAMES)
    for path in archived:
        assert path.resolve().parent == (home.archive / "2026").resolve()
        assert "\n" not in path.name and "/" not in path.name and not path.name.startswith("-")
        assert len(path.name.encode()) <= 255
    store = Store(home.database_url)
    try:
        with store.session() as session:
            assert sorted(s.original_name for s in session.scalars(select(Submission))) == \
                sorted(NAMES)
    finally:
        store.close()


def test_links_and_folders_in_the_inbox_are_left_alone(corpus: list[Case], tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    (form,) = by_name(corpus, "docx_mall_goteborg.docx")
    outside = tmp_path / "secret.docx"
    outside.write_bytes(form.data)
    os.symlink(outside, home.inbox / "link.docx")
    os.symlink(tmp_path, home.inbox / "link-to-folder")
    (home.inbox / "a folder.docx").mkdir()
    ((home.inbox / "a folder.docx") / "inner.docx").write_bytes(form.data)
    pipeline = open_pipeline(home, delivery=Recording())
    try:
        taken, delivered = intake_pass(pipeline, patience=1.0)
    finally:
        pipeline.close()
    assert taken == [] and delivered.sent == 0
    assert outside.read_bytes() == form.data
    assert ((home.inbox / "a folder.docx") / "inner.docx").exists()
    assert (home.inbox / "link.docx").is_symlink()
