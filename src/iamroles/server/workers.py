"""``iamroles serve --workers N``: N processes answering on one listening socket and one database.

The parent binds the socket and bootstraps the database (migrations, the default account, the managed
policies) once, prints what it has to say once, then forks the workers and supervises them; it serves no
request. Each worker opens its own connections and runs its own background threads (the audit writer, the
last-used writer, the audit pruner). Workers share what nodes share, the database, so the guarantees are
those of several nodes, with one addition: a write answered by one worker invalidates the cached reads of
every sibling before the answer is sent (:class:`SiblingEpoch`), so a client reads its own writes whichever
worker it reaches. Writes by other processes (the CLI, other nodes) apply within ``--cache-ttl``.

Stopping: SIGTERM or SIGINT to the parent is passed to every worker as SIGTERM; each finishes its requests,
writes its pending audit events and exits; the parent exits 0 once all have exited 0. A worker that dies
while the server is running (a crash, the OOM killer, a ``kill``) is reported and the whole server stops
with exit code 1 rather than restarting it: a server quietly running on fewer workers, or restarting one
that fails at each start, hides the fault, while an exit hands it to whatever supervises the server
(systemd, Kubernetes), exactly as the death of a single-process server does. Workers also stop when the
parent dies (Linux's parent-death signal), so no worker outlives it.
"""
from __future__ import annotations

import ctypes
import mmap
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["SiblingEpoch", "default_workers", "supervise"]


def default_workers() -> int:
    """The CPUs this process may run on (its affinity mask, as ``os.process_cpu_count`` reports on 3.13)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


class SiblingEpoch:
    """A counter in memory shared by the workers of one server (an anonymous shared mapping made before the
    fork): a worker that committed a write advances it, and a worker that sees it moved reads the store's change
    log at its next transaction (``store.sql.Shared``), so its next read sees what changed. Reading it is one memory load, so hot
    reads stay free of SQL; advancing it takes a lock so no advance is lost to a concurrent one."""

    def __init__(self) -> None:
        self._map = mmap.mmap(-1, mmap.PAGESIZE)  # MAP_SHARED | MAP_ANONYMOUS: inherited across fork
        self._value = ctypes.c_uint64.from_buffer(self._map)
        self._lock = _SharedLock()

    @property
    def value(self) -> int:
        return int(self._value.value)

    def advance(self) -> None:
        with self._lock:
            self._value.value += 1


class _SharedLock:
    """A lock that holds across the forked workers (a multiprocessing semaphore; made before the fork)."""

    def __init__(self) -> None:
        import multiprocessing

        self._lock = multiprocessing.get_context("fork").Lock()

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(self, *exc: Any) -> None:
        self._lock.release()


def _die_with_parent(parent: int) -> None:
    """Linux: this worker gets SIGTERM when the parent dies (PR_SET_PDEATHSIG), so none outlives it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the parent still stops its workers when it is signalled
        return
    if os.getppid() != parent:  # the parent died before the signal was asked for
        os._exit(1)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            return f"was killed by {signal.Signals(sig).name}"
        except ValueError:
            return f"was killed by signal {sig}"
    return f"exited with code {os.waitstatus_to_exitcode(status)}"


def _exit_cleanly(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def _worker(parent: int, index: int, run_worker: Callable[[int], int], report: Callable[[str], None],
            stop_signals: set[signal.Signals]) -> int:
    """In the forked worker: its exit code. Until uvicorn takes SIGTERM and SIGINT over, and again when it
    hands them back (it raises the signal it caught once it has shut down), either one ends the worker
    with exit code 0: a stop asked for is a clean stop."""
    # a group of its own: a terminal's Ctrl-C reaches the parent alone, which passes on one SIGTERM (a second
    # signal would make uvicorn skip its graceful shutdown, and with it the last audit events' write)
    os.setpgid(0, 0)
    for s in stop_signals:
        signal.signal(s, _exit_cleanly)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, stop_signals)
    _die_with_parent(parent)
    try:
        return run_worker(index)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException as exc:  # noqa: BLE001  (reported; the parent then stops the others)
        report(f"worker {os.getpid()} could not run: {type(exc).__name__}: {exc}")
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def supervise(count: int, run_worker: Callable[[int], int], report: Callable[[str], None]) -> int:
    """Fork ``count`` workers, each running ``run_worker(index)`` (its return value is its exit code), and wait
    for them; the server's exit code. See the module's docstring for what stops them."""
    parent = os.getpid()
    children: dict[int, int] = {}
    stopping = threading.Event()

    def stop_all(signum: int = signal.SIGTERM, frame: Any = None) -> None:
        stopping.set()
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    # a signal that arrives while the workers are being forked waits (blocked) until every one exists
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    for index in range(count):
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os._exit(_worker(parent, index, run_worker, report, stop_signals))
        children[pid] = index
    for s in stop_signals:
        signal.signal(s, stop_all)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, stop_signals)
    failed = False
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        children.pop(pid, None)
        if os.waitstatus_to_exitcode(status) != 0 or not stopping.is_set():
            failed = True
            if not stopping.is_set():
                report(f"worker {pid} {_describe(status)}; stopping the server")
            else:
                report(f"worker {pid} {_describe(status)} while stopping")
            stop_all()
    return 1 if failed else 0
