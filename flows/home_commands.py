"""The commands that work on a blankett home: init, run, watch, nightly, rerun, status, demo.

Each returns an exit code and writes through the Environment; Prefect is imported only here,
and only by the commands that run a flow.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from blankett.flows.environment import Environment
from blankett.flows.prefect_server import Api, ServerError
from blankett.flows.settings import Home, SettingsError, init_home, load_home
from blankett.flows.store import StoreError
from blankett.models.errors import BlankettError
from blankett.models.spec import ConfigError

if TYPE_CHECKING:  # the flows import Prefect, which `init` and `status` do without
    from blankett.flows.orchestration import IntakeCounts

EXIT_OK = 0
EXIT_ERROR = 2

USER_ERRORS = (SettingsError, ConfigError, StoreError)


def home_path(env: Environment, given: Path | None) -> Path:
    if given is not None:
        return given
    if env.variables.get("BLANKETT_HOME"):
        return Path(env.variables["BLANKETT_HOME"])
    from blankett.flows.settings import DEFAULT_HOME

    return Path(DEFAULT_HOME)


def cmd_init(env: Environment, root: Path) -> int:
    try:
        home, created = init_home(root)
    except SettingsError as exc:
        env.error(f"error: {exc}")
        return EXIT_ERROR
    for path in created:
        print(f"created {path}", file=env.stdout)
    if not created:
        print(f"{home.root} is already a blankett home; nothing changed", file=env.stdout)
    print(f"Drop received forms into {home.inbox} and run `blankett run --home {root}`.",
          file=env.stdout)
    return EXIT_OK


def _open(env: Environment, root: Path) -> Home | None:
    try:
        return load_home(root)
    except SettingsError as exc:
        env.error(f"error: {exc}")
        return None


@contextmanager
def _flows(env: Environment, home: Home) -> Iterator[tuple[Any, Api]]:
    """The flows, with Prefect set up for this home, and the API they report to."""
    from blankett.flows.prefect_server import prefect_api
    from blankett.flows.prefect_setup import prepare_prefect, send_what_is_left

    prepare_prefect(home)
    with prefect_api(home, env.variables) as api:
        from blankett.flows import orchestration  # Prefect reads its settings on import

        try:
            yield orchestration, api
        finally:
            send_what_is_left()


def _check_pipeline(env: Environment, home: Home) -> bool:
    """Open what a flow will open, so that a wrong setting is one line here, not a failed run."""
    from blankett.flows.pipeline import open_pipeline

    try:
        open_pipeline(home, variables=env.variables).close()
    except USER_ERRORS as exc:
        env.error(f"error: {exc}")
        return False
    return True


EXIT_FAILED = 1


def _flow(env: Environment, name: str, call: Any) -> Any:
    """A run that failed for a reason nobody caused (a bug, a dead server): one line, the
    details in the run's log; an error the user can mend is its one line."""
    try:
        return call()
    except BlankettError as exc:  # another run held the home too long, a wrong setting...
        env.error(f"error: {exc}")
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        env.error(f"error: the {name} run failed ({type(exc).__name__}: {first}); "
                  "nothing was lost, see the log above and run it again")
    return None


def _run_flow(env: Environment, home: Home, name: str, call: Callable[[Any], Any]) -> Any:
    """One flow run, as `_flow`; None when it failed or no Prefect API could be had (said)."""
    try:
        with _flows(env, home) as (flows, _):
            return _flow(env, name, lambda: call(flows))
    except ServerError as exc:
        env.error(f"error: {exc}")
        return None


def _ready_home(env: Environment, root: Path) -> Home | None:
    """The home, once it and everything a flow opens in it are known to be usable."""
    home = _open(env, root)
    return home if home is not None and _check_pipeline(env, home) else None


def cmd_run(env: Environment, root: Path) -> int:
    home = _ready_home(env, root)
    if home is None:
        return EXIT_ERROR
    counts = _run_flow(env, home, "intake", lambda flows: flows.intake(str(home.root)))
    if counts is None:
        return EXIT_FAILED
    print(_counts_line(counts, home), file=env.stdout)
    return EXIT_OK


def _counts_line(counts: IntakeCounts, home: Home) -> str:
    taken = sum(counts[k] for k in ("complete", "incomplete", "unreadable", "duplicate"))
    if not taken:
        line = f"Nothing new in {home.inbox}."
    else:
        line = (f"Took {taken} file{'s' * (taken != 1)}: {counts['complete']} complete, "
                f"{counts['incomplete']} incomplete, {counts['unreadable']} unreadable, "
                f"{counts['duplicate']} duplicate.")
    if counts.get("skipped"):
        line += (f" {counts['skipped']} file{'s' * (counts['skipped'] != 1)} left in the inbox "
                 "for the next pass (see the log).")
    where = "outbox/" if not home.settings.smtp.host else home.settings.smtp.host
    line += f" Messages sent: {counts['sent']} (to {where})"
    if counts.get("pending"):
        line += f", {counts['pending']} waiting for the next run"
    return line + "."


def cmd_watch(env: Environment, root: Path) -> int:
    home = _ready_home(env, root)
    if home is None:
        return EXIT_ERROR
    from blankett.flows.inbox import InboxFilter
    from blankett.flows.inbox_events import InboxEvents

    interval = home.settings.inbox.scan_interval_seconds
    inbox_filter = InboxFilter()
    try:
        with _flows(env, home) as (flows, api), InboxEvents(home.inbox, interval) as events:
            print(f"Watching {home.inbox} (full scan every {interval:g} s). Stop with Ctrl-C.",
                  file=env.stdout, flush=True)
            _watch_pass(env, flows, home)
            for changes in events:
                if changes and not any(_relevant(inbox_filter, Path(p)) for p in changes):
                    continue
                if not api.alive():
                    # Every pass would fail from now on: better to stop, so that whatever
                    # started watch (a service manager) starts it again.
                    env.error(f"error: the local Prefect server stopped (see {api.log}); "
                              "watch stops too, start it again")
                    return EXIT_FAILED
                _watch_pass(env, flows, home)
    except ServerError as exc:
        env.error(f"error: {exc}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("Stopped.", file=env.stdout)
    return EXIT_OK


def _relevant(inbox_filter: Any, path: Path) -> bool:
    """A change worth a pass: a file to take, or one gone. A path that cannot be looked at now
    (a network drive's hiccup) counts, and the pass itself leaves it for later."""
    try:
        return inbox_filter.ignored(path) is None or not path.exists()
    except OSError:
        return True


def _watch_pass(env: Environment, flows: Any, home: Home) -> None:
    try:
        load_home(home.root)  # the inbox deleted, a setting broken meanwhile: one line, not a run
    except SettingsError as exc:
        env.error(f"error: {exc}; watching on")
        return
    counts = _flow(env, "intake", lambda: flows.intake(str(home.root)))
    if counts is None:
        return  # said on stderr; the next event or scan tries again
    if any(counts[k] for k in ("complete", "incomplete", "unreadable", "duplicate", "sent")):
        stamp = datetime.now().strftime("%H:%M:%S")
        print(f"{stamp} {_counts_line(counts, home)}", file=env.stdout, flush=True)


def cmd_nightly(env: Environment, root: Path) -> int:
    home = _ready_home(env, root)
    if home is None:
        return EXIT_ERROR
    result = _run_flow(env, home, "nightly", lambda flows: flows.nightly(str(home.root)))
    if result is None:
        return EXIT_FAILED
    print(f"Checked {result['checked']} applications ({result['changed']} changed, "
          f"{result['reread']} read again, {result['retaken']} taken from failed/); "
          f"{result['summaries']} summaries queued; "
          f"messages sent: {result['sent']}"
          + (f", {result['pending']} waiting" if result["pending"] else "") + ".",
          file=env.stdout)
    return EXIT_OK


def cmd_rerun(env: Environment, root: Path, targets: list[str], everything: bool,
              failed: bool = False) -> int:
    home = _ready_home(env, root)
    if home is None:
        return EXIT_ERROR
    if not targets and not everything and not failed:
        env.error("error: name an application id or an archived file, or use --all or --failed")
        return EXIT_ERROR
    ids = None if everything or not targets else _application_ids(env, home, targets)
    if ids is None and targets and not everything:
        return EXIT_ERROR
    applications = everything or bool(targets)
    result = _run_flow(env, home, "rerun", lambda flows: flows.rerun(
        str(home.root), ids, failed=failed, applications=applications))
    if result is None:
        return EXIT_FAILED
    if failed and not applications:
        print(f"Read the unreadable files again: {result['retaken']} taken in as applications, "
              f"{result['still_failed']} still unreadable; messages sent: {result['sent']}.",
              file=env.stdout)
        return EXIT_OK
    if ids is not None and result["checked"] < len(set(ids)):
        unknown = len(set(ids)) - result["checked"]
        which = "one of the ids names" if unknown == 1 else f"{unknown} of the ids name"
        env.error(f"error: {which} no application of this home; see `blankett status`")
        return EXIT_ERROR
    checked = result["checked"]
    retaken = (f"; {result['retaken']} unreadable file{'s' * (result['retaken'] != 1)} taken in, "
               f"{result['still_failed']} still unreadable" if failed else "")
    print(f"Read {checked} application{'s' * (checked != 1)} again: {result['changed']} changed "
          f"(reported){retaken}; messages sent: {result['sent']}.", file=env.stdout)
    return EXIT_OK


def _application_ids(env: Environment, home: Home, targets: list[str]) -> list[int] | None:
    from blankett.flows.store import Store, Submission, Version

    store = Store(home.database_url)
    ids: list[int] = []
    try:
        with store.session() as session:
            for target in targets:
                if target.isdigit():
                    ids.append(int(target))
                    continue
                path = Path(target)
                stored = str(path.resolve().relative_to(home.root)) if path.is_absolute() or \
                    path.exists() else target
                versions = session.scalars(select(Version).join(Submission).where(
                    Submission.stored_path == stored)).all() or session.scalars(
                    select(Version).join(Submission).where(
                        Submission.original_name == path.name)).all()
                found = sorted({v.application_id for v in versions})
                if not found:
                    env.error(f"error: {target}: no application has this file")
                    return None
                if len(found) > 1:
                    env.error(f"error: {target}: several applications have a file of this name "
                              f"(ids {', '.join(map(str, found))}); name the id or the archived file")
                    return None
                ids.append(found[0])
    except ValueError:
        env.error(f"error: {targets[0]}: not inside {home.root}")
        return None
    finally:
        store.close()
    return ids


def status_rows(home: Home, year: int) -> list[dict[str, Any]]:
    from blankett.flows.ledger import as_utc, missing_fields, status_of
    from blankett.flows.store import Application, Message, Store, Submission

    store = Store(home.database_url)
    rows: list[dict[str, Any]] = []
    zone = ZoneInfo(home.settings.schedule.timezone)  # as the reports give times
    try:
        with store.session() as session:
            last_sent = dict(session.execute(
                select(Message.application_id, func.max(Message.sent_at))
                .where(Message.kind == "report", Message.state == "sent")
                .group_by(Message.application_id)).all())
            failed_sent = dict(session.execute(
                select(Message.submission_id, func.max(Message.sent_at))
                .where(Message.kind == "report", Message.state == "sent",
                       Message.application_id.is_(None))
                .group_by(Message.submission_id)).all())
            fallback = list(pipeline_routing(home).consultants(None))
            for app in session.scalars(select(Application).where(Application.year == year)
                                       .order_by(Application.id)):
                if not app.versions:
                    continue
                result = app.latest.result
                sent = last_sent.get(app.id)
                rows.append({
                    "id": app.id, "municipality": app.municipality or None,
                    "area": result.fields.get("strategic_area"), "activity": app.title,
                    "version": app.latest.number,
                    "status": status_of(result),
                    "missing": missing_fields(result),
                    "errors": [p.code for p in result.problems
                               if p.severity == "error" and p.code != "missing"],
                    "consultants": result.consultants.get("to", []),
                    "last_report_sent": as_utc(sent).astimezone(zone).isoformat(timespec="seconds")
                    if sent else None,
                    "file": app.latest.submission.stored_path,
                    "received_as": app.latest.submission.original_name,
                })
            for sub in session.scalars(select(Submission).where(
                    Submission.year == year, Submission.state == "failed")):
                sent = failed_sent.get(sub.id)
                rows.append({"id": None, "municipality": None, "area": None,
                             "activity": None, "version": None, "status": "unreadable",
                             "missing": [], "errors": ["unreadable"], "consultants": fallback,
                             "last_report_sent": as_utc(sent).astimezone(zone).isoformat(
                                 timespec="seconds") if sent else None,
                             "file": sub.stored_path, "received_as": sub.original_name,
                             "reason": sub.failure_reason})
    finally:
        store.close()
    return rows


def pipeline_routing(home: Home) -> Any:
    from blankett.models.spec import load_routing

    return load_routing(home.optional_path(home.settings.routing.file))


def cmd_status(env: Environment, root: Path, as_json: bool) -> int:
    home = _open(env, root)
    if home is None:
        return EXIT_ERROR
    try:
        rows = status_rows(home, home.year(env.today))
        if as_json:
            for row in rows:
                print(json.dumps(row, ensure_ascii=False), file=env.stdout)
        else:
            print_status(env, rows, home)
    except USER_ERRORS as exc:
        env.error(f"error: {exc}")
        return EXIT_ERROR
    return EXIT_OK


def print_status(env: Environment, rows: list[dict[str, Any]], home: Home) -> None:
    from rich.console import Console
    from rich.table import Table

    from blankett.models.spec import load_spec

    # Piped output is not squeezed into 80 columns: a status table is read whole.
    console = Console(file=env.stdout, highlight=False,
                      width=None if env.stdout_is_terminal else 160)
    if not rows:
        console.print(f"No applications yet for {home.year(env.today)}.")
        return
    labels = {f.key: f.label.split(" (")[0] for f in load_spec(
        home.optional_path(home.settings.routing.spec_file)).fields}
    table = Table(box=None, header_style="dim", pad_edge=False)
    for column in ("id", "municipality", "area", "activity", "v", "status", "lacks",
                   "consultants", "report sent"):
        table.add_column(column, overflow="fold")
    style = {"complete": "green", "incomplete": "yellow", "unreadable": "red"}
    for row in rows:
        table.add_row(
            str(row["id"] or "–"), row["municipality"] or "–", row["area"] or "–",
            row["activity"] or row["received_as"], str(row["version"] or "–"),
            f"[{style[row['status']]}]{row['status']}[/]",
            ", ".join([*(labels.get(k, k) for k in row["missing"]),
                       *(c for c in row["errors"] if c != "unreadable")])
            or row.get("reason") or "",
            ", ".join(a.split("@")[0] for a in row["consultants"]),
            (row["last_report_sent"] or "")[:16].replace("T", " "))
    console.print(table)


def cmd_demo(env: Environment, root: Path) -> int:
    marker = root / ".blankett-demo"
    if root.exists() and any(root.iterdir()) and not marker.exists():
        env.error(f"error: {root} exists and is not a demo home; choose another --home")
        return EXIT_ERROR
    if marker.exists():
        shutil.rmtree(root)
    code = cmd_init(Environment(stdout=io.StringIO(), stderr=env.stderr, variables=env.variables,
                                today=env.today), root)
    if code:
        return code
    marker.write_text("A demonstration home made by `blankett demo`; it is replaced on the next.\n")
    samples = resources.files("blankett.fixtures").joinpath("samples")
    manifest = json.loads(samples.joinpath("manifest.json").read_text(encoding="utf-8"))
    # The samples were made for one grant year; their timelines are checked against it.
    year = next((str(c["fields"]["date"])[:4] for c in manifest if c.get("fields", {}).get("date")),
                None)
    settings = root / "blankett.toml"
    if year:
        settings.write_text(settings.read_text(encoding="utf-8").replace(
            "# year = 2026", f"year = {year}"), encoding="utf-8")
    inbox = root / "inbox"
    copied = 0
    for sample in samples.iterdir():
        if sample.name != "manifest.json" and sample.is_file():
            (inbox / sample.name).write_bytes(sample.read_bytes())
            copied += 1
    past = time.time() - 60
    for path in inbox.iterdir():
        # The samples are complete files: no need to wait for them to settle.
        os.utime(path, (past, past))
    print(f"Demo home {root}: {copied} sample forms dropped into {inbox}.", file=env.stdout,
          flush=True)
    code = cmd_run(env, root)
    if code:
        return code
    print(file=env.stdout)
    home = load_home(root)
    print_status(env, status_rows(home, home.year(env.today)), home)
    print(f"\nReports: {home.outbox}/<consultant>/*.eml; originals: {home.archive} (files that "
          f"cannot be opened at all: {home.failed}).", file=env.stdout)
    print(f"Try: blankett status --home {root}; blankett nightly --home {root}", file=env.stdout)
    return EXIT_OK

