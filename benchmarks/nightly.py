"""The nightly run over a year's store: N applications (10,000 by default) with nothing changed
since the night before. Reports the time and the peak memory of the nightly's plain steps (the
functions the `nightly` flow calls: retaking files that waited for a program, re-validating every
application, building and queueing the consultants' summaries, delivering them into the outbox),
each step's time and SQL statements, and with --flow the `blankett nightly` command itself (the
Prefect flow, its local server's start-up included).

The store is seeded quickly: the generated corpus is taken in once by the real intake (about 50
applications, 16 unreadable files, their reports, a first summary for each consultant), and
those rows are then copied by bulk inserts until there are N applications, each with its
versions, results, problems and report messages, and one unreadable file for every 50 of them
(`--failed-share`). Yesterday's summaries are given a snapshot of every application, so that
tonight's say "Inget nytt." as they would. Copies point at their template's archived file.

Each measurement runs in a process of its own, started fresh, so that its peak (VmHWM, read
from /proc) is the nightly's own and not the corpus generator's; the memory it had before the
first step (imports, the open store) is given beside it.

Run: .venv/bin/python benchmarks/nightly.py [--applications 10000] [--flow] [--keep DIR]
[--store postgresql://...]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, event, func, insert, select, update
from sqlalchemy.engine import Engine

from blankett.flows.home.settings import Home, init_home, load_home
from blankett.flows.mail.delivery import OutboxDelivery
from blankett.flows.pipeline.examine import Examiner
from blankett.flows.pipeline.resources import Pipeline, open_pipeline
from blankett.flows.store.database import Base, Store

if TYPE_CHECKING:
    from blankett.fixtures.corpus import Case

YEAR = 2026
YESTERDAY = "2026-11-24"
CHUNK = 2000  # rows an INSERT is given at a time


def make_home(root: Path, store_url: str = "") -> Home:
    """A home for grant year 2026 delivering into its outbox, scans left to a person (no OCR:
    the nightly would otherwise try every copied scan again), every consultant sent the day's
    summary (the most a night sends); its store `store_url` (an empty database), or its own
    SQLite file."""
    init_home(root)
    settings = root / "blankett.toml"
    settings.write_text(
        settings.read_text(encoding="utf-8")
        .replace("# year = 2026", f"year = {YEAR}")
        .replace("unfinished_grace_seconds = 60", "unfinished_grace_seconds = 0")
        .replace("stable_seconds = 2.0", "stable_seconds = 0.2")
        .replace("enabled = true", "enabled = false")
        .replace("send_empty = false", "send_empty = true")
        .replace('url = ""', f'url = "{store_url}"'), encoding="utf-8")
    home = load_home(root)
    assert home.settings.grant.year == YEAR and not home.settings.ocr.enabled \
        and home.settings.summary.send_empty, "settings not set"
    assert home.settings.store.url.get_secret_value() == store_url, "settings not set"
    return home


def _in_process(pipeline: Pipeline) -> None:
    """Read in this process: seeding needs no worker pool."""
    examiner = pipeline.examiner
    pipeline.examiner = Examiner(examiner.spec, examiner.routing, examiner.year,
                                 examiner.limits.model_copy(update={"read_seconds": None}))


def take_corpus(home: Home, cases: Sequence[Case] | None = None) -> int:
    """The generated corpus (or `cases` of it) through the real intake, its reports delivered,
    and yesterday's summaries queued and delivered. Returns the number of files taken."""
    from blankett.fixtures.corpus import build_corpus
    from blankett.flows.mail.messaging import deliver_pending, queue_summaries
    from blankett.flows.pipeline.intake import take_file

    cases = build_corpus(YEAR) if cases is None else cases
    # What the intake says of each file (the corpus's broken ones are refused) is not news here.
    said = logging.getLogger("blankett")
    level = said.level
    said.setLevel(logging.ERROR)
    pipeline = open_pipeline(home, delivery=OutboxDelivery(home.outbox))
    _in_process(pipeline)
    try:
        for case in cases:
            path = home.inbox / case.name
            path.write_bytes(case.data)
            take_file(pipeline, path)
        deliver_pending(pipeline)
        queue_summaries(pipeline, YESTERDAY, datetime(2026, 11, 24, 1, tzinfo=UTC))
        deliver_pending(pipeline)
    finally:
        pipeline.close()
        said.setLevel(level)
    return len(cases)


def _rows(engine: Engine, table: Table, *where: Any) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(select(table).where(*where))]


def _insert(connection: Any, table: Table, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        connection.execute(insert(table), rows[start:start + CHUNK])


def copy_rows(home: Home, applications: int, failed_share: float) -> dict[str, int]:
    """Copy the corpus's applications (with everything that hangs on them) and unreadable files
    until there are `applications` applications and `failed_share` as many unreadable files;
    then give yesterday's summaries a snapshot of all of them."""
    store = Store(home.database_url)
    engine = store.engine
    tables = Base.metadata.tables
    sub_t, app_t, ver_t = tables["submissions"], tables["applications"], tables["versions"]
    res_t, prob_t, msg_t = tables["results"], tables["problems"], tables["messages"]
    apps = _rows(engine, app_t, app_t.c.year == YEAR)
    versions = _rows(engine, ver_t)
    submissions = {r["id"]: r for r in _rows(engine, sub_t)}
    results = _rows(engine, res_t)
    problems = _rows(engine, prob_t)
    messages = _rows(engine, msg_t)
    failed = [s for s in submissions.values() if s["state"] == "failed"]
    if not apps:
        raise SystemExit("the corpus gave no applications")

    # Copy k of a row gets id + k * stride: ids never meet, and the templates keep theirs.
    stride = {name: (max((r["id"] for r in rows), default=0) + 1) for name, rows in (
        ("sub", list(submissions.values())), ("app", apps), ("ver", versions), ("res", results),
        ("prob", problems), ("msg", messages))}
    by_app: dict[int, list[dict[str, Any]]] = {}
    for v in versions:
        by_app.setdefault(v["application_id"], []).append(v)
    results_of: dict[int, list[dict[str, Any]]] = {}
    for r in results:
        results_of.setdefault(r["version_id"], []).append(r)
    problems_of: dict[int, list[dict[str, Any]]] = {}
    for p in problems:
        problems_of.setdefault(p["result_id"], []).append(p)
    messages_of_app: dict[int, list[dict[str, Any]]] = {}
    messages_of_sub: dict[int, list[dict[str, Any]]] = {}
    for m in messages:
        if m["kind"] != "report":
            continue
        if m["application_id"] is not None:
            messages_of_app.setdefault(m["application_id"], []).append(m)
        elif m["submission_id"] is not None:
            messages_of_sub.setdefault(m["submission_id"], []).append(m)

    new: dict[str, list[dict[str, Any]]] = {n: [] for n in ("sub", "app", "ver", "res", "prob", "msg")}

    # New ids make the copies' unique values: hashes, keys.
    def sub_copy(s: dict[str, Any], k: int) -> None:
        sub_id = s["id"] + k * stride["sub"]
        new["sub"].append({**s, "id": sub_id,
                           "sha256": hashlib.sha256(f"{sub_id}:{s['sha256']}".encode()).hexdigest()})

    def msg_copy(m: dict[str, Any], k: int) -> None:
        msg_id = m["id"] + k * stride["msg"]
        new["msg"].append({**m, "id": msg_id, "key": f"{m['key']}:copy{msg_id}",
                           "application_id": None if m["application_id"] is None else
                           m["application_id"] + k * stride["app"],
                           "submission_id": None if m["submission_id"] is None else
                           m["submission_id"] + k * stride["sub"]})

    copied_apps: list[tuple[int, int]] = []  # (new id, template id)
    copies = math.ceil((applications - len(apps)) / len(apps))
    for k in range(1, copies + 1):
        for a in apps:
            if len(apps) + len(copied_apps) >= applications:
                break
            if a["id"] not in by_app:
                continue
            app_id = a["id"] + k * stride["app"]
            copied_apps.append((app_id, a["id"]))
            new["app"].append({**a, "id": app_id, "activity_key": f"{a['activity_key']}#{app_id}"})
            for v in by_app[a["id"]]:
                sub_copy(submissions[v["submission_id"]], k)
                new["ver"].append({**v, "id": v["id"] + k * stride["ver"], "application_id": app_id,
                                   "submission_id": v["submission_id"] + k * stride["sub"]})
                for r in results_of.get(v["id"], []):
                    new["res"].append({**r, "id": r["id"] + k * stride["res"],
                                       "version_id": v["id"] + k * stride["ver"]})
                    new["prob"] += [{**p, "id": p["id"] + k * stride["prob"],
                                     "result_id": r["id"] + k * stride["res"]}
                                    for p in problems_of.get(r["id"], [])]
            for m in messages_of_app.get(a["id"], []):
                msg_copy(m, k)
    wanted_failed = round(applications * failed_share)
    for n in range(max(0, wanted_failed - len(failed))):
        k, s = n // len(failed) + 1, failed[n % len(failed)]
        sub_copy(s, k)
        for m in messages_of_sub.get(s["id"], []):
            msg_copy(m, k)

    with engine.begin() as connection:
        for name, table in (("sub", sub_t), ("app", app_t), ("ver", ver_t), ("res", res_t),
                            ("prob", prob_t), ("msg", msg_t)):
            _insert(connection, table, new[name])
            if connection.dialect.name == "postgresql":
                # The copies' ids were given, not drawn: the next row the nightly adds (a
                # summary) must not draw one of them.
                connection.execute(select(func.setval(func.pg_get_serial_sequence(table.name, "id"),
                                                      select(func.max(table.c.id)).scalar_subquery())))
        # Yesterday's summaries saw every application as it stands.
        for summary in [m for m in messages if m["kind"] == "summary"]:
            snapshot = dict(summary["snapshot"] or {})
            for app_id, template in copied_apps:
                seen = snapshot.get(f"application:{template}")
                if seen is not None:
                    snapshot[f"application:{app_id}"] = seen
            connection.execute(update(msg_t).where(msg_t.c.id == summary["id"])
                               .values(snapshot=snapshot))
    with engine.connect() as connection:
        counts = {name: int(connection.scalar(select(func.count()).select_from(table)) or 0)
                  for name, table in (("applications", app_t), ("versions", ver_t),
                                      ("results", res_t), ("problems", prob_t),
                                      ("messages", msg_t))}
        counts["failed files"] = int(connection.scalar(select(func.count()).select_from(sub_t)
                                                       .where(sub_t.c.state == "failed")) or 0)
    store.close()
    return counts


# --- measuring, in a process of its own ---------------------------------------------------------

def _memory(field: str) -> int:
    """This process's VmHWM (peak) or VmRSS, in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) // 1024
    raise SystemExit(f"no {field} in /proc/self/status: memory is measured on Linux only")


@contextmanager
def _counted(engine: Engine) -> Iterator[list[int]]:
    seen = [0]

    def _count(*_: Any) -> None:
        seen[0] += 1

    event.listen(engine, "before_cursor_execute", _count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", _count)


def measure_steps(root: Path, day: str) -> dict[str, Any]:
    """The nightly's plain steps, in the flow's order, on `day`."""
    from blankett.flows.mail.messaging import deliver_pending, queue_summaries
    from blankett.flows.pipeline.intake import retake_failed
    from blankett.flows.pipeline.revalidation import revalidate_all

    home = load_home(root)
    opened = time.perf_counter()
    pipeline = open_pipeline(home, delivery=OutboxDelivery(home.outbox))
    open_seconds = time.perf_counter() - opened
    before = _memory("VmRSS")
    steps: dict[str, dict[str, float]] = {}
    outcome: dict[str, Any] = {}
    try:
        for name, step in (
            ("retake", lambda: len(retake_failed(pipeline, only_awaiting_setup=True))),
            ("revalidate", lambda: revalidate_all(pipeline).__dict__),
            ("summaries", lambda: queue_summaries(pipeline, day, datetime.now(UTC)).queued),
            ("deliver", lambda: deliver_pending(pipeline).sent),
        ):
            with _counted(pipeline.store.engine) as statements:
                start, cpu = time.perf_counter(), time.process_time()
                outcome[name] = step()
                steps[name] = {"seconds": round(time.perf_counter() - start, 2),
                               "cpu_seconds": round(time.process_time() - cpu, 2),
                               "statements": statements[0]}
    finally:
        pipeline.close()
    return {"open_seconds": round(open_seconds, 3), "steps": steps, "outcome": outcome,
            "seconds": round(sum(s["seconds"] for s in steps.values()), 2),
            "cpu_seconds": round(sum(s["cpu_seconds"] for s in steps.values()), 2),
            "rss_before_mb": before, "peak_mb": _memory("VmHWM")}


_COMMAND = """
import atexit, sys
from pathlib import Path
def _peak(out=Path(sys.argv[1])):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            out.write_text(str(int(line.split()[1]) // 1024))
atexit.register(_peak)
sys.argv = ["blankett", "nightly", "--home", sys.argv[2]]
from blankett.flows.cli.app import main
main()
"""


def measure_flow(root: Path, work: Path) -> dict[str, Any]:
    """`blankett nightly` as a person runs it: the Prefect flow on the command's local server."""
    peak = work / "flow-peak"
    env = {**__import__("os").environ, "PREFECT_HOME": str(work / "prefect"),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _COMMAND, str(peak), str(root)],
                          capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"blankett nightly failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return {"seconds": round(seconds, 1), "peak_mb": int(peak.read_text()),
            "said": done.stdout.strip().splitlines()[-1]}


def _run_measure(root: Path, day: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--measure", str(root),
                           "--day", day], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the measuring process failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _next_day(root: Path) -> str:
    """The day after the last summaries: a home measured before gets tonight's summaries too."""
    store = Store(load_home(root).database_url)
    try:
        with store.engine.connect() as connection:
            keys = connection.scalars(select(Base.metadata.tables["messages"].c.key).where(
                Base.metadata.tables["messages"].c.kind == "summary")).all()
    finally:
        store.close()
    day = date.fromisoformat(max((k.split(":")[1] for k in keys), default=YESTERDAY))
    day += timedelta(days=1)
    # Today's summaries are left for the flow (--flow), whose day is today.
    return (day + timedelta(days=day == date.today())).isoformat()


def _report(title: str, measured: dict[str, Any]) -> None:
    print(f"{title}: {measured['seconds']:.2f} s ({measured['cpu_seconds']:.2f} s CPU), "
          f"peak {measured['peak_mb']} MB "
          f"({measured['rss_before_mb']} MB before the first step; opening the pipeline "
          f"{measured['open_seconds'] * 1000:.0f} ms)")
    for name, step in measured["steps"].items():
        print(f"  {name:<10} {step['seconds']:>7.2f} s {step['cpu_seconds']:>7.2f} s CPU "
              f"{step['statements']:>7} statements")
    print(f"  outcome: {measured['outcome']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applications", type=int, default=10000)
    parser.add_argument("--failed-share", type=float, default=0.02,
                        help="unreadable files per application (default 0.02)")
    parser.add_argument("--flow", action="store_true",
                        help="also time `blankett nightly` (the Prefect flow, server start-up included)")
    parser.add_argument("--keep", type=Path, help="seed into this folder and keep it")
    parser.add_argument("--home", type=Path, help="measure an existing seeded home; no seeding")
    parser.add_argument("--store", default="",
                        help="seed this empty database (store.url, e.g. PostgreSQL's) instead of "
                             "the home's SQLite file")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--day", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure_steps(args.measure, args.day)))
        return

    with tempfile.TemporaryDirectory(prefix="blankett-nightly-") as tmp:
        work = args.keep or Path(tmp)
        root = args.home or work / "home"
        if args.home is None:
            start = time.perf_counter()
            home = make_home(root, args.store)
            taken = take_corpus(home)
            took = time.perf_counter() - start
            start = time.perf_counter()
            counts = copy_rows(home, args.applications, args.failed_share)
            copied = time.perf_counter() - start
            database = root / "blankett.db"
            size = f" ({database.stat().st_size // 2**20} MB)" if database.is_file() else ""
            print(f"seeded {root}: {taken} corpus files taken in {took:.1f} s, copied in "
                  f"{copied:.1f} s to {counts}{size}")
        tonight = _next_day(root)
        _report(f"nightly steps, {tonight}", _run_measure(root, tonight))
        later = _next_day(root)
        _report(f"nightly steps again, {later}", _run_measure(root, later))
        if args.flow:
            flow = measure_flow(root, work)
            print(f"`blankett nightly` (Prefect flow, local server start-up included): "
                  f"{flow['seconds']:.1f} s, peak {flow['peak_mb']} MB: {flow['said']}")


if __name__ == "__main__":
    main()
