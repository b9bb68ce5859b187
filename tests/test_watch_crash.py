"""`blankett watch` as a person starts it (Prefect, its server, the reader workers), killed with
SIGKILL at random moments while forms keep arriving, restarted, killed again, while `blankett
nightly` runs again and again against the same home, and reports go to a real SMTP server on
127.0.0.1 that takes its time over each message.

Afterwards every file dropped is filed exactly once, byte for byte; the store agrees with the
folders; each form has one report, which reached each of its area's consultants and nobody else
(again only where a kill left it unknown whether the server had it); no process of a killed
watch is left running; no nightly run failed, and the last one found nothing to correct.

`BLANKETT_WATCH_KILLS=50 .venv/bin/pytest -s tests/test_watch_crash.py` for the long run."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from crash_support import alive, caught_doing, descendants, distinct_copies, drop_settled, filed_files, sha
from pipeline_support import FALLBACK, expected_recipients, make_home, smtp_server, used_before
from sqlalchemy import select

from blankett.fixtures.corpus import Case
from blankett.flows.store.database import Message, Store, Submission

KILLS = int(os.environ.get("BLANKETT_WATCH_KILLS", "2"))
PER_ROUND = 6
BUDGET_SECONDS = 60 * 60


@dataclass
class SlowServer:
    """Keeps each envelope; takes 40 ms over each message, so that kills land mid-conversation;
    counts the conversations cut off before QUIT."""

    envelopes: list[tuple[list[str], bytes]] = field(default_factory=list)
    cut: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0.04)
        self.envelopes.append((list(envelope.rcpt_tos), bytes(envelope.original_content)))
        return "250 Message accepted for delivery"


class _CountingSMTP(SMTP):
    def __init__(self, handler: SlowServer, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._said_quit = False

    async def smtp_QUIT(self, arg: str) -> None:
        self._said_quit = True
        await super().smtp_QUIT(arg)

    def connection_lost(self, error: Exception | None) -> None:
        if not self._said_quit:
            self.event_handler.cut += 1
        super().connection_lost(error)


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _CountingSMTP(self.handler, **self.SMTP_kwargs)


def slow_smtp() -> AbstractContextManager[tuple[SlowServer, int]]:
    return smtp_server(SlowServer(), _Controller)


def _environment(api: str | None = None) -> dict[str, str]:
    """As a person's shell has it; with `api`, a command's flows run against that Prefect server
    rather than one the command starts for itself."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PREFECT_", "BLANKETT_")) and k != "DO_NOT_TRACK"}
    return {**env, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
            **({"PREFECT_API_URL": api} if api else {})}


def _command(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "blankett.flows", *map(str, args)]


class NightlyAlongside:
    """`blankett nightly` run again and again in the background, each run's exit and stderr kept.
    Against the tests' Prefect server: a server of its own would cost each run seconds of CPU,
    and it is the home, the store and the mail that nightly and watch share."""

    def __init__(self, root: Path, api: str) -> None:
        self.root = root
        self.api = api
        self.runs: list[tuple[int, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> NightlyAlongside:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=600)

    def _loop(self) -> None:
        # A pause between runs, or they would hold the home one after another and the watch
        # would only ever be killed waiting for its turn.
        while not self._stop.wait(random.uniform(2.0, 5.0)):
            done = subprocess.run(_command("nightly", "--home", self.root), capture_output=True,
                                  text=True, env=_environment(self.api), timeout=600, check=False)
            self.runs.append((done.returncode, done.stderr))


def _start_watch(root: Path, log: Path) -> tuple[subprocess.Popen[str], threading.Event]:
    with log.open("ab") as stderr:
        watch = subprocess.Popen(_command("watch", "--home", root), stdout=subprocess.PIPE,
                                 stderr=stderr, text=True, env=_environment())
    watching = threading.Event()

    def read() -> None:
        assert watch.stdout is not None
        for line in watch.stdout:
            if line.startswith("Watching "):
                watching.set()

    threading.Thread(target=read, daemon=True).start()
    return watch, watching


def _last_step(log: Path, since: int) -> str:
    """What the killed watch last said it had done."""
    lines = [line for line in log.read_text(errors="replace")[since:].splitlines() if " | " in line]
    if not lines:
        return "starting"
    last = lines[-1]
    for words, step in (("waiting for another", "waiting for nightly"), ("archived as", "filing"),
                        ("moved to", "filing"), ("sent ", "sending"), ("not delivered", "sending")):
        if words in last:
            return step
    return "other"


def test_watch_killed_at_random_moments_beside_nightly_loses_nothing(
        corpus: list[Case], tmp_path: Path, prefect_api_url: str, prefect_database: Path) -> None:
    rng = random.Random(20261126)
    waiting = distinct_copies(corpus, PER_ROUND * KILLS + PER_ROUND, rng)
    dropped: dict[str, Case] = {}
    caught = Counter[str]()
    orphans: list[set[int]] = []
    log = tmp_path / "watch.log"
    deadline = time.monotonic() + BUDGET_SECONDS
    with slow_smtp() as (server, port):
        home = make_home(tmp_path / "home", smtp_port=port)
        used_before(home.root, prefect_database)
        with NightlyAlongside(home.root, prefect_api_url) as nightly:
            for _ in range(KILLS):
                now, later = waiting[:PER_ROUND // 2], waiting[PER_ROUND // 2:PER_ROUND]
                waiting = waiting[PER_ROUND:]
                for case in now:
                    drop_settled(home.inbox, case)
                    dropped[case.name] = case
                since = log.stat().st_size if log.exists() else 0
                watch, watching = _start_watch(home.root, log)
                started = time.monotonic()
                while not watching.wait(0.2) and watch.poll() is None:
                    assert time.monotonic() - started < 180, _tail(log, since)
                assert watching.is_set(), f"watch stopped by itself: {_tail(log, since)}"
                time.sleep(rng.uniform(0.0, 1.0))
                for case in later:  # arriving while it watches
                    drop_settled(home.inbox, case)
                    dropped[case.name] = case
                cut_before = server.cut
                time.sleep(rng.uniform(0.0, 5.0))
                family = descendants(watch.pid)
                assert family, "no Prefect server was started"
                watch.kill()
                watch.wait()
                orphans.append(_wait_gone(family, 30))
                caught.update(caught_doing(home.root))
                caught[f"last step: {_last_step(log, since)}"] += 1
                if server.cut > cut_before:
                    caught["an SMTP conversation cut off"] += 1
                assert time.monotonic() < deadline
            for case in waiting:
                drop_settled(home.inbox, case)
                dropped[case.name] = case
            # A clean run finishes the rest while nightly still runs beside it.
            for _ in range(2):
                done = subprocess.run(_command("run", "--home", home.root), capture_output=True,
                                      text=True, env=_environment(prefect_api_url), timeout=600,
                                      check=False)
                assert done.returncode == 0, done.stderr
        final = subprocess.run(_command("nightly", "--home", home.root), capture_output=True,
                               text=True, env=_environment(prefect_api_url), timeout=600,
                               check=False)

    watch_log = log.read_text(errors="replace")
    print(f"\n{KILLS} kills of watch; {len(nightly.runs)} nightly runs beside them; "
          f"{len(server.envelopes)} messages received; {server.cut} SMTP conversations cut; "
          f"caught: {dict(caught)}")
    assert all(not gone for gone in orphans), f"processes outlived their watch: {orphans}"
    assert "Traceback" not in watch_log
    assert nightly.runs, "no nightly run finished beside the watch"
    for code, stderr in [*nightly.runs, (final.returncode, final.stderr)]:
        assert code == 0, stderr
        assert "database is locked" not in stderr
        assert "Traceback" not in stderr
    # Nothing was left for the last nightly to correct: no update was lost in between.
    assert " (0 changed, 0 read again, 0 taken from failed/)" in final.stdout, final.stdout

    assert [p.name for p in home.inbox.iterdir()] == []
    filed = Counter(sha(p.read_bytes()) for p in filed_files(home.root))
    assert filed == Counter(sha(c.data) for c in dropped.values())

    by_name = {case.name: case for case in dropped.values()}
    store = Store(home.database_url)
    try:
        with store.session() as session:
            submissions = session.scalars(select(Submission)).all()
            assert sorted(s.sha256 for s in submissions) == sorted(sha(c.data) for c in dropped.values())
            messages = session.scalars(select(Message)).all()
            assert {m.state for m in messages} == {"sent"}
            reports = Counter(m.submission_id for m in messages
                              if m.key.startswith("report:submission:"))
            for submission in submissions:
                assert submission.state in ("archived", "failed")
                stored = home.root / submission.stored_path
                assert sha(stored.read_bytes()) == submission.sha256, submission.stored_path
                # Exactly one completeness report for each form ...
                assert reports[submission.id] == 1, submission.original_name
                report = next(m for m in messages if m.submission_id == submission.id
                              and m.key.startswith("report:submission:"))
                # ... to its area's consultants and nobody else.
                case = by_name[submission.original_name]
                wanted = FALLBACK if submission.state == "failed" else expected_recipients(case)
                assert sorted(report.recipients["to"]) == sorted(wanted), submission.original_name
            expected = Counter((m.key, address) for m in messages for address in m.recipients["to"])
    finally:
        store.close()
    delivered = Counter()
    ids: dict[tuple[str, str], set[str]] = {}
    for recipients, raw in server.envelopes:
        message = message_from_bytes(raw, policy=default_policy)
        key = str(message["X-Blankett-Key"]).rsplit("@", 1)[0]
        for address in recipients:
            delivered[(key, address)] += 1
            ids.setdefault((key, address), set()).add(str(message["Message-ID"]))
    assert set(delivered) == set(expected)  # each report to each of its recipients, nothing else
    assert all(len(found) == 1 for found in ids.values())  # a copy is the same message
    # A kill after the server took a message and before the store heard so leaves it unknown
    # whether the recipient has it; it is sent again, the same message, rather than risk losing
    # it (SMTP's duplicate-message problem, RFC 1047). Only the one being sent can be caught
    # so: one extra copy a kill at most.
    again = sum(n - 1 for n in delivered.values())
    print(f"sent again after a kill mid-send: {again} of {sum(delivered.values())} deliveries")
    assert again <= KILLS, {pair: n for pair, n in delivered.items() if n > 1}


def _tail(log: Path, since: int) -> str:
    return log.read_text(errors="replace")[since:][-3000:]


def _wait_gone(pids: set[int], seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return alive(pids)
