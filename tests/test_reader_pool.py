"""The reader pool: workers that read file after file, recycled after a number of files, replaced
when a file overruns its time, exhausts its memory or a worker dies, the other files' results
untouched; `blankett extract` over many files reads them side by side and reports in order."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import Future
from multiprocessing.connection import Connection
from pathlib import Path

import pytest
from cli_support import blankett_here

from blankett.extractors import ReadContext, Unreadable, read
from blankett.fixtures.corpus import Case
from blankett.fixtures.hostile import flate_bomb_pdf
from blankett.flows.pipeline.isolation import ReaderPool
from blankett.models.limits import MB
from blankett.models.records import Extraction
from blankett.models.spec import load_spec

CONTEXT = ReadContext(load_spec())
MINUTE = 60.0


def _forms(corpus: list[Case], count: int) -> list[Case]:
    forms = [c for c in corpus if c.kind in ("docx", "pdf-form", "pdf-text")]
    return [forms[i % len(forms)] for i in range(count)]


def _submit(pool: ReaderPool, case: Case, seconds: float = MINUTE,
            memory_mb: int = 1024) -> Future[Extraction]:
    return pool.submit(case.data, CONTEXT, seconds=seconds, memory_bytes=memory_mb * MB)


def _same(extraction: Extraction, case: Case) -> None:
    assert extraction.model_dump() == read(case.data, CONTEXT).model_dump(), case.name


def test_a_worker_reads_many_files_and_is_replaced_after_its_number(corpus: list[Case]) -> None:
    pool = ReaderPool(1, files_per_worker=3)
    try:
        started, recycled, workers = [], [], []
        for case in _forms(corpus, 7):
            _same(_submit(pool, case).result(timeout=MINUTE), case)
            started.append(pool.started)
            recycled.append(pool.ended.get("recycled", 0))
            workers.append(tuple(pool.pids()))
        # Three files a worker: replaced after the third and the sixth.
        assert started == [1, 1, 1, 2, 2, 2, 3]
        assert recycled == [0, 0, 1, 1, 1, 2, 2]
        assert workers[0] == workers[1] and len(workers[0]) == 1
        assert workers[2] == workers[5] == ()
        assert workers[3] == workers[4] != workers[0]
        assert workers[6] not in (workers[0], workers[3])
        assert pool.ended == {"recycled": 2}
    finally:
        pool.close()
    assert pool.pids() == []


def test_a_worker_killed_for_time_is_replaced_while_the_other_files_complete(
        corpus: list[Case]) -> None:
    pool = ReaderPool(2, files_per_worker=50)
    printed = next(c for c in corpus if c.kind == "pdf-text")
    forms = _forms(corpus, 12)
    try:
        first = [_submit(pool, case) for case in forms[:6]]
        # No printed PDF is read in a millisecond: its worker is killed at the deadline.
        stalled = _submit(pool, printed, seconds=0.001)
        rest = [_submit(pool, case) for case in forms[6:]]
        with pytest.raises(Unreadable, match=r"longer than 0\.001 s"):
            stalled.result(timeout=MINUTE)
        for future, case in zip([*first, *rest], forms, strict=True):
            _same(future.result(timeout=MINUTE), case)
        assert pool.ended == {"time": 1}
        assert pool.started == 3  # two, and the one in place of the killed worker
        assert len(pool.pids()) == 2
    finally:
        pool.close()


def test_a_file_exhausting_memory_costs_its_worker_and_no_other_file(corpus: list[Case]) -> None:
    pool = ReaderPool(2)
    forms = _forms(corpus, 6)
    try:
        before = [_submit(pool, case) for case in forms[:3]]
        bomb = pool.submit(flate_bomb_pdf(400), CONTEXT, seconds=MINUTE, memory_bytes=256 * MB)
        after = [_submit(pool, case) for case in forms[3:]]
        with pytest.raises(Unreadable, match="MB"):
            bomb.result(timeout=MINUTE)
        for future, case in zip([*before, *after], forms, strict=True):
            _same(future.result(timeout=MINUTE), case)
        # Replaced whether the reader saw MemoryError or the kernel ended it.
        assert set(pool.ended) <= {"memory", "died"} and sum(pool.ended.values()) == 1
    finally:
        pool.close()


def test_a_worker_that_died_idle_is_replaced(corpus: list[Case]) -> None:
    pool = ReaderPool(1)
    case = _forms(corpus, 1)[0]
    try:
        _same(_submit(pool, case).result(timeout=MINUTE), case)
        (pid,) = pool.pids()
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while pid in pool.pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        _same(_submit(pool, case).result(timeout=MINUTE), case)
        assert pool.pids() != [pid]
        assert pool.ended == {"died idle": 1}
    finally:
        pool.close()


_PROBE = """
import signal
from blankett.flows.pipeline import isolation

def at_start(send):
    send.send(signal.getsignal(signal.SIGINT) is signal.SIG_IGN)

if __name__ == "__main__":
    # As a terminal starts a command, whatever started this test (a background job ignores it).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    pool = isolation.ReaderPool(1)  # in the main thread, as `watch` makes it
    receive, send = isolation._workers().Pipe(duplex=False)
    probe = isolation._workers().Process(target=at_start, args=(send,), daemon=True)
    probe.start()
    print(receive.recv(), signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    pool.close()
"""


def test_a_worker_is_deaf_to_ctrl_c_from_its_first_line(tmp_path: Path) -> None:
    """Ctrl-C reaches the whole process group: a worker that got it as it started printed a
    traceback (a handler set once it runs leaves its start open). The forkserver the pool's
    workers are forked from ignores it, and they do from birth; the command still hears it.
    In a process of its own: this one's forkserver may have been started by another test."""
    (tmp_path / "probe.py").write_text(_PROBE)
    done = subprocess.run([sys.executable, "probe.py"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=MINUTE, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]


def test_an_idle_worker_ends_after_a_while(corpus: list[Case]) -> None:
    pool = ReaderPool(1, idle_seconds=0.3)
    case = _forms(corpus, 1)[0]
    try:
        _submit(pool, case).result(timeout=MINUTE)
        deadline = time.monotonic() + 30
        while pool.pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool.pids() == [] and pool.ended == {"idle": 1}
        _same(_submit(pool, case).result(timeout=MINUTE), case)  # a new one when needed
    finally:
        pool.close()


def test_files_not_yet_read_when_the_pool_closes_fail_as_unavailable(corpus: list[Case]) -> None:
    from blankett.flows.pipeline.isolation import WorkerUnavailable

    pool = ReaderPool(1)
    futures = [_submit(pool, case) for case in _forms(corpus, 6)]
    pool.close()
    outcomes = []
    for future in futures:
        try:
            outcomes.append(type(future.result(timeout=MINUTE)).__name__)
        except WorkerUnavailable:
            outcomes.append("unavailable")
    assert outcomes[-1] == "unavailable"
    assert pool.pids() == []
    with pytest.raises(WorkerUnavailable):
        _submit(pool, _forms(corpus, 1)[0])


def test_extract_reports_many_files_in_the_order_given(corpus: list[Case], corpus_dir: Path) -> None:
    # Slow and quick kinds interleaved, and unreadable files among them: read side by side,
    # reported as given (stdout), each refusal in its place among the refusals (stderr).
    forms = [c for c in corpus if c.kind in ("pdf-text", "docx", "pdf-form")]
    bad = [c for c in corpus if c.kind is None and c.name in
           ("ansokan_tom.docx", "ansokan_okand.bin", "ansokan_avbruten.pdf")]
    order = [*forms[:5], bad[0], *forms[5:9][::-1], bad[1], *forms[9:14], bad[2], *forms[14:16]]
    paths = [corpus_dir / c.name for c in order]
    done = blankett_here("extract", "--json", *paths)
    assert done.returncode == 2
    reported = [json.loads(line)["file"] for line in done.stdout.splitlines()]
    assert reported == [str(corpus_dir / c.name) for c in order if c.kind is not None]
    refused = [line.split(" ", 2)[1] for line in done.stderr.splitlines()]
    assert refused == [str(corpus_dir / c.name) for c in bad]


_BLANKETT = str(Path(sys.executable).parent / "blankett")


def _forms_in(folder: Path, corpus: list[Case], count: int) -> list[str]:
    folder.mkdir(exist_ok=True)
    for case in _forms(corpus, count):
        (folder / case.name).write_bytes(case.data)
    return [case.name for case in _forms(corpus, count)]


@pytest.mark.parametrize("count", [1, 2])
def test_extract_reads_in_a_folder_holding_modules_named_like_standard_ones(
        corpus: list[Case], tmp_path: Path, count: int) -> None:
    """The reader processes do not import from the folder `extract` is started in: an html.py
    or json.py there (a person's own script) once made every reader fail to start."""
    here = tmp_path / "here"
    names = _forms_in(here, corpus, count)
    for module in ("html", "json", "email"):
        (here / f"{module}.py").write_text(f"raise SystemExit('the {module}.py of the current folder')\n")
    done = subprocess.run([_BLANKETT, "extract", "--json", *names], cwd=here, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert [json.loads(line)["file"] for line in done.stdout.splitlines()] == names


@pytest.mark.parametrize("count", [1, 2])
def test_extract_says_in_one_line_that_no_reader_process_could_start(
        corpus: list[Case], tmp_path: Path, count: int) -> None:
    """Too few file descriptors for the readers' processes and their pipes: the machine's
    trouble, said in one line, exit status 1."""
    names = _forms_in(tmp_path, corpus, count)
    done = subprocess.run(["sh", "-c", 'ulimit -n 8 && exec "$0" "$@"', _BLANKETT, "extract",
                           *names], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: no reader process could be started (Too many open files)"), \
        lines[0]
    assert done.stdout == ""


def test_a_pass_reads_ahead_and_takes_its_files_in_order(corpus: list[Case], tmp_path: Path) -> None:
    import hashlib

    from pipeline_support import drop, make_home
    from sqlalchemy import select

    from blankett.flows.mail.delivery import OutboxDelivery
    from blankett.flows.pipeline.intake import ReadAhead, take_file
    from blankett.flows.pipeline.resources import open_pipeline
    from blankett.flows.store.database import Submission

    home = make_home(tmp_path / "home")
    forms = [c for c in corpus if c.kind in ("docx", "pdf-form", "pdf-text")][:8]
    paths = drop(home, forms)
    replacement = next(c for c in corpus if c.kind == "docx" and c not in forms)
    pipeline = open_pipeline(home, delivery=OutboxDelivery(home.outbox))
    try:
        with ReadAhead(pipeline, paths, window=4) as ahead:
            # Read ahead already; then rewritten: taken as it is now, not as it was read.
            paths[2].write_bytes(replacement.data)
            taken = [take_file(pipeline, path, ahead) for path in paths]
        assert [t.name for t in taken] == [p.name for p in paths]
        assert all(t.outcome in ("complete", "incomplete") for t in taken)
        with pipeline.store.session() as session:
            filed = {s.original_name: s.sha256 for s in session.scalars(select(Submission))}
    finally:
        pipeline.close()
    assert filed[paths[2].name] == hashlib.sha256(replacement.data).hexdigest()
    assert filed[paths[3].name] == hashlib.sha256(forms[3].data).hexdigest()


def _read_told_grown(send: Connection, data: bytes, grown: int) -> None:
    from blankett.flows.pipeline.isolation import _read_and_send

    send.send(_read_and_send(send, data, CONTEXT, 1024 * MB, MINUTE, grown_by=lambda: grown))


def test_a_worker_grown_by_a_tenth_of_the_limit_is_replaced_after_its_file(corpus: list[Case]) -> None:
    # A heap a reader grew (a scan's pages, say) is not given back: the next file would have less
    # room than in a fresh worker. Told from /proc in the worker; here the growth is given, in a
    # process of its own (the read sets its limits on the process it runs in).
    from blankett.flows.pipeline.isolation import _without_main, _workers

    case = _forms(corpus, 1)[0]
    for grown, retire in ((50 * MB, ""), (150 * MB, "grown")):
        receive, send = _workers().Pipe(duplex=False)
        child = _workers().Process(target=_read_told_grown, args=(send, case.data, grown))
        with _without_main():
            child.start()
        send.close()
        kind, extraction, said = receive.recv()
        going_on = receive.recv()
        child.join(timeout=MINUTE)
        assert (kind, said, going_on) == ("ok", retire, not retire)
        _same(extraction, case)


_FORKED = """
import sys
from pathlib import Path
from blankett.extractors import ReadContext, Unreadable, read
from blankett.flows.pipeline.isolation import can_fork_here, read_forked
from blankett.models.limits import MB
from blankett.models.spec import load_spec

context = ReadContext(load_spec())
assert can_fork_here()
for name, seconds, memory_mb in (("printed", 0.001, 1024), ("bomb", 60, 256), ("form", 60, 1024)):
    data = Path(sys.argv[1], name).read_bytes()
    try:
        same = read_forked(data, context, seconds=seconds, memory_bytes=memory_mb * MB) == read(data, context)
        print(name, "read", same)
    except Unreadable as exc:
        print(name, "refused", exc)
"""


def test_one_file_forked_from_the_command_is_read_under_the_same_limits(
        corpus: list[Case], tmp_path: Path) -> None:
    # As `blankett extract` reads a single file: forked from the command, not in the pool.
    (tmp_path / "printed").write_bytes(next(c for c in corpus if c.kind == "pdf-text").data)
    (tmp_path / "bomb").write_bytes(flate_bomb_pdf(400))
    (tmp_path / "form").write_bytes(next(c for c in corpus if c.kind == "docx").data)
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", _FORKED, str(tmp_path)], capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    printed, bomb, form = done.stdout.splitlines()
    assert printed.startswith("printed refused took longer than 0.001 s")
    assert bomb.startswith("bomb refused ") and "256 MB" in bomb
    assert form == "form read True"
    assert time.monotonic() - start < 120
