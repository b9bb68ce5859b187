"""Reading files in worker processes with a time and a memory limit, so that a hostile or broken
file (a PDF stream that inflates to gigabytes, a reader caught in a loop) costs one refusal,
never the run nor the other files' results.

A small pool of workers (one a core) reads the files: each worker reads file after file, and is
replaced after `files_per_worker` files, after a file that exhausted its memory or failed in an
unforeseen way, after a while idle, and at once when it dies or overruns a file's time (it is
killed; the files in the other workers go on). Each worker talks to the pool over a pipe of its
own, so that a worker killed mid-file costs that file alone. A thread of the pool hands out the
files, watches the deadlines and replaces workers; callers get a Future.

Workers are forked from a forkserver that has already imported the readers: single-threaded
processes (Prefect runs threads, and forking those is unsafe), each started in milliseconds.

A command reading a single file in a process without threads has no pool to start: the reader
is forked directly from that process, which has imported everything already (`read_forked`).
"""

from __future__ import annotations

import atexit
import logging
import math
import multiprocessing
import multiprocessing.forkserver
import os
import resource
import signal
import sys
import threading
import time
import types
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from blankett.extractors import READERS, ReadContext, Unreadable, patience, read
from blankett.models.errors import BlankettError
from blankett.models.limits import MB
from blankett.models.records import Extraction

# The readers of every kind, from the one table of them, imported once into the forkserver.
_PRELOAD = ["blankett.flows.pipeline.worker_start", "blankett.flows.pipeline.isolation",
            "blankett.extractors",
            *sorted({target.partition(":")[0] for target in READERS.values()})]

# A worker reads this many files before it is replaced: whatever a reader leaves behind (caches,
# a fragmented heap that counts against the memory limit) is dropped that often.
FILES_PER_WORKER = 50
# An idle worker ends after this long (a `watch` between passes holds no readers' memory).
IDLE_SECONDS = 300.0
# A worker whose address space grew by more than this share of a file's memory limit is replaced
# after the file: every file gets nearly the room a fresh worker would give it (a heap grown by
# reading a scan is not given back).
_GROWTH_SHARE = 0.1
# A retired worker has this long to end by itself before it is killed.
_RETIRE_SECONDS = 5.0

_context: Any = None
_main_lock = threading.Lock()


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
    with _main_lock:
        real = sys.modules["__main__"]
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            sys.modules["__main__"] = real


@contextmanager
def _current_folder_off_the_path() -> Iterator[None]:
    """The forkserver and multiprocessing's resource tracker start as `python -c`, which puts the
    current folder first on their import path: an html.py or json.py there would be imported
    in place of the standard module and no reader could start. PYTHONSAFEPATH keeps it off
    (as -P does for the Prefect server); set only while they start, since the processes are
    started from this one's environment. Their workers get this process's import path, which
    holds the current folder only when this one was started from it (`python -m`)."""
    saved = os.environ.get("PYTHONSAFEPATH")
    os.environ["PYTHONSAFEPATH"] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("PYTHONSAFEPATH", None)
        else:
            os.environ["PYTHONSAFEPATH"] = saved


def _forkserver_deaf_to_ctrl_c() -> None:
    """Ctrl-C in a terminal reaches the whole process group: the command stops its readers
    itself, and a worker hit as it started printed a traceback. Started with SIGINT ignored, the
    forkserver keeps it ignored (Python leaves an ignored SIGINT as it finds it) and so does
    every worker forked from it, from its first instruction. Only the main thread can change a
    disposition: from another, the forkserver starts with the first worker, and the worker
    ignores Ctrl-C from its first line (_serve)."""
    if threading.current_thread() is not threading.main_thread():
        return
    _workers()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with _without_main(), _current_folder_off_the_path():
            multiprocessing.forkserver.ensure_running()
    except OSError:
        pass  # said by the first worker that cannot start (WorkerUnavailable)
    finally:
        signal.signal(signal.SIGINT, previous)


class WorkerUnavailable(RuntimeError):
    """No worker could be started (no memory to fork, no file descriptors): the machine's
    trouble, not the file's; the file must wait for a later pass."""


class Refused(BlankettError):
    """The worker gave up on the file; the message is the one-line reason."""


def default_size() -> int:
    """One worker a core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


# --- the pool -------------------------------------------------------------------------------------

@dataclass(eq=False)
class _Task:
    data: bytes
    context: ReadContext
    seconds: float
    memory_bytes: int
    future: Future[Extraction] = field(default_factory=Future)


@dataclass(eq=False)
class _Worker:
    process: Any
    conn: Connection
    read: int = 0  # files read
    task: _Task | None = None
    deadline: float = 0.0
    allowed: float = 0.0
    idle_since: float = field(default_factory=time.monotonic)
    context: ReadContext | None = None  # the one last sent: not sent again


class ReaderPool:
    """Worker processes reading files side by side: `submit` returns at once, the Future holds
    the Extraction or raises Unreadable, Refused or WorkerUnavailable."""

    def __init__(self, size: int | None = None, *, files_per_worker: int = FILES_PER_WORKER,
                 idle_seconds: float = IDLE_SECONDS) -> None:
        self.size = size or default_size()
        self.files_per_worker = files_per_worker
        self.idle_seconds = idle_seconds
        self._queue: deque[_Task] = deque()
        self._workers: list[_Worker] = []
        self._retiring: list[tuple[Any, float]] = []
        self._lock = threading.Lock()
        self._closed = False
        self._prestart = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        _forkserver_deaf_to_ctrl_c()
        self._thread: threading.Thread | None = None
        # Seen by tests and benchmarks: how many workers were started, and why any ended.
        self.started = 0
        self.ended: dict[str, int] = {}

    def submit(self, data: bytes, context: ReadContext, *, seconds: float,
               memory_bytes: int) -> Future[Extraction]:
        task = _Task(data, context, seconds, memory_bytes)
        with self._lock:
            if self._closed:
                raise WorkerUnavailable("the reader workers were stopped")
            self._queue.append(task)
            self._ensure_thread()
        self._wake()
        return task.future

    def prestart(self) -> None:
        """Starts every worker now, in the background: the forkserver imports the readers while
        the caller prepares its first files."""
        with self._lock:
            if self._closed:
                return
            self._prestart = True
            self._ensure_thread()
        self._wake()

    def _ensure_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="blankett-readers", daemon=True)
            self._thread.start()

    def pids(self) -> list[int]:
        """The workers alive now (for tests and benchmarks)."""
        return [w.process.pid for w in list(self._workers)]

    def close(self) -> None:
        """Ends every worker; files not read yet fail with WorkerUnavailable."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self._wake()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        # The thread is gone (or stuck, at exit): whatever is left is ended here.
        self._stop_all()
        with self._lock:
            fds, self._wake_r, self._wake_w = (self._wake_r, self._wake_w), -1, -1
        for fd in fds:
            with suppress(OSError):
                os.close(fd)

    def _wake(self) -> None:
        with self._lock, suppress(OSError):  # a full pipe wakes the thread anyway
            if self._wake_w >= 0:
                os.write(self._wake_w, b"\0")

    # The pool's thread: everything below runs in it alone.

    def _run(self) -> None:
        while True:
            with self._lock:
                closed = self._closed
            if closed:
                return
            try:
                self._dispatch()
                self._wait_once()
                self._reap()
            except Exception as exc:
                # A fault of the pool itself (none is known): the files it holds fail as the
                # machine's trouble, to be read in a later pass, and the pool goes on.
                logging.getLogger(__name__).exception("the reader pool failed")
                self._stop_all(f"the reader pool failed ({type(exc).__name__}: {exc})")

    def _dispatch(self) -> None:
        with self._lock:
            prestart, self._prestart = self._prestart, False
        while prestart and len(self._workers) < self.size:
            try:
                self._start()
            except Exception:
                break  # said when a file needs a worker
        while True:
            with self._lock:
                if not self._queue:
                    return
                idle = next((w for w in self._workers if w.task is None), None)
                if idle is None and len(self._workers) >= self.size:
                    return
                task = self._queue.popleft()
            if not task.future.set_running_or_notify_cancel():
                continue  # cancelled while waiting (a pass stopped reading ahead)
            self._hand(task, idle)

    def _hand(self, task: _Task, worker: _Worker | None) -> None:
        """Gives the task to the worker, or to a new one; a worker found dead is replaced once."""
        for attempt in range(2):
            if worker is None:
                try:
                    worker = self._start()
                except Exception as exc:  # OSError: no memory, no descriptors; EOFError: ...
                    said = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                    task.future.set_exception(WorkerUnavailable(
                        f"no reader process could be started ({said or type(exc).__name__})"))
                    return
            context = None if task.context is worker.context else task.context
            try:
                worker.conn.send((task.data, context, task.memory_bytes, task.seconds))
            except (OSError, ValueError) as exc:
                self._discard(worker, "died idle", kill=True)
                worker = None
                if attempt:
                    task.future.set_exception(WorkerUnavailable(
                        f"no reader process could take the file ({exc})"))
                continue
            task.data = b""  # the worker has it: not held here while it reads
            worker.context = task.context
            worker.task = task
            worker.allowed = task.seconds
            worker.deadline = time.monotonic() + task.seconds
            return

    def _start(self) -> _Worker:
        ours, theirs = _workers().Pipe(duplex=True)
        process = _workers().Process(target=_serve, args=(theirs,), daemon=True,
                                     name="blankett-reader")
        try:
            with _without_main(), _current_folder_off_the_path():
                process.start()
        except BaseException:
            ours.close()
            theirs.close()
            raise
        theirs.close()
        worker = _Worker(process, ours)
        self._workers.append(worker)
        self.started += 1
        return worker

    def _wait_once(self) -> None:
        now = time.monotonic()
        busy = [w for w in self._workers if w.task is not None]
        idle = [w for w in self._workers if w.task is None]
        moments = [w.deadline for w in busy] + [w.idle_since + self.idle_seconds for w in idle]
        if self._retiring:
            moments.append(now + 0.2)
        timeout = max(0.0, min(moments) - now) if moments else None
        watched: list[Any] = [self._wake_r, *(w.conn for w in busy), *(w.process.sentinel for w in idle)]
        for ready in wait(watched, timeout):
            if ready == self._wake_r:
                os.read(self._wake_r, 4096)
                continue
            worker = next((w for w in self._workers
                           if ready is w.conn or ready == w.process.sentinel), None)
            if worker is None:
                continue
            if worker.task is None:
                self._discard(worker, "died idle", kill=True)
            else:
                self._receive(worker)
        now = time.monotonic()
        for worker in list(self._workers):
            if worker.task is not None and now >= worker.deadline:
                task = worker.task
                self._discard(worker, "time", kill=True)
                task.future.set_exception(_too_slow(worker.allowed))
            elif worker.task is None and now >= worker.idle_since + self.idle_seconds:
                self._discard(worker, "idle")

    def _receive(self, worker: _Worker) -> None:
        task = worker.task
        assert task is not None
        while worker.conn.poll():
            try:
                message = worker.conn.recv()
            except Exception:  # ended (EOFError), or cut off in the middle of its answer
                self._discard(worker, "died", kill=True)
                task.future.set_exception(_died(task.memory_bytes))
                return
            kind, payload, retire = message
            if kind == "extend":
                # OCR or a conversion: their time, each bounded by a limit of its own.
                worker.allowed += payload
                worker.deadline += payload
                continue
            worker.task = None
            worker.read += 1
            worker.idle_since = time.monotonic()
            if retire:
                self._discard(worker, retire)
            elif worker.read >= self.files_per_worker:
                self._discard(worker, "recycled")
            if kind == "ok":
                task.future.set_result(payload)
            elif kind == "unreadable":
                task.future.set_exception(payload)
            else:
                task.future.set_exception(Refused(payload))
            return

    def _discard(self, worker: _Worker, why: str, *, kill: bool = False) -> None:
        """Out of the pool: told to end (it ends once it sees its pipe closed), or killed."""
        if worker in self._workers:
            self._workers.remove(worker)
        self.ended[why] = self.ended.get(why, 0) + 1
        if kill and worker.process.is_alive():
            worker.process.kill()
        worker.conn.close()
        self._retiring.append((worker.process, time.monotonic() + _RETIRE_SECONDS))

    def _reap(self) -> None:
        """Collects the ended workers (no zombies), killing one slow to end."""
        left = []
        for process, by in self._retiring:
            if process.exitcode is not None:  # polls the worker's exit
                process.close()
                continue
            if time.monotonic() >= by:
                process.kill()
            left.append((process, by))
        self._retiring = left

    def _stop_all(self, why: str = "the reader workers were stopped") -> None:
        with self._lock:
            queued, self._queue = list(self._queue), deque()
        for task in queued:
            if task.future.set_running_or_notify_cancel():
                task.future.set_exception(WorkerUnavailable(why))
        for worker in list(self._workers):
            task = worker.task
            self._discard(worker, "closed", kill=task is not None)
            if task is not None and not task.future.done():
                task.future.set_exception(WorkerUnavailable(why))
        for process, _ in self._retiring:
            process.join(timeout=1)
            if process.exitcode is None:
                process.kill()
                process.join(timeout=1)
        self._retiring = []


_pool: ReaderPool | None = None
_pool_lock = threading.Lock()


def readers() -> ReaderPool:
    """This process's pool, started on first use and ended at exit."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ReaderPool()
            atexit.register(_pool.close)
        return _pool


def read_isolated(data: bytes, context: ReadContext, *, seconds: float,
                  memory_bytes: int) -> Extraction:
    """What `read` returns, or Unreadable (also for a file that needs more time or memory than
    allowed). Any other failure of the reader comes back as Refused with its type and message."""
    return readers().submit(data, context, seconds=seconds, memory_bytes=memory_bytes).result()


# --- one file, forked from this process -----------------------------------------------------------

def can_fork_here() -> bool:
    """Forking copies only the calling thread: safe only where no other thread holds a lock."""
    return threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()


def read_forked(data: bytes, context: ReadContext, *, seconds: float,
                memory_bytes: int) -> Extraction:
    """As read_isolated, in a child forked from this process: no pool, no forkserver, nothing
    imported again. For a command reading a single file; see can_fork_here."""
    fork = multiprocessing.get_context("fork")
    for stream in (sys.stdout, sys.stderr):  # or the child would write their buffers again
        if stream is not None:
            stream.flush()
    receive, send = fork.Pipe(duplex=False)
    child = fork.Process(target=_read_once,
                         args=(send, data, context, memory_bytes, seconds, os.getpid()), daemon=True)
    try:
        child.start()
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
                raise _too_slow(allowed)
            try:
                kind, payload, _ = receive.recv()  # (kind, payload, retire)
            except EOFError:
                raise _died(memory_bytes) from None
            if kind != "extend":
                break
            allowed += payload
            deadline += payload
    finally:
        if child.is_alive():
            child.kill()
        child.join(timeout=5)
        receive.close()
    if kind == "ok":
        return payload  # type: ignore[no-any-return]
    if kind == "unreadable":
        raise payload
    raise Refused(payload)


def _too_slow(seconds: float) -> Unreadable:
    return Unreadable(f"took longer than {seconds:g} s to read and was stopped; possibly built to "
                      "stall a reader", "too_slow", seconds=seconds)


def _died(memory_bytes: int) -> Unreadable:
    return Unreadable(f"stopped the reader (it died, probably for want of memory within "
                      f"{memory_bytes // MB} MB); possibly built to exhaust memory",
                      "too_much_memory", mb=memory_bytes // MB)


def _needs_more(memory_bytes: int) -> Unreadable:
    return Unreadable(f"needs more than {memory_bytes // MB} MB to read; possibly built to exhaust "
                      "memory", "too_much_memory", mb=memory_bytes // MB)


# --- in the worker --------------------------------------------------------------------------------

def _die_with_parent(parent: int | None = None) -> None:
    """Linux: killed when the process that started this one ends, even in the middle of a file.
    For a child forked by a command, that is the command. A pool's worker is the forkserver's
    child, and the forkserver lives as long as any of its workers: such a worker ends when its
    pipe closes (idle: at once; reading: when it has read, within its CPU limit at most)."""
    import ctypes

    with suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if parent is not None and os.getppid() != parent:
        os._exit(0)  # the parent was gone before the line above


def _serve(conn: Connection) -> None:
    """A worker of the pool: one file after another until its pipe closes."""
    # First: Ctrl-C is for the command (_forkserver_deaf_to_ctrl_c).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    context: ReadContext | None = None
    started = _address_space()
    while True:
        try:
            data, sent, memory_bytes, seconds = conn.recv()
        except (EOFError, OSError):
            return  # retired, or the run is gone
        context = sent if sent is not None else context
        assert context is not None
        going_on = _read_and_send(conn, data, context, memory_bytes, seconds,
                                  grown_by=lambda: _address_space() - started)
        del data  # not held while waiting for the next file
        if not going_on:
            return
        _unlimit_memory()  # the next file arrives under its own limit


def _read_once(send: Connection, data: bytes, context: ReadContext, memory_bytes: int,
               seconds: float, parent: int) -> None:
    _die_with_parent(parent)
    _read_and_send(send, data, context, memory_bytes, seconds)


def _limit_memory(memory_bytes: int) -> None:
    """The soft limit only: a worker reading its next file may be allowed more."""
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = memory_bytes if hard == resource.RLIM_INFINITY else min(memory_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _unlimit_memory() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


def _limit_cpu(seconds: float) -> None:
    """The pool stops a slow read, but a pool killed outright cannot: a CPU limit ends an
    orphaned worker spinning on a hostile file. Counted from what this worker has used on the
    files before. Only a safeguard: where blankett already runs under a lower limit (ulimit -t,
    systemd's LimitCPU=) that one stays."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = math.ceil(used.ru_utime + used.ru_stime + seconds) + 2
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
        # SIGXCPU would otherwise leave a core file of up to read_memory_mb behind.
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass


def _address_space() -> int:
    """This process's address space in bytes, what RLIMIT_AS limits (0 where it cannot be told)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return 0


def _read_and_send(send: Connection, data: bytes, context: ReadContext, memory_bytes: int,
                   seconds: float, grown_by: Callable[[], int] | None = None) -> bool:
    """Reads one file under the limits and sends what came of it: (kind, payload, retire), where
    retire says why this process is to read no other file ("" when it may): it ran out of
    memory, failed in a way nobody foresaw, or grew by more than a tenth of the memory limit.
    Returns whether it may go on."""
    retire = ""
    try:
        _limit_memory(memory_bytes)
    except (ValueError, OSError) as exc:
        result: tuple[str, Any] = ("error", f"the memory limit cannot be set ({exc})")
        retire = "fault"
    else:
        _limit_cpu(seconds)
        # OCR and LibreOffice run in processes of their own, each under a time limit: the
        # parent is told how much longer to wait, and the CPU limit grows with it.
        allowed = [seconds]

        def extend(extra: float) -> None:
            allowed[0] += extra
            _limit_cpu(allowed[0])
            send.send(("extend", extra, ""))

        patience.listener = extend
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = ("ok", read(data, context))
        except Unreadable as exc:
            # Whole, with its kind: the parent says it in Swedish where people read it.
            result = ("unreadable", exc)
        except MemoryError:
            result = ("unreadable", _needs_more(memory_bytes))
            retire = "memory"
        except RecursionError:
            result = ("unreadable", Unreadable("is too deeply nested to read safely", "too_nested"))
            retire = "fault"
        except Exception as exc:
            result = ("error", f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}")
            retire = "fault"
        finally:
            patience.listener = None
    if not retire and grown_by is not None and grown_by() > memory_bytes * _GROWTH_SHARE:
        retire = "grown"
    try:
        send.send((*result, retire))
    except (OSError, ValueError):
        return False  # the run that asked was stopped meanwhile: nobody is left to tell
    except MemoryError:
        retire = "memory"
        try:
            send.send(("unreadable", _needs_more(memory_bytes), retire))
        except (OSError, ValueError, MemoryError):
            return False
    return not retire
