"""The flows as `blankett serve` serves them: each run, in a process that Prefect starts and that
imports them from here by name, prints the line `watch` prints for a pass; that process's
output is serve's. Imported once Prefect is set up for the home (it imports Prefect)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from blankett.flows.cli.environment import Environment
from blankett.flows.cli.home import nightly_line, pass_line
from blankett.flows.cli.running import said_setting_wrong
from blankett.flows.home.settings import load_home
from blankett.flows.orchestration import flows

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun
    from prefect.states import State


def _said_intake(_flow: object, flow_run: FlowRun, state: State) -> None:
    counts = state.result()
    line = pass_line(counts, load_home(Path(flow_run.parameters["home"])))
    if line:
        print(line, flush=True)
    said_setting_wrong(Environment(), counts)


def _said_nightly(_flow: object, _flow_run: FlowRun, state: State) -> None:
    counts = state.result()
    print(f"{datetime.now().strftime('%H:%M:%S')} {nightly_line(counts)}", flush=True)
    said_setting_wrong(Environment(), counts)


intake = flows.intake.with_options(on_completion=[_said_intake])
nightly = flows.nightly.with_options(on_completion=[_said_nightly])
