"""The flows as `blankett serve` serves them: each run, in a process that Prefect starts and that
imports them from here by name, prints the line `watch` prints for a pass; that process's
output is serve's. Imported once Prefect is set up for the home (it imports Prefect)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from blankett.flows.cli.home import nightly_line, pass_line
from blankett.flows.home.settings import load_home
from blankett.flows.orchestration import flows

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun
    from prefect.states import State


def _said_intake(_flow: object, flow_run: FlowRun, state: State) -> None:
    line = pass_line(state.result(), load_home(Path(flow_run.parameters["home"])))
    if line:
        print(line, flush=True)


def _said_nightly(_flow: object, _flow_run: FlowRun, state: State) -> None:
    print(f"{datetime.now().strftime('%H:%M:%S')} {nightly_line(state.result())}", flush=True)


intake = flows.intake.with_options(on_completion=[_said_intake])
nightly = flows.nightly.with_options(on_completion=[_said_nightly])
