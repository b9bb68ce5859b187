"""Prefect's environment for a blankett home, set before Prefect is imported: its files inside
the home, no telemetry, and quiet about the temporary server's normal shutdown."""

from __future__ import annotations

import logging
import os

from blankett.flows.settings import Home


class _DropShutdownNoise(logging.Filter):
    """The temporary server logs a CancelledError traceback at every normal exit."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Error flushing" not in record.getMessage() and not (
            record.exc_info and record.exc_info[0] is not None
            and record.exc_info[0].__name__ == "CancelledError")


def prepare_prefect(home: Home, *, quiet: bool = True) -> None:
    home.prefect_home.mkdir(parents=True, exist_ok=True)
    os.environ["PREFECT_HOME"] = str(home.prefect_home)
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["DO_NOT_TRACK"] = "1"
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    # The steps log through `blankett.*`; Prefect then records those lines with each run.
    os.environ["PREFECT_LOGGING_EXTRA_LOGGERS"] = "blankett"
    logging.getLogger("blankett").setLevel(logging.INFO)
    if quiet:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    for name in ("prefect.server.services.task_run_recorder", "prefect.server", "prefect._internal",
                 "prefect.events", "uvicorn", "uvicorn.error"):
        logging.getLogger(name).addFilter(_DropShutdownNoise())
