"""Reading one file in a worker process with a time and a memory limit, so that a hostile or
broken file (a PDF stream that inflates to gigabytes, a reader caught in a loop) costs one
refusal, never the run.

Workers are forked from a forkserver that has already imported the readers: a fresh, single-
threaded process each time (Prefect runs threads, and forking those is unsafe), in milliseconds.
"""

from __future__ import annotations

import math
import multiprocessing
import resource
import sys
import time
import types
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Any

from blankett.extractors import ReadContext, Unreadable, patience, read
from blankett.models.errors import BlankettError
from blankett.models.limits import MB
from blankett.models.records import Extraction

_PRELOAD = ["blankett.flows.pipeline.worker_start", "blankett.extractors", "blankett.extractors.docx",
            "blankett.extractors.pdf", "blankett.extractors.scan"]
_context: Any = None


def _workers() -> Any:
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(_PRELOAD)
    return _context


@contextmanager
def _without_main() -> Iterator[None]:
    """A worker needs nothing of the main script. Left in view, multiprocessing makes every
    worker import it again: the CLI's imports (typer, rich) cost 100 ms a file, and a script
    without a `__main__` guard would run again."""
    real = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = real


class WorkerUnavailable(RuntimeError):
    """No worker could be started (no memory to fork, no file descriptors): the machine's
    trouble, not the file's; the file must wait for a later pass."""


class Refused(BlankettError):
    """The worker gave up on the file; the message is the one-line reason."""


def read_isolated(data: bytes, context: ReadContext, *, seconds: float,
                  memory_bytes: int) -> Extraction:
    """What `read` returns, or Unreadable (also for a file that needs more time or memory than
    allowed). Any other failure of the reader comes back as Refused with its type and message."""
    receive, send = _workers().Pipe(duplex=False)
    worker = _workers().Process(target=_work,
                                args=(send, data, context, memory_bytes, seconds), daemon=True)
    try:
        with _without_main():
            worker.start()
    except OSError as exc:
        receive.close()
        send.close()
        raise WorkerUnavailable(f"no reader process could be started ({exc.strerror or exc})") \
            from None
    send.close()
    try:
        allowed = seconds
        deadline = time.monotonic() + seconds
        while True:
            if not receive.poll(max(0.0, deadline - time.monotonic())):
                raise Unreadable(f"took longer than {allowed:g} s to read and was stopped; "
                                 "possibly built to stall a reader")
            try:
                kind, payload = receive.recv()
            except EOFError:
                raise Unreadable(f"stopped the reader (it died, probably for want of memory within "
                                 f"{memory_bytes // MB} MB); possibly built to exhaust memory") from None
            if kind != "extend":
                break
            # OCR or a conversion: their time, each bounded by a limit of its own.
            allowed += payload
            deadline += payload
    finally:
        if worker.is_alive():
            worker.kill()
        worker.join(timeout=5)
        receive.close()
    if kind == "ok":
        return payload  # type: ignore[no-any-return]
    if kind == "unreadable":
        raise Unreadable(payload)
    raise Refused(payload)


def _limit_cpu(seconds: float) -> None:
    """The parent stops a slow read, but a parent killed outright cannot: a CPU limit ends an
    orphaned worker spinning on a hostile file. Only a safeguard: where blankett already runs
    under a lower limit (ulimit -t, systemd's LimitCPU=) that one stays."""
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = math.ceil(seconds) + 2
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
        # SIGXCPU would otherwise leave a core file of up to read_memory_mb behind.
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass


def _work(send: Connection, data: bytes, context: ReadContext, memory_bytes: int,
          seconds: float) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    _limit_cpu(seconds)
    # OCR and LibreOffice run in processes of their own, each under a time limit: the parent is
    # told how much longer to wait, and the CPU limit grows with it.
    allowed = [seconds]

    def extend(extra: float) -> None:
        allowed[0] += extra
        _limit_cpu(allowed[0])
        send.send(("extend", extra))

    patience.listener = extend
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result: tuple[str, Any] = ("ok", read(data, context))
    except Unreadable as exc:
        result = ("unreadable", str(exc))
    except MemoryError:
        result = ("unreadable", f"needs more than {memory_bytes // MB} MB to read; possibly "
                                "built to exhaust memory")
    except RecursionError:
        result = ("unreadable", "is too deeply nested to read safely")
    except Exception as exc:
        result = ("error", f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}")
    try:
        send.send(result)
        send.close()
    except OSError:
        pass  # the run that asked was stopped meanwhile (killed, say): nobody is left to tell
