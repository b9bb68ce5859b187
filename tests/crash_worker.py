"""Run by tests/test_crash.py as a separate process, to be killed at any moment: intake passes
over a home, one after another, the way `blankett watch` runs them (without Prefect)."""

from __future__ import annotations

import sys
from pathlib import Path

from blankett.flows.home.locking import home_lock
from blankett.flows.home.settings import load_home
from blankett.flows.mail.delivery import OutboxDelivery
from blankett.flows.mail.messaging import deliver_pending
from blankett.flows.pipeline.inbox import InboxFilter, StabilityTracker, wait_until_ready
from blankett.flows.pipeline.intake import ReadAhead, recover, take_file
from blankett.flows.pipeline.resources import open_pipeline


def main(root: Path) -> None:
    home = load_home(root)
    pipeline = open_pipeline(home, delivery=OutboxDelivery(home.outbox))
    tracker = StabilityTracker(home.settings.inbox.stable_seconds)
    while True:
        with home_lock(root):
            recover(pipeline)
            ready = wait_until_ready(home.inbox, InboxFilter(), tracker, 0.5)
            with ReadAhead(pipeline, ready) as ahead:
                for path in ready:
                    take_file(pipeline, path, ahead)
            deliver_pending(pipeline)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
