"""Killed at random moments (SIGKILL: no clean-up of any kind), restarted, killed again: every
file dropped ends up filed exactly once, byte for byte, recorded, and reported exactly once.

`BLANKETT_CRASH_KILLS=60 .venv/bin/pytest tests/test_crash.py` for the long run."""

from __future__ import annotations

import email
import email.policy
import hashlib
import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from pipeline_support import intake_pass, make_home
from sqlalchemy import select

from blankett.fixtures.corpus import Case
from blankett.flows.delivery import OutboxDelivery
from blankett.flows.pipeline import open_pipeline
from blankett.flows.store import Message, Store, Submission

KILLS = int(os.environ.get("BLANKETT_CRASH_KILLS", "12"))
WORKER = Path(__file__).with_name("crash_worker.py")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _drop(inbox: Path, case: Case) -> None:
    # As a person's copy ends: the whole file appears at once, already settled.
    partial = inbox / f".{case.name}.partial"
    partial.write_bytes(case.data)
    past = time.time() - 30
    os.utime(partial, (past, past))
    os.replace(partial, inbox / case.name)


def _filed(home_root: Path) -> list[Path]:
    places = [home_root / "archive", home_root / "failed"]
    files = [p for place in places for p in place.rglob("*") if p.is_file()]
    notes = {p.with_name(p.name + ".txt") for p in files}  # failed/'s note beside each file
    return [p for p in files if p not in notes and not p.name.endswith(".partial")]


def test_sigkill_at_random_moments_loses_nothing_and_reports_once(
        corpus: list[Case], tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    rng = random.Random(20261125)
    # Eight new files a round, each round's copies made distinct by a trailing line (readers
    # that then refuse a file file it in failed/: still exactly once).
    waiting = [Case(name=f"{n:03d}-{c.name}", data=c.data + b"\n%d\n" % n, kind=c.kind,
                    fields=c.fields, problems=c.problems, complete=c.complete, error=c.error,
                    tags=c.tags)
               for n, c in enumerate(rng.choice(corpus) for _ in range(8 * KILLS + 8))]
    dropped: dict[str, bytes] = {}
    env = {**os.environ, "PYTHONPATH": str(WORKER.parent)}
    deadline = time.monotonic() + 20 * 60
    caught = Counter[str]()
    for _ in range(KILLS):
        for case in waiting[:8]:
            _drop(home.inbox, case)
            dropped[case.name] = case.data
        waiting = waiting[8:]
        worker = subprocess.Popen([sys.executable, str(WORKER), str(home.root)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 2.0))
        worker.kill()
        worker.wait()
        caught.update(_caught_doing(home.root))
        assert time.monotonic() < deadline
    for case in waiting:
        _drop(home.inbox, case)
        dropped[case.name] = case.data

    # A clean restart finishes the rest.
    for _ in range(3):
        pipeline = open_pipeline(home, delivery=OutboxDelivery(home.outbox))
        try:
            intake_pass(pipeline, patience=1.0)
        finally:
            pipeline.close()

    assert sorted(p.name for p in home.inbox.iterdir()) == []
    # Every file filed exactly once, byte for byte (the corpus holds no two equal files).
    filed = Counter(_sha(p.read_bytes()) for p in _filed(home.root))
    assert filed == Counter(_sha(d) for d in dropped.values())

    store = Store(home.database_url)
    try:
        with store.session() as session:
            submissions = session.scalars(select(Submission)).all()
            assert {s.state for s in submissions} <= {"archived", "failed"}
            assert sorted(s.sha256 for s in submissions) == sorted(_sha(d) for d in dropped.values())
            for submission in submissions:
                stored = home.root / submission.stored_path
                assert _sha(stored.read_bytes()) == submission.sha256, submission.stored_path
            messages = session.scalars(select(Message)).all()
            assert {m.state for m in messages} == {"sent"}
            expected = Counter((m.key, address) for m in messages for address in m.recipients["to"])
    finally:
        store.close()
    # Exactly one copy of each report in each recipient's outbox folder.
    delivered = Counter()
    for eml in home.outbox.glob("*/*.eml"):
        message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        delivered[(str(message["X-Blankett-Key"]).rsplit("@", 1)[0], eml.parent.name)] += 1
    assert delivered == expected
    print(f"\n{KILLS} kills; killed while: {dict(caught)}")


def _caught_doing(root: Path) -> list[str]:
    """What the killed worker had left half-done, as the next start finds it."""
    found = []
    if any(p for p in (root / "inbox").iterdir() if not p.name.startswith(".")):
        found.append("files waiting in the inbox")
    store = Store(f"sqlite:///{root / 'blankett.db'}")
    try:
        with store.session() as session:
            if session.scalars(select(Submission).where(Submission.state == "moving")).first():
                found.append("a file between its move and its record")
            if session.scalars(select(Message).where(Message.state == "pending")).first():
                found.append("reports recorded, not yet delivered")
    finally:
        store.close()
    return found

