"""A gateway started as a user starts it (a shell command, a fresh venv), watched from outside.

Used by the tests that run the README's command in a fresh clone and the installed wheel from an
empty folder: read the progress lines on stderr until ``listening on http://…``, ask ``/healthz``
until it answers 200, then SIGTERM the whole process group and wait (nothing left running).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import sysconfig
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

LISTENING_RE = re.compile(r"listening on (http://[^\s]+)")


def listening_url(
    log: Path, proc: subprocess.Popen[Any], timeout_s: float, *, offset: int = 0
) -> str:
    """The ``http://host:port`` that a ``serve`` or ``demo`` started with ``--port 0`` wrote to
    ``log`` (from byte ``offset`` on, for a log appended to by restarts).

    The kernel chooses the port as the gateway binds it. A port chosen by the test beforehand
    can be taken in between by anything else on the host (a client's ephemeral port, another
    test's server), and the gateway then rightly refuses to start."""
    deadline = time.monotonic() + timeout_s
    while True:
        ended = proc.poll() is not None  # before reading: an exit after the line is not missed
        text = log.read_bytes()[offset:].decode(errors="replace")
        if found := LISTENING_RE.search(text):
            return found.group(1)
        if ended:
            raise AssertionError(f"exited {proc.returncode} before listening:\n{text[-6000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no 'listening on' within {timeout_s} s:\n{text[-6000:]}")
        time.sleep(0.1)


def quiet_env(**extra: str) -> dict[str, str]:
    """The parent's environment without anything that points mediagate elsewhere, the serve
    port set to 0 (any free port; the CLI prints it) and only the connectors without a remote
    default endpoint, so that ``/healthz`` never reaches past loopback."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("MEDIAGATE_")
    }
    env.update(
        PYTHONUNBUFFERED="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        MEDIAGATE_SERVER__PORT="0",
        MEDIAGATE_CONNECTORS__ALLOW='["wordpress", "webhook"]',
    )
    env.update(extra)
    return env


#: The ``[classifier]`` extra: left out, as ``pip install .`` without extras leaves it out.
CLASSIFIER_EXTRA = ("torch", "transformers", "safetensors", "tokenizers", "huggingface_hub")


def dependencies_dir(where: Path) -> str:
    """A folder of links to this interpreter's site-packages minus mediagate itself and the
    ``[classifier]`` extra: where a fresh venv finds mediagate's own dependencies without
    downloading them.

    The checkout's own editable install is left out (its finder module has the same name as the
    one a clone's ``pip install -e .`` makes, and would win on ``PYTHONPATH``, running the
    checkout's code instead of the clone's); so are ``.pth`` files, never processed there."""
    site = Path(sysconfig.get_paths()["purelib"])
    where.mkdir(parents=True, exist_ok=True)
    for entry in site.iterdir():
        name = entry.name.lower()
        if name.startswith(("__editable__", "mediagate", *CLASSIFIER_EXTRA)):
            continue
        if name.endswith(".pth"):
            continue
        (where / entry.name).symlink_to(entry)
    return str(where)


class Served:
    """A shell command that ends in ``mediagate serve``, in its own process group."""

    def __init__(self, command: str | list[str], cwd: Path, env: Mapping[str, str]) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            command,
            shell=isinstance(command, str),
            executable="/bin/bash" if isinstance(command, str) else None,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def url(self, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if found := LISTENING_RE.search(line):
                    return found.group(1)
            if self.proc.poll() is not None:
                time.sleep(0.2)  # the reader thread may still hold the last lines
                raise AssertionError(f"exited {self.proc.returncode}:\n{self.output[-6000:]}")
            time.sleep(0.1)
        raise AssertionError(f"no 'listening on' within {timeout_s} s:\n{self.output[-6000:]}")

    def healthz(self, url: str, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        last: object = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=5) as resp:
                    return dict(json.loads(resp.read()))
            except urllib.error.HTTPError as exc:
                last = f"{exc.code}: {exc.read()[:2000]!r}"
            except OSError as exc:
                last = exc
            time.sleep(0.2)
        raise AssertionError(f"/healthz not 200 within {timeout_s} s: {last}\n{self.output}")

    def stop(self, timeout_s: float = 60.0) -> int:
        """SIGTERM to the process group (the shell and mediagate), then wait."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            code = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            code = self.proc.wait()
        self._reader.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return code


#: socket paths seen per data directory: a deep data directory's server listens on a socket in
#: a short private directory (AF_UNIX's path limit), and valkey retitles itself with the socket
_SOCKETS: dict[str, set[bytes]] = {}


def valkey_pids(data_dir: Path) -> list[int]:
    """Live ``valkey-server`` processes whose command line names ``data_dir`` or the socket a
    ``valkey.socket-path`` note under it named (now or at an earlier call)."""
    names = _SOCKETS.setdefault(str(data_dir), {os.fsencode(str(data_dir))})
    with contextlib.suppress(OSError):
        for note in data_dir.rglob("valkey.socket-path"):  # data_dir itself or its store/
            names.add(os.fsencode(note.read_text().strip() or str(data_dir)))
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            status = (entry / "status").read_text()
        except OSError:
            continue
        named = b"valkey-server" in cmdline and any(n in cmdline for n in names)
        if named and "State:\tZ" not in status:
            found.append(int(entry.name))
    return found


def kill_leftovers(data_dir: Path) -> None:
    for pid in valkey_pids(data_dir):
        os.kill(pid, signal.SIGKILL)


PYTHON = sys.executable
