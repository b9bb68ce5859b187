"""The Prefect flows: `intake` (one pass over the inbox) and `nightly` (re-validate everything,
send the triage summaries). Each is a short list of named steps over plain functions."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import TypedDict
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from blankett.flows.home.locking import home_lock
from blankett.flows.home.settings import load_home
from blankett.flows.mail.messaging import DeliveryOutcome, deliver_pending, pending_count, queue_summaries
from blankett.flows.mail.overview import table
from blankett.flows.mail.reports import status_word
from blankett.flows.orchestration.setup import configure_logging
from blankett.flows.pipeline import revalidation as nightly_steps
from blankett.flows.pipeline.inbox import InboxFilter, StabilityTracker, wait_until_ready
from blankett.flows.pipeline.intake import ReadAhead, Taken, recover, retake_failed, take_file
from blankett.flows.pipeline.resources import Pipeline, open_pipeline
from blankett.flows.store.overview import overview_rows
from blankett.models.errors import SettingWrong

# Every process that runs these flows imports this module: `serve`'s runs, each in a process of
# its own, log and record their steps as a command's runs do.
configure_logging()

# Set by the command's Ctrl-C or SIGTERM (cli/running.py): a pass takes no further file. Prefect
# records an interrupted task as crashed instead of letting the interrupt through, so the flag,
# not the exception, is what stops the pass and the command.
STOP = threading.Event()

# Steps get the open pipeline, quoted: it is no input worth caching, recording or inspecting.
_step = task(cache_policy=NO_CACHE)


class Outcomes(TypedDict):
    """How many files of a pass ended each way."""

    complete: int
    incomplete: int
    unreadable: int
    duplicate: int
    skipped: int  # left in the inbox for the next pass
    failed: int  # of those, left because something is wrong (an archive that cannot be written)


class IntakeCounts(Outcomes):
    sent: int  # messages delivered
    pending: int  # messages waiting for the next run
    setting_wrong: str  # why no message could leave (an SMTP setting), else ""


class NightlyCounts(TypedDict):
    checked: int  # applications checked again
    changed: int  # whose result changed
    reread: int  # read again by a newer reader
    retaken: int  # unreadable files now taken in
    summaries: int  # consultants' summaries queued
    sent: int
    pending: int
    setting_wrong: str


class RerunCounts(TypedDict):
    checked: int
    changed: int
    sent: int
    pending: int
    retaken: int
    still_failed: int  # files still unreadable in failed/
    setting_wrong: str


@_step
def find_ready_files(pipeline: Pipeline, patience: float) -> list[Path]:
    settings = pipeline.home.settings.inbox
    tracker = StabilityTracker(settings.stable_seconds)
    return wait_until_ready(pipeline.home.inbox, InboxFilter(), tracker, patience)


@_step
def finish_interrupted(pipeline: Pipeline) -> list[Taken]:
    return recover(pipeline)


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def take(pipeline: Pipeline, path: Path, ahead: ReadAhead | None = None) -> Taken:
    return take_file(pipeline, path, ahead)


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def deliver(pipeline: Pipeline) -> DeliveryOutcome:
    """A wrong SMTP setting fails alike at every attempt: returned, not raised, so that the run
    ends as it is (files filed, messages waiting) and its command says it in one line, without
    Prefect's traceback of a failed run."""
    try:
        return deliver_pending(pipeline)
    except SettingWrong as exc:
        return DeliveryOutcome(0, 0, pending_count(pipeline), str(exc))


@flow(name="intake", log_prints=False)
def intake(home: str, patience: float | None = None) -> IntakeCounts:
    """One pass over the inbox: take every complete file, file it, record it, report it."""
    logger = get_run_logger()
    pipeline = open_pipeline(load_home(Path(home)))
    try:
        with home_lock(pipeline.home.root):
            wait = patience if patience is not None else \
                pipeline.home.settings.inbox.stable_seconds * 3
            taken = finish_interrupted(quote(pipeline))
            ready = find_ready_files(quote(pipeline), wait)
            # Read side by side in the reader workers; taken (filed, recorded, reported) one
            # after another in this process, in the order found.
            with ReadAhead(pipeline, ready) as ahead:
                for path in ready:
                    if STOP.is_set():
                        break
                    taken.append(_take_or_skip(pipeline, path, ahead))
            delivered = deliver(quote(pipeline))
    finally:
        pipeline.close()
    counts = IntakeCounts(**count(taken), sent=delivered.sent, pending=delivered.pending,
                          setting_wrong=delivered.setting_wrong)
    for item in taken:
        logger.info("%s: %s %s", item.name, item.outcome, item.detail)
    create_markdown_artifact(markdown=intake_table(taken, delivered), key="intake-pass",
                             description="What the last pass over the inbox took in")
    return counts


def _take_or_skip(pipeline: Pipeline, path: Path, ahead: ReadAhead) -> Taken:
    """One file's fault, after its retries, must not keep the others from being taken and
    reported: the file stays in the inbox (take_file puts it back) for the next pass."""
    state = take(quote(pipeline), path, quote(ahead), return_state=True)
    if state.is_completed():
        return state.result()  # type: ignore[no-any-return]
    if state.is_crashed() or STOP.is_set():  # interrupted, not a fault of the file
        get_run_logger().warning("%s: stopped while taking it; it is finished on the next start",
                                 path.name)
        raise KeyboardInterrupt
    error = state.result(raise_on_failure=False)
    reason = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)
    get_run_logger().error("%s: left in the inbox for the next pass; taking it failed (%s)",
                           path.name, reason)
    return Taken(path.name, "skipped", f"failed, left in the inbox: {reason}", failed=True)


def count(taken: list[Taken]) -> Outcomes:
    seen = Counter(t.outcome for t in taken)
    return Outcomes(complete=seen["complete"], incomplete=seen["incomplete"],
                    unreadable=seen["unreadable"], duplicate=seen["duplicate"],
                    skipped=seen["skipped"], failed=sum(t.failed for t in taken))


def intake_table(taken: list[Taken], delivered: DeliveryOutcome) -> str:
    """What a pass took, in Swedish for the people who look at the run in Prefect's UI; the
    English details are in the run's log beside it."""
    lines = ["| fil | resultat | detalj |", "|---|---|---|"]
    lines += [f"| {_cell(t.name)} | {_outcome(t)} | {_cell(_detail(t))} |" for t in taken]
    if not taken:
        lines.append("| – | inget nytt i inkorgen | |")
    lines.append(f"\nSkickade meddelanden: {delivered.sent}; väntar: {delivered.pending}")
    return "\n".join(lines)


def _outcome(taken: Taken) -> str:
    if taken.outcome in ("complete", "incomplete", "unreadable"):
        return status_word(taken.outcome)
    return {"duplicate": "dubblett", "skipped": "ej tagen"}[taken.outcome]


def _detail(taken: Taken) -> str:
    if taken.said:
        return taken.said
    if taken.outcome in ("complete", "incomplete"):
        return f"arkiverad som {taken.detail}"
    if taken.failed:
        # What is wrong is the machine's or the program's: said as it was raised, for whoever
        # mends it, as in the log.
        return f"inte tagen, något är fel: {taken.detail}; filen ligger kvar i inkorgen"
    return "inte tagen nu: tas vid nästa körning om den ligger kvar i inkorgen"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


@_step
def revalidate(pipeline: Pipeline) -> nightly_steps.Revalidated:
    return nightly_steps.revalidate_all(pipeline)


@_step
def retake(pipeline: Pipeline, only_awaiting_setup: bool = False) -> list[Taken]:
    return retake_failed(pipeline, only_awaiting_setup=only_awaiting_setup)


@_step
def summarise(pipeline: Pipeline, day: str, generated_at: datetime) -> int:
    return queue_summaries(pipeline, day, generated_at).queued


@_step
def overview(pipeline: Pipeline) -> list[dict[str, object]]:
    """The year's applications a row each, as `blankett overview` gives them."""
    return table(overview_rows(pipeline.store, pipeline.spec, pipeline.routing, pipeline.year,
                               ZoneInfo(pipeline.home.settings.schedule.timezone)))


@flow(name="nightly", log_prints=False)
def nightly(home: str, day: str | None = None) -> NightlyCounts:
    """Re-validate every application of the grant year and send each consultant's summary."""
    pipeline = open_pipeline(load_home(Path(home), inbox_needed=False))
    generated_at = datetime.now(UTC)
    try:
        with home_lock(pipeline.home.root):
            retaken = retake(quote(pipeline), only_awaiting_setup=True)
            checked = revalidate(quote(pipeline))
            summaries = summarise(quote(pipeline),
                                  day or generated_at.astimezone().date().isoformat(), generated_at)
            delivered = deliver(quote(pipeline))
            year = overview(quote(pipeline))
    finally:
        pipeline.close()
    create_table_artifact(table=year, key="year-overview",
                          description=f"Årets ansökningar ({pipeline.year}), en rad per ansökan")
    create_markdown_artifact(
        markdown=(f"Omprövade ansökningar: {checked.checked}, ändrade: {checked.changed}, "
                  f"omlästa: {checked.reread}; olästa filer som nu kunde läsas: {len(retaken)}"
                  f"\n\nSammanställningar: {summaries}; "
                  f"skickade meddelanden: {delivered.sent}; väntar: {delivered.pending}"),
        key="nightly-run", description="The last nightly run")
    return NightlyCounts(checked=checked.checked, changed=checked.changed, reread=checked.reread,
                         retaken=len(retaken), summaries=summaries, sent=delivered.sent,
                         pending=delivered.pending, setting_wrong=delivered.setting_wrong)


@flow(name="rerun", log_prints=False)
def rerun(home: str, application_ids: list[int] | None = None, failed: bool = False,
          applications: bool = True) -> RerunCounts:
    """Read applications' latest versions again (all of the grant year when no ids are given),
    check them, and report to the consultants only where the result changed; with `failed`,
    also the unreadable files in failed/, taking in those now read."""
    pipeline = open_pipeline(load_home(Path(home)))
    try:
        with home_lock(pipeline.home.root):
            retaken = retake(quote(pipeline)) if failed else []
            checked = reread(quote(pipeline), application_ids) if applications else \
                nightly_steps.Revalidated(0, 0, 0)
            delivered = deliver(quote(pipeline))
            still_failed = _still_failed(pipeline) if failed else 0
    finally:
        pipeline.close()
    return RerunCounts(checked=checked.checked, changed=checked.changed, sent=delivered.sent,
                       pending=delivered.pending, retaken=len(retaken), still_failed=still_failed,
                       setting_wrong=delivered.setting_wrong)


def _still_failed(pipeline: Pipeline) -> int:
    from sqlalchemy import func, select

    from blankett.flows.store.database import Submission

    with pipeline.store.session() as session:
        return int(session.scalar(select(func.count()).select_from(Submission).where(
            Submission.state == "failed", Submission.year == pipeline.year)) or 0)


@_step
def reread(pipeline: Pipeline, application_ids: list[int] | None) -> nightly_steps.Revalidated:
    return nightly_steps.revalidate_all(pipeline, reread=True, only=application_ids, report=True)
