"""The generated sets the test modules read as they are collected, built once for the whole run.

Every worker collects every module, so each built the corpus, the reworded and messy forms and
the other documents for itself, a dozen seconds of CPU each before its first test. Where
BLANKETT_FIXTURE_CACHE names the run's shared folder (tests/conftest.py makes one), the first
process to ask for a set builds it and keeps it there; the others wait for it and read it. The
controller starts building them in the background as the run begins (`build_in_background`).
Tests of the generators themselves (that a second build is the same) build again on purpose."""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import signal
import subprocess
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from filelock import FileLock

from blankett import fixtures
from blankett.fixtures.corpus import Case, build_corpus
from blankett.fixtures.libreoffice import CACHE_VARIABLE
from blankett.fixtures.messy import messy_cases
from blankett.fixtures.other_documents import OtherDocument, other_documents
from blankett.fixtures.reworded import reworded_cases

YEAR = 2026
# Forms per layout and half of the reworded sets in the test run (the benchmark makes more).
PER_LAYOUT = 3

_BUILDERS: dict[str, Callable[[], list[Any]]] = {
    "corpus": lambda: build_corpus(YEAR),
    "others": other_documents,
    "tune": lambda: reworded_cases("tune", YEAR, per_layout=PER_LAYOUT),
    "messy": messy_cases,
}
# In the order the modules are collected in, side by side: most of the time of the last two is
# LibreOffice's.
_IN_BACKGROUND = (("corpus", "others"), ("tune",), ("messy",))


def corpus() -> list[Case]:
    return list(_shared("corpus"))


def other_documents_made() -> list[OtherDocument]:
    return list(_shared("others"))


def tune() -> list[Case]:
    return list(_shared("tune"))


def messy() -> list[Case]:
    return list(_shared("messy"))


@cache
def _shared(name: str) -> tuple[Any, ...]:
    folder = os.environ.get(CACHE_VARIABLE)
    if not folder:
        return tuple(_BUILDERS[name]())
    kept = Path(folder, "sets", f"{name}-{_sources()}.pickle")
    kept.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(kept.with_suffix(".lock")):
        if kept.is_file():
            return tuple(pickle.loads(kept.read_bytes()))
        made = tuple(_BUILDERS[name]())
        partial = kept.with_suffix(".partial")
        partial.write_bytes(pickle.dumps(made, protocol=pickle.HIGHEST_PROTOCOL))
        partial.replace(kept)
        return made


@cache
def _sources() -> str:
    """What the sets are made by: a folder named in BLANKETT_FIXTURE_CACHE may be kept from run
    to run (LibreOffice's conversions in it are kept by what they were made from), and a set
    made by other generators is another set."""
    digest = hashlib.sha256()
    for path in sorted([*Path(fixtures.__file__).parent.glob("*.py"), Path(__file__)]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def build_in_background() -> list[subprocess.Popen[bytes]]:
    """The sets built into the run's shared folder by processes of their own, begun before the
    workers start collecting; each in a process group of its own, so that its LibreOffice is
    stopped with it (`stop`)."""
    here = str(Path(__file__).resolve().parent)
    # Their temporary files (LibreOffice's) in the run's folder, which goes when the run does.
    scratch = Path(os.environ[CACHE_VARIABLE], "tmp")
    scratch.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(scratch)}
    return [subprocess.Popen([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                              "import shared_sets; [shared_sets._shared(n) for n in sys.argv[2:]]",
                              here, *names], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True, env=env)
            for names in _IN_BACKGROUND]


def stop(builders: list[subprocess.Popen[bytes]]) -> None:
    """Builders still at work when the run ends (a short run), with their LibreOffice."""
    for builder in builders:
        if builder.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(builder.pid, signal.SIGKILL)
        builder.wait()
