"""`blankett extract`: read the given files and print a report for each."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from blankett.flows.cli.environment import Environment
from blankett.flows.pipeline.examine import Examiner, Failure
from blankett.flows.pipeline.isolation import WorkerUnavailable
from blankett.models.limits import MB, Limits
from blankett.models.records import Report
from blankett.models.spec import ConfigError, load_routing, load_spec

EXIT_OK = 0
EXIT_NO_READERS = 1
EXIT_UNREADABLE = 2


def run_extract(env: Environment, files: list[Path], *, as_json: bool, year: int | None,
                spec_path: Path | None, routing_path: Path | None, max_size_mb: int,
                max_pages: int) -> int:
    try:
        spec = load_spec(spec_path)
        routing = load_routing(routing_path)
    except ConfigError as exc:
        env.error(f"error: {exc}")
        return EXIT_UNREADABLE
    if len(files) > 1:
        from blankett.flows.pipeline.isolation import readers

        # Its workers start while the examiner is made. After the spec is read: starting them
        # takes file descriptors, and where the machine has too few, reading the spec beside
        # them failed with a traceback instead of the one line below.
        readers().prestart()
    limits = Limits(max_file_bytes=max_size_mb * MB, max_pages=max_pages)
    # One file is read in a child forked from this process, which has imported the readers
    # already: starting the reader pool (a forkserver importing them again) would cost more
    # than the read. Several are read side by side in the pool, their reports in the order given.
    examiner = Examiner(spec, routing, year or env.today.year, limits, fork_here=len(files) == 1)

    try:
        results = list(_progress(env, examiner.examine_paths(files), len(files)))
    except WorkerUnavailable as exc:  # the machine's trouble (no memory, no file descriptors)
        env.error(f"error: {exc}; the files were not read")
        return EXIT_NO_READERS
    reports = [r for r in results if isinstance(r, Report)]
    examiner.cross_check(reports)

    console = None
    if not as_json:
        from rich.console import Console

        console = Console(file=env.stdout, highlight=False, soft_wrap=False,
                          force_terminal=env.stdout_is_terminal or None,
                          width=None if env.stdout_is_terminal else 120)
    for result in results:
        if isinstance(result, Failure):
            env.error(result.line)
        elif console is None:
            print(result.model_dump_json(), file=env.stdout, flush=True)
        else:
            from blankett.flows.cli.extract_summary import render_report

            render_report(console, result, spec, routing)
    return EXIT_UNREADABLE if len(reports) < len(results) else EXIT_OK


def _progress(env: Environment, results: Iterator[Report | Failure],
              count: int) -> Iterator[Report | Failure]:
    """A progress bar on a terminal's stderr when there is enough to wait for; nothing otherwise,
    so that scripts and pipes get clean output."""
    if count < 5 or not env.stderr_is_terminal:
        yield from results
        return
    from rich.console import Console
    from rich.progress import track

    tracked: Iterable[Report | Failure] = track(results, total=count, description="Reading forms",
                                                transient=True, console=Console(file=env.stderr))
    yield from tracked
