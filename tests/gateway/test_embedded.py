"""The embedded Valkey server: private socket, AOF on, clean and idempotent stop, data kept."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from gateway.embedded import EmbeddedStoreError, EmbeddedValkey


def _client(server: EmbeddedValkey) -> redis.Redis:
    return redis.Redis(unix_socket_path=server.socket_path, socket_timeout=5.0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is gone for our purposes once reaped.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


@pytest.fixture
def server(tmp_path: Path) -> EmbeddedValkey:
    return EmbeddedValkey(tmp_path / "store")


def test_runs_with_aof_everysec_on_a_private_socket(server: EmbeddedValkey) -> None:
    with server:
        client = _client(server)
        try:
            config = {
                **client.config_get("appendonly"),
                **client.config_get("appendfsync"),
                **client.config_get("port"),
                **client.config_get("unixsocketperm"),
            }
        finally:
            client.close()
        assert config["appendonly"] == "yes"
        assert config["appendfsync"] == "everysec"
        assert config["port"] == "0"  # no TCP listener at all
        assert config["unixsocketperm"] == "700"
        assert stat.S_IMODE(server.data_dir.stat().st_mode) == 0o700
        assert stat.S_ISSOCK(os.stat(server.socket_path).st_mode)
        assert server.url == f"unix://{server.socket_path}"
        assert (server.data_dir / "appendonly").is_dir()


def test_appendfsync_always_is_honoured(tmp_path: Path) -> None:
    with EmbeddedValkey(tmp_path / "s", appendfsync="always") as server:
        client = _client(server)
        try:
            assert client.config_get("appendfsync")["appendfsync"] == "always"
        finally:
            client.close()


def test_stop_is_idempotent_and_leaves_no_process_or_socket(server: EmbeddedValkey) -> None:
    server.stop()  # before start: nothing to do
    server.start()
    pid = server.pid
    assert pid is not None and _alive(pid)
    server.stop()
    server.stop()
    assert server.pid is None
    assert not _alive(pid)
    assert not os.path.exists(server.socket_path)


def test_data_survives_stop_and_start(server: EmbeddedValkey) -> None:
    with server:
        client = _client(server)
        client.set("{mg}:survives", "一")
        client.xadd("{mg}:audit", {"r": "record"})
        client.close()
    # A fresh object on the same directory, as a second `run.py serve` would make.
    again = EmbeddedValkey(server.data_dir)
    with again:
        client = _client(again)
        try:
            assert client.get("{mg}:survives") == "一".encode()
            assert client.xlen("{mg}:audit") == 1
        finally:
            client.close()


def test_a_deep_data_dir_falls_back_to_a_short_private_socket_path(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*(["a-rather-long-directory-name"] * 6))
    server = EmbeddedValkey(deep)
    assert len(os.fsencode(str(deep / "valkey.sock"))) >= 100
    assert not server.socket_path.startswith(str(deep))
    assert len(os.fsencode(server.socket_path)) < 100
    sock_dir = os.path.dirname(server.socket_path)
    assert stat.S_IMODE(os.stat(sock_dir).st_mode) == 0o700
    with server:
        client = _client(server)
        try:
            client.set("k", "v")
        finally:
            client.close()
        assert (deep / "appendonly").is_dir()  # the data still lives in the data dir
    assert not os.path.exists(sock_dir)  # the private directory is removed on stop
    with EmbeddedValkey(deep) as again:
        client = _client(again)
        try:
            assert client.get("k") == b"v"
        finally:
            client.close()


def test_a_server_that_cannot_start_names_the_log(tmp_path: Path) -> None:
    data = tmp_path / "store"
    data.mkdir()
    (data / "appendonly").write_text("not a directory")  # valkey refuses this AOF dir
    server = EmbeddedValkey(data)
    with pytest.raises(EmbeddedStoreError, match="valkey"):
        server.start()
    server.stop()
    assert server.pid is None


def test_a_second_start_on_the_same_dir_attaches_instead_of_starting_a_rival(
    server: EmbeddedValkey,
) -> None:
    """``run.py keys create --data-dir D`` next to a running ``serve`` must not fork the AOF."""
    with server:
        client = _client(server)
        client.set("owner", "1")
        client.close()
        second = EmbeddedValkey(server.data_dir)
        url = second.start()
        assert second.attached and second.pid is None
        assert url == server.url
        client = _client(second)
        try:
            assert client.get("owner") == b"1"
        finally:
            client.close()
        second.stop()  # leaves the owner's server running
        assert server.pid is not None and _alive(server.pid)
        assert os.path.exists(server.socket_path)
        client = _client(server)
        try:
            assert client.ping()
        finally:
            client.close()
    # Once the owner stopped, a new start owns the directory again.
    with EmbeddedValkey(server.data_dir) as third:
        assert not third.attached and third.pid is not None


# --- issue #11: a relative data dir, a parent killed with -9, a server left behind -------------


def _valkey_pids(data_dir: Path) -> list[int]:
    """Live ``valkey-server`` processes whose command line names ``data_dir``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if (
            b"valkey-server" in cmdline
            and str(data_dir).encode() in cmdline
            and _alive(int(entry.name))
        ):
            found.append(int(entry.name))
    return found


def _wait_gone(data_dir: Path, timeout_s: float = 15.0) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while (left := _valkey_pids(data_dir)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@pytest.fixture
def no_leftovers(tmp_path: Path) -> Iterator[Path]:
    """Kill any server a failing test left on ``tmp_path``."""
    yield tmp_path
    for pid in _valkey_pids(tmp_path):
        os.kill(pid, signal.SIGKILL)


def test_a_relative_data_dir_starts_and_logs_inside_it(
    no_leftovers: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Valkey changes into --dir before it opens --logfile: a relative one made it exit 1."""
    monkeypatch.chdir(no_leftovers)
    server = EmbeddedValkey(Path("data") / "store")
    with server:
        assert server.data_dir == no_leftovers / "data" / "store"
        assert _client(server).ping()
    assert (no_leftovers / "data" / "store" / "valkey.log").is_file()


_OWNER = """
import sys, time
from pathlib import Path
from gateway.embedded import EmbeddedValkey
server = EmbeddedValkey(Path(sys.argv[1]))
server.start()
print(server.pid, flush=True)
time.sleep(600)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux")
def test_the_server_dies_with_its_owner_even_after_kill_9(no_leftovers: Path) -> None:
    data_dir = no_leftovers / "store"
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER, str(data_dir)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert owner.stdout is not None
        pid = int(owner.stdout.readline())
        assert _alive(pid)
    finally:
        owner.kill()
        owner.wait()
        if owner.stdout:
            owner.stdout.close()
    assert not _wait_gone(data_dir), "the embedded valkey outlived its owner"


def test_a_server_left_by_a_crash_is_ended_by_the_next_start(no_leftovers: Path) -> None:
    """Without a death signal (another OS, an older gateway) an orphan kept its AOF directory
    open and every restart added a server; the next start now ends it first."""
    data_dir = no_leftovers / "store"
    data_dir.mkdir(mode=0o700)
    first = EmbeddedValkey(data_dir)
    # The owner's command line, started without the death signal: an orphan of a crash.
    orphan = subprocess.Popen(first.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        (data_dir / "valkey.pid").write_text(f"{orphan.pid}\n{first.socket_path}\n")
        deadline = time.monotonic() + 10
        while not (data_dir / "valkey.sock").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        with EmbeddedValkey(data_dir) as second:
            assert orphan.wait(timeout=15) is not None  # ended (SIGTERM), not left running
            assert _valkey_pids(data_dir) == [second.pid]
            assert _client(second).ping()
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()


def test_a_pid_file_naming_another_process_is_left_alone(no_leftovers: Path) -> None:
    data_dir = no_leftovers / "store"
    data_dir.mkdir()
    (data_dir / "valkey.pid").write_text(f"{os.getpid()}\n")  # this test, not a valkey-server
    with EmbeddedValkey(data_dir) as server:
        assert _client(server).ping()
    assert _alive(os.getpid())
