"""The commands that work on a blankett home: init, run, watch, nightly, rerun, status, demo.

Each returns an exit code and writes through the Environment; the flows run through `running`,
the questions asked of the store are in `store.queries`."""

from __future__ import annotations

import io
import json
import os
import shlex
import shutil
import sys
import time
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from blankett.flows.cli.environment import Environment
from blankett.flows.cli.running import (
    EXIT_ERROR,
    EXIT_FAILED,
    EXIT_OK,
    USER_ERRORS,
    Failed,
    flow,
    open_home,
    prefect_flows,
    ready_home,
    run_flow,
    said_setting_wrong,
)
from blankett.flows.cli.status_table import print_status
from blankett.flows.home.settings import (
    Home,
    InboxMissing,
    SettingsError,
    inbox_missing,
    init_home,
    load_home,
)
from blankett.flows.orchestration.server import ServerError
from blankett.flows.store.database import Store
from blankett.flows.store.queries import application_ids
from blankett.flows.store.queries import status_rows as query_status_rows
from blankett.models.errors import BlankettError

if TYPE_CHECKING:  # the flows import Prefect, which `init` and `status` do without
    from blankett.flows.orchestration.flows import IntakeCounts, NightlyCounts


def home_path(env: Environment, given: Path | None) -> Path:
    if given is not None:
        return given
    if env.variables.get("BLANKETT_HOME"):
        return Path(env.variables["BLANKETT_HOME"])
    from blankett.flows.home.settings import DEFAULT_HOME

    return Path(DEFAULT_HOME)


def cmd_init(env: Environment, root: Path, create_inbox: bool = False) -> int:
    try:
        created = init_home(root, create_inbox)
    except SettingsError as exc:
        env.error(f"error: {exc}")
        return EXIT_ERROR
    for path in created:
        print(f"created {path}", file=env.stdout)
    try:
        home = load_home(root, env.variables)
    except InboxMissing as exc:
        env.error(f"error: {exc}, or create it with `blankett init --create-inbox {root}`")
        return EXIT_ERROR
    except SettingsError as exc:
        env.error(f"error: {exc}")
        return EXIT_ERROR
    if not created:
        print(f"{home.root} is already a blankett home; nothing changed", file=env.stdout)
    print(f"Drop received forms into {home.inbox} and run `{program(env)} run --home "
          f"{shlex.quote(str(root))}`.", file=env.stdout)
    return EXIT_OK


def program(env: Environment) -> str:
    """The command that runs this blankett, as a person can type it: `blankett` where that is
    the one on PATH, else its script's path (`.venv/bin/blankett`, as the README runs it)."""
    script = Path(sys.argv[0])
    if script.name != "blankett":  # `python -m blankett.flows`
        script = Path(sys.executable).parent / "blankett"
        if not script.is_file():
            return f"{shlex.quote(sys.executable)} -m blankett.flows"
    found = shutil.which("blankett", path=env.variables.get("PATH", ""))
    if found and Path(found).resolve() == script.resolve():
        return "blankett"
    return shlex.quote(str(script))


def cmd_run(env: Environment, root: Path) -> int:
    home = ready_home(env, root)
    if home is None:
        return EXIT_ERROR
    counts = run_flow(env, home, "intake", lambda flows: flows.intake(str(home.root)))
    if isinstance(counts, Failed):
        return counts.code
    print(_counts_line(counts, home), file=env.stdout)
    if said_setting_wrong(env, counts):
        return EXIT_ERROR
    return EXIT_FAILED if counts.get("failed") else EXIT_OK


def _counts_line(counts: IntakeCounts, home: Home) -> str:
    taken = sum(counts[k] for k in ("complete", "incomplete", "unreadable", "duplicate"))
    failed = counts.get("failed", 0)
    waiting = counts.get("skipped", 0) - failed
    if taken:
        line = (f"Took {taken} file{'s' * (taken != 1)}: {counts['complete']} complete, "
                f"{counts['incomplete']} incomplete, {counts['unreadable']} unreadable, "
                f"{counts['duplicate']} duplicate.")
    elif not failed:
        line = f"Nothing new in {home.inbox}."
    else:
        line = ""
    if failed:
        # Not "nothing new": files came and could not be filed (an archive that cannot be
        # written, a store that refuses); the log above says why.
        line += (f" Could not file {failed} file{'s' * (failed != 1)}: left in the inbox for "
                 "the next pass (the reason is in the log above).")
    if waiting:
        line += (f" {waiting} file{'s' * (waiting != 1)} left in the inbox for the next pass "
                 "(still arriving, or changed meanwhile; see the log).")
    where = "outbox/" if not home.settings.smtp.host else home.settings.smtp.host
    line += f" Messages sent: {counts['sent']} (to {where})"
    if counts.get("pending"):
        line += f", {counts['pending']} waiting for the next run"
    return line.lstrip() + "."


def cmd_watch(env: Environment, root: Path) -> int:
    home = ready_home(env, root)
    if home is None:
        return EXIT_ERROR
    from blankett.flows.pipeline.inbox import InboxFilter
    from blankett.flows.pipeline.inbox_events import InboxEvents
    from blankett.flows.pipeline.isolation import readers

    interval = home.settings.inbox.scan_interval_seconds
    inbox_filter = InboxFilter()
    # Made here, in the main thread, its readers are deaf to Ctrl-C from their start (isolation);
    # their forkserver imports the readers while the Prefect server starts.
    readers()
    try:
        with prefect_flows(env, home) as (flows, api), InboxEvents(home.inbox, interval) as events:
            print(f"Watching {home.inbox} (full scan every {interval:g} s). Stop with Ctrl-C.",
                  file=env.stdout, flush=True)
            _watch_pass(env, flows, home)
            if flows.STOP.is_set():
                raise KeyboardInterrupt
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
                if flows.STOP.is_set():  # a Ctrl-C that Prefect took for a crashed task
                    raise KeyboardInterrupt
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
        # The inbox deleted, a setting broken meanwhile: one line, not a run.
        load_home(home.root, env.variables)
    except SettingsError as exc:
        env.error(f"error: {exc}; watching on")
        return
    counts = flow(env, "intake", lambda: flows.intake(str(home.root)))
    if isinstance(counts, Failed):
        return  # said on stderr; the next event or scan tries again
    line = pass_line(counts, home)
    if line:
        print(line, file=env.stdout, flush=True)
    said_setting_wrong(env, counts)  # the messages wait; watching on, as for a broken setting


def pass_line(counts: IntakeCounts, home: Home) -> str | None:
    """What a pass of a command that stays up (watch, serve) says, with its time; None when it
    took and sent nothing, so that an idle inbox does not fill the terminal."""
    if not any(counts[k] for k in ("complete", "incomplete", "unreadable", "duplicate", "sent")):
        return None
    return f"{datetime.now().strftime('%H:%M:%S')} {_counts_line(counts, home)}"


def cmd_nightly(env: Environment, root: Path) -> int:
    # Nightly checks the store and files from failed/ and archive/: a shared-drive inbox not
    # mounted is said, and the night's checks and summaries go ahead.
    home = ready_home(env, root, inbox_needed=False)
    if home is None:
        return EXIT_ERROR
    if (missing := inbox_missing(home)) is not None:
        env.error(f"warning: {missing}")
    result = run_flow(env, home, "nightly", lambda flows: flows.nightly(str(home.root)))
    if isinstance(result, Failed):
        return result.code
    print(nightly_line(result), file=env.stdout)
    return EXIT_ERROR if said_setting_wrong(env, result) else EXIT_OK


def _counted(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def nightly_line(result: NightlyCounts) -> str:
    return (f"Checked {_counted(result['checked'], 'application', 'applications')} "
            f"({result['changed']} changed, "
            f"{result['reread']} read again, {result['retaken']} taken from failed/); "
            f"{_counted(result['summaries'], 'summary', 'summaries')} queued; "
            f"messages sent: {result['sent']}"
            + (f", {result['pending']} waiting" if result["pending"] else "") + ".")


def cmd_rerun(env: Environment, root: Path, targets: list[str], everything: bool,
              failed: bool = False) -> int:
    home = ready_home(env, root)
    if home is None:
        return EXIT_ERROR
    if not targets and not everything and not failed:
        env.error("error: name an application id or an archived file, or use --all or --failed")
        return EXIT_ERROR
    ids = None
    if targets and not everything:
        try:
            ids = _application_ids(home, targets)
        except BlankettError as exc:  # unknown target, store unreachable
            env.error(f"error: {exc}")
            return EXIT_ERROR
    applications = everything or bool(targets)
    result = run_flow(env, home, "rerun", lambda flows: flows.rerun(
        str(home.root), ids, failed=failed, applications=applications))
    if isinstance(result, Failed):
        return result.code
    if failed and not applications:
        taken = "an application" if result["retaken"] == 1 else "applications"
        print(f"Read the unreadable files again: {result['retaken']} taken in as {taken}, "
              f"{result['still_failed']} still unreadable; messages sent: {result['sent']}.",
              file=env.stdout)
        return EXIT_ERROR if said_setting_wrong(env, result) else EXIT_OK
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
    return EXIT_ERROR if said_setting_wrong(env, result) else EXIT_OK


def _application_ids(home: Home, targets: list[str]) -> list[int]:
    store = Store(home.database_url)
    try:
        return application_ids(store, home.root, targets)
    finally:
        store.close()


def status_rows(home: Home, year: int) -> list[dict[str, Any]]:
    store = Store(home.database_url)
    try:
        return query_status_rows(store, year, ZoneInfo(home.settings.schedule.timezone),
                                 list(pipeline_routing(home).consultants(None)))
    finally:
        store.close()


def pipeline_routing(home: Home) -> Any:
    from blankett.models.spec import load_routing

    return load_routing(home.optional_path(home.settings.routing.file))


def cmd_status(env: Environment, root: Path, as_json: bool) -> int:
    # The store tells the status; an inbox on a share not mounted is said, and shown past.
    home = open_home(env, root, inbox_needed=False)
    if home is None:
        return EXIT_ERROR
    if (missing := inbox_missing(home)) is not None:
        env.error(f"warning: {missing}")
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
    home = load_home(root, env.variables)
    print_status(env, status_rows(home, home.year(env.today)), home)
    print(f"\nReports: {home.outbox}/<consultant>/*.eml; originals: {home.archive} (files that "
          f"cannot be opened at all: {home.failed}).", file=env.stdout)
    run, where = program(env), shlex.quote(str(root))
    print(f"Try: {run} status --home {where}; {run} nightly --home {where}", file=env.stdout)
    return EXIT_OK

