"""Several gateway processes on one port (``server.processes``).

One Python process runs its event loop and its screening threads under one interpreter lock, so
it uses about one core however many the host has. With ``processes = N`` (``0``: one per core)
``mediagate serve`` binds the port and starts the store as usual, then forks N worker processes;
each builds its own app (screener, classifier, Redis pool) and accepts connections on the shared
listening socket. The gate keeps no state outside the store (rate limits, replay marks, the
audit chain, jobs, leases all live there), so it does not matter which worker answers.

The parent only supervises: it says "ready" once every worker listens, passes SIGINT and SIGTERM
on, and when a worker ends on its own it stops the others and exits 1, so that a service
manager (systemd's ``Restart=on-failure``) starts the gateway again, rather than running on with
fewer processes than configured.

What exactly one process does: the audit anchors (worker 0; the other background loops already
coordinate through leases in the store). Metrics are summed over the workers (prometheus-client's
multi-process mode, files in ``<data_dir>/metrics``), whichever worker answers ``/metrics``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import mmap
import os
import shutil
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from gateway.embedded import die_with_parent

log = logging.getLogger(__name__)

#: Signals the parent handles itself (blocked, then taken with ``sigtimedwait``).
_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGCHLD}

#: A worker's exit code when its app could not start (the message is on stderr).
STARTUP_FAILED = 3


def process_count(configured: int) -> int:
    """``server.processes``: 0 means one per CPU core this process may run on."""
    if configured > 0:
        return configured
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class ConnectionBalance:
    """How many connections each worker holds, in a few bytes of memory the workers share (an
    anonymous shared mapping made before the fork; each worker writes only its own slot), and
    whether the parent has opened the port (the slot after the workers')."""

    def __init__(self, count: int) -> None:
        self.count = count
        self._slots = mmap.mmap(-1, _SLOT.size * (count + 1))

    def open(self) -> None:
        _SLOT.pack_into(self._slots, _SLOT.size * self.count, 1)

    @property
    def is_open(self) -> bool:
        return bool(_SLOT.unpack_from(self._slots, _SLOT.size * self.count)[0])

    def note(self, worker: int, held: int) -> None:
        _SLOT.pack_into(self._slots, _SLOT.size * worker, held)

    def fewest_elsewhere(self, worker: int) -> int:
        held = [_SLOT.unpack_from(self._slots, _SLOT.size * i)[0] for i in range(self.count)]
        return min(h for i, h in enumerate(held) if i != worker) if self.count > 1 else 1 << 30


_SLOT = struct.Struct("=i")


@dataclass(frozen=True)
class Worker:
    """What a forked worker is told: its number, how to say it listens, the shared balance."""

    index: int
    ready: Callable[[], None]
    balance: ConnectionBalance


class _Listening(asyncio.AbstractServer):
    """What aiohttp's site closes on shutdown: the shared socket's reader in this worker."""

    def __init__(self, site: SharedSocketSite) -> None:
        self._site = site

    def close(self) -> None:
        self._site.close()

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    def is_serving(self) -> bool:
        return not self._site.closed

    async def start_serving(self) -> None:
        return None

    async def serve_forever(self) -> None:  # pragma: no cover - not used by aiohttp's runner
        raise NotImplementedError

    async def wait_closed(self) -> None:
        return None


class SharedSocketSite(web.BaseSite):
    """An aiohttp site accepting on a listening socket that other workers accept on too.

    asyncio's own server accepts every waiting connection each time the socket is readable, so
    the first worker to wake takes a whole burst (and, with keep-alive, their requests for good).
    Here a worker takes one connection per wake-up, and only while it holds no more connections
    than the worker holding fewest: otherwise it looks again :data:`DEFER_S` later, leaving the
    connection to that worker, at most :data:`MAX_DEFERS` times in a row (a worker stuck on a
    long post must not keep new connections waiting). Least connections, as a load balancer
    would do it."""

    DEFER_S = 0.002
    MAX_DEFERS = 5

    def __init__(self, runner: web.BaseRunner, sock: socket.socket, worker: Worker) -> None:
        super().__init__(runner)
        self._sock = sock
        self._worker = worker
        self._deferred = 0
        self._timer: asyncio.TimerHandle | None = None
        self._pending: set[asyncio.Task[object]] = set()
        self.closed = False

    @property
    def name(self) -> str:
        host, port = self._sock.getsockname()[:2]
        return f"http://{host}:{port} (worker {self._worker.index})"

    #: How often a started worker looks whether the parent has opened the port.
    OPEN_POLL_S = 0.005

    async def start(self) -> None:
        """Ready to accept: the first connection is taken once the parent has made the socket
        listen (:meth:`Workers.open`), after every worker is ready; until then connections are
        refused, as with one process."""
        await super().start()
        self._sock.setblocking(False)
        self._loop = asyncio.get_running_loop()
        self._server = _Listening(self)
        self._resume()

    def _resume(self) -> None:
        self._timer = None
        if self.closed:
            return
        if not self._worker.balance.is_open:
            self._timer = self._loop.call_later(self.OPEN_POLL_S, self._resume)
            return
        self._loop.add_reader(self._sock.fileno(), self._readable)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self._timer is not None:
                self._timer.cancel()
            self._loop.remove_reader(self._sock.fileno())

    def _held(self) -> int:
        server = self._runner.server
        return len(server.connections) if isinstance(server, web.Server) else 0

    def _readable(self) -> None:
        worker, balance = self._worker, self._worker.balance
        held = self._held()
        balance.note(worker.index, held)
        if held > balance.fewest_elsewhere(worker.index) and self._deferred < self.MAX_DEFERS:
            self._deferred += 1
            self._loop.remove_reader(self._sock.fileno())
            self._timer = self._loop.call_later(self.DEFER_S, self._resume)
            return
        try:
            conn, _address = self._sock.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            self._deferred = 0  # another worker took it
            return
        except OSError as exc:  # out of descriptors or memory: look again in a second
            log.error("accepting a connection failed: %s", exc.strerror)
            self._loop.remove_reader(self._sock.fileno())
            self._timer = self._loop.call_later(1.0, self._resume)
            return
        self._deferred = 0
        balance.note(worker.index, held + 1)
        conn.setblocking(False)
        factory = self._runner.server
        assert factory is not None
        task = self._loop.create_task(self._loop.connect_accepted_socket(factory, conn))
        self._pending.add(task)
        task.add_done_callback(lambda t: self._accepted(t, conn))

    def _accepted(self, task: asyncio.Task[object], conn: socket.socket) -> None:
        self._pending.discard(task)
        if task.cancelled() or task.exception() is not None:
            conn.close()


class Stopped(Exception):
    """A stop signal arrived while the workers were starting (:attr:`signal` names it)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.signal = name


class WorkerFailed(RuntimeError):
    """A worker ended before all were ready (its exit code is :attr:`code`)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class Workers:
    """Forked worker processes and their supervision (the parent's side).

    ``work(worker)`` runs in each child: it serves until told to stop and calls
    ``worker.ready()`` once it listens. The parent must not run an event loop or other threads when
    it forks (the CLI and the benchmark fork before either starts)."""

    def __init__(self, count: int, work: Callable[[Worker], None]) -> None:
        if count < 1:
            raise ValueError("at least one worker")
        self.count = count
        self.balance = ConnectionBalance(count)
        self._work = work
        self.pids: list[int] = []
        self._exited: dict[int, int] = {}
        self._ready_r = -1
        self._ready = 0
        self._old_mask: set[int | signal.Signals] = set()
        self._with_parent: Callable[[], None] | None = None

    # the parent -------------------------------------------------------------------------
    def start(self) -> None:
        """Fork the workers. Blocks SIGINT, SIGTERM and SIGCHLD in this process until
        :meth:`close` (they are taken by :meth:`wait_ready` and :meth:`supervise`)."""
        if threading.active_count() > 1:
            # a fork copies only this thread (a lock another one holds stays held in the
            # child), and a stop signal could go to a thread that does not block it
            raise RuntimeError("the gateway's workers are forked before any other thread runs")
        self._with_parent = die_with_parent()  # a worker gets SIGTERM if the parent is killed
        self._old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        read_end, write_end = os.pipe()
        self._ready_r = read_end
        os.set_blocking(read_end, False)
        sys.stdout.flush()
        sys.stderr.flush()
        for index in range(self.count):
            pid = os.fork()
            if pid == 0:  # the child: never returns
                os.close(read_end)
                self._child(index, write_end)
            self.pids.append(pid)
        os.close(write_end)

    def wait_ready(self, timeout_s: float) -> None:
        """Return once every worker called ``ready()``; :class:`WorkerFailed` if one ended
        first or the time ran out, :class:`Stopped` on a stop signal meanwhile (either way
        every worker is stopped first)."""
        deadline = time.monotonic() + timeout_s
        while self._ready < self.count:
            self._read_ready()
            if self._ready >= self.count:
                return
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                raise WorkerFailed(f"workers not ready within {timeout_s:.0f} s", 1)
            info = signal.sigtimedwait(_SIGNALS, min(left, 0.05))
            if info is None:
                continue
            if info.si_signo == signal.SIGCHLD:
                self._reap()
                if self._exited:
                    pid, code = next(iter(self._exited.items()))
                    self.stop()
                    raise WorkerFailed(f"worker process {pid} ended with code {code}", code)
            else:
                self.stop()
                raise Stopped(signal.Signals(info.si_signo).name)

    def supervise(self, stopping: Callable[[str], None]) -> int:
        """Wait for a stop signal or a worker's end, call ``stopping`` with what happened (the
        signal's name, or "worker <pid> ended …"), stop all workers; return the exit code."""
        while True:
            info = signal.sigwaitinfo(_SIGNALS)
            if info.si_signo != signal.SIGCHLD:
                stopping(signal.Signals(info.si_signo).name)
                self.stop()
                return 0
            self._reap()
            if self._exited:
                pid, code = next(iter(self._exited.items()))
                log.error("worker process %d ended with code %d; stopping the others", pid, code)
                stopping(f"worker process {pid} ended with code {code}")
                self.stop()
                return 1

    def open(self, sock: socket.socket, backlog: int = 128) -> None:
        """Make the bound ``sock`` listen and let the workers accept (after :meth:`wait_ready`:
        connections are refused until every worker can take them)."""
        sock.listen(backlog)
        self.balance.open()

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM to every live worker, wait up to ``timeout_s``, then SIGKILL."""
        for pid in self.live():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while self.live() and time.monotonic() < deadline:
            signal.sigtimedwait({signal.SIGCHLD}, 0.05)
            self._reap()
        for pid in self.live():
            log.error("worker process %d did not stop within %.0f s; killed", pid, timeout_s)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            self._exited[pid] = -signal.SIGKILL

    def live(self) -> list[int]:
        return [pid for pid in self.pids if pid not in self._exited]

    def close(self) -> None:
        """Restore the signal mask (after the workers are gone)."""
        if self._ready_r >= 0:
            os.close(self._ready_r)
            self._ready_r = -1
        signal.pthread_sigmask(signal.SIG_SETMASK, self._old_mask)
        # SIGINT/SIGTERM that arrived while blocked and were not taken stay pending: drop them
        while signal.sigtimedwait(_SIGNALS, 0) is not None:
            pass

    def _read_ready(self) -> None:
        with contextlib.suppress(BlockingIOError):
            self._ready += len(os.read(self._ready_r, 64))

    def _reap(self) -> None:
        for pid in self.live():
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, 0
            if done:
                self._exited[pid] = os.waitstatus_to_exitcode(status)
                _forget_metrics(pid)

    # the child ---------------------------------------------------------------------------
    def _child(self, index: int, ready_w: int) -> None:
        code = 0
        try:
            if self._with_parent is not None:
                self._with_parent()
            signal.pthread_sigmask(signal.SIG_SETMASK, self._old_mask)

            def ready() -> None:
                try:
                    os.write(ready_w, b"!")
                except OSError as exc:  # the parent is gone
                    if exc.errno != errno.EPIPE:
                        raise

            self._work(Worker(index, ready, self.balance))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except KeyboardInterrupt:
            code = 0
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            # never the parent's clean-up (it owns the embedded store): leave at once
            os._exit(code)


# metrics across processes -------------------------------------------------------------------


def share_metrics(directory: Path) -> None:
    """Switch prometheus-client to its multi-process mode in ``directory`` (emptied first).

    Call in the parent before forking: every metric a worker creates afterwards keeps its values
    in a file of that worker's, and ``/metrics`` sums the files of all workers."""
    from prometheus_client import values

    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    values.ValueClass = values.get_value_class()


def _forget_metrics(pid: int) -> None:
    """A worker ended: its gauges no longer count (its counters still do)."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    from prometheus_client import multiprocess

    with contextlib.suppress(OSError):
        multiprocess.mark_process_dead(pid)
