"""Prefect's environment for a blankett home, set before Prefect is imported: its files inside
the home, no telemetry, and quiet about a Prefect server's normal shutdown."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from blankett.flows.home.settings import Home


class _DropShutdownNoise(logging.Filter):
    """Prefect's servers log a CancelledError traceback at every normal exit."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Error flushing" not in record.getMessage() and not (
            record.exc_info and record.exc_info[0] is not None
            and record.exc_info[0].__name__ == "CancelledError")


class _DropInterruptedCrashes(logging.Filter):
    """A run stopped by Ctrl-C or SIGTERM is logged by Prefect as a crash of each task, of the
    flow and of its end state; the intake logs one line for it instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (("Crash detected!" in message or "Crashed(" in message)
                    and ("interrupt signal" in message or "termination signal" in message))


def prepare_prefect(home: Home, *, quiet: bool = True) -> None:
    home.prefect_home.mkdir(parents=True, exist_ok=True)
    # Log lines carry the time of day in the home's zone, as its reports and file names do.
    os.environ["TZ"] = home.settings.schedule.timezone
    time.tzset()
    os.environ["PREFECT_HOME"] = str(home.prefect_home)
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["DO_NOT_TRACK"] = "1"
    # The steps log through `blankett.*`; Prefect then records those lines with each run.
    os.environ["PREFECT_LOGGING_EXTRA_LOGGERS"] = "blankett"
    if quiet:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    configure_logging()


@contextmanager
def flow_settings() -> Iterator[None]:
    """Prefect's settings while a command runs flows in its own process. Without heartbeats:
    Prefect sends a flow run's heartbeat from a thread that sleeps in whole seconds and that the
    run waits for as it ends, so that each run finished up to a second late (`run`'s exit,
    `watch`'s report); they serve to find crashed runs of deployments (`serve`'s, which keep
    them), and a command's runs end with the command."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def configure_logging() -> None:
    """What of the logging a process that runs the flows sets up itself: the environment above
    reaches the processes Prefect starts for a served deployment's runs, a logger's level and
    filters do not. Doing it twice changes nothing."""
    logging.getLogger("blankett").setLevel(logging.INFO)
    for name in ("prefect.server.services.task_run_recorder", "prefect.server", "prefect._internal",
                 "prefect.events", "uvicorn", "uvicorn.error"):
        _add_once(logging.getLogger(name), _DropShutdownNoise)
    for name in ("prefect.task_runs", "prefect.flow_runs"):
        _add_once(logging.getLogger(name), _DropInterruptedCrashes)


def _add_once(logger: logging.Logger, kind: type[logging.Filter]) -> None:
    if not any(isinstance(existing, kind) for existing in logger.filters):
        logger.addFilter(kind())


def send_what_is_left() -> None:
    """Hand Prefect's last logs and events to its server while it still runs. A command that
    stops its local server first would see Prefect report, at exit, that it could not log."""
    if "prefect" not in sys.modules:
        return
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)
    EventsWorker.drain_all(timeout=10)
