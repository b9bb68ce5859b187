"""Killed at random moments (SIGKILL: no clean-up of any kind), restarted, killed again: every
file dropped ends up filed exactly once, byte for byte, recorded, and reported exactly once.

`BLANKETT_CRASH_KILLS=60 .venv/bin/pytest tests/test_crash.py` for the long run."""

from __future__ import annotations

import email
import email.policy
import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from crash_support import caught_doing, distinct_copies, drop_settled, filed_files, sha
from pipeline_support import intake_pass, make_home
from sqlalchemy import select

from blankett.fixtures.corpus import Case
from blankett.flows.mail.delivery import OutboxDelivery
from blankett.flows.pipeline.resources import open_pipeline
from blankett.flows.store.database import Message, Store, Submission

KILLS = int(os.environ.get("BLANKETT_CRASH_KILLS", "8"))
WORKER = Path(__file__).with_name("crash_worker.py")


def test_sigkill_at_random_moments_loses_nothing_and_reports_once(
        corpus: list[Case], tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    rng = random.Random(20261125)
    # Eight new files a round.
    waiting = distinct_copies(corpus, 8 * KILLS + 8, rng)
    dropped: dict[str, bytes] = {}
    env = {**os.environ, "PYTHONPATH": str(WORKER.parent)}
    deadline = time.monotonic() + 20 * 60
    caught = Counter[str]()
    for _ in range(KILLS):
        for case in waiting[:8]:
            drop_settled(home.inbox, case)
            dropped[case.name] = case.data
        waiting = waiting[8:]
        worker = subprocess.Popen([sys.executable, str(WORKER), str(home.root)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 2.0))
        worker.kill()
        worker.wait()
        caught.update(caught_doing(home.root))
        assert time.monotonic() < deadline
    for case in waiting:
        drop_settled(home.inbox, case)
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
    filed = Counter(sha(p.read_bytes()) for p in filed_files(home.root))
    assert filed == Counter(sha(d) for d in dropped.values())

    store = Store(home.database_url)
    try:
        with store.session() as session:
            submissions = session.scalars(select(Submission)).all()
            assert {s.state for s in submissions} <= {"archived", "failed"}
            assert sorted(s.sha256 for s in submissions) == sorted(sha(d) for d in dropped.values())
            for submission in submissions:
                stored = home.root / submission.stored_path
                assert sha(stored.read_bytes()) == submission.sha256, submission.stored_path
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
