"""What the crash tests share: dropping files as a person's copy ends, finding what was filed,
telling what a killed run left half-done, and the processes a run started."""

from __future__ import annotations

import hashlib
import os
import random
import time
from pathlib import Path

from sqlalchemy import select

from blankett.fixtures.corpus import Case
from blankett.flows.pipeline.intake import note_of
from blankett.flows.store.database import Message, Store, Submission


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def distinct_copies(corpus: list[Case], count: int, rng: random.Random) -> list[Case]:
    """`count` cases drawn from the corpus, each made a distinct file by a trailing line (readers
    that then refuse a file file it in failed/: still exactly once)."""
    return [Case(name=f"{n:03d}-{c.name}", data=c.data + b"\n%d\n" % n, kind=c.kind,
                 fields=c.fields, problems=c.problems, complete=c.complete, error=c.error,
                 tags=c.tags)
            for n, c in enumerate(rng.choice(corpus) for _ in range(count))]


def drop_settled(inbox: Path, case: Case) -> None:
    # As a person's copy ends: the whole file appears at once, already settled.
    partial = inbox / f".{case.name}.partial"
    partial.write_bytes(case.data)
    past = time.time() - 30
    os.utime(partial, (past, past))
    os.replace(partial, inbox / case.name)


def filed_files(home_root: Path) -> list[Path]:
    places = [home_root / "archive", home_root / "failed"]
    files = [p for place in places for p in place.rglob("*") if p.is_file()]
    notes = {note_of(p) for p in files}  # failed/'s note beside each file
    return [p for p in files if p not in notes and not p.name.endswith(".partial")]


def caught_doing(root: Path) -> list[str]:
    """What the killed run had left half-done, as the next start finds it."""
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


def descendants(pid: int) -> set[int]:
    """Every living process started by `pid`, its children's children included (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    living = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            living.add(pid)
    return living
