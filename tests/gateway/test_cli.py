"""``run.py`` as an operator uses it: real subprocesses, the real store, no mocks.

The sub-process environment is built explicitly: ``REDIS_URL`` is passed only where a test means
the command to use the suite's server; elsewhere the command starts its own embedded Valkey in
the test's data directory.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aredis

from gateway.cli import build_parser, main
from gateway.keys import Keys
from gateway.principals import PrincipalStore
from gateway.settings import CONFIG_DIR
from tests.served import listening_url, valkey_pids

ROOT = Path(__file__).resolve().parents[2]
RUN_PY = ROOT / "run.py"
CLI_TIMEOUT_S = 60.0
SERVE_READY_TIMEOUT_S = 60.0  # start-up builds the screening automata: ~10 s on a busy host


def _env(**extra: str) -> dict[str, str]:
    """The parent's environment minus anything that would point the CLI elsewhere."""
    env = {
        k: v for k, v in os.environ.items() if k != "REDIS_URL" and not k.startswith("MEDIAGATE_")
    }
    env["PYTHONUNBUFFERED"] = "1"
    # Only connectors without a default remote endpoint: /healthz must not reach past loopback.
    env["MEDIAGATE_CONNECTORS__ALLOW"] = '["wordpress", "webhook"]'
    env.update(extra)
    return env


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RUN_PY), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )


async def _arun(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(_run, *args, env=env)


def _key_from(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("mg_")]
    assert len(lines) == 1, output
    return lines[0].strip()


async def test_keys_create_prints_a_key_once_that_authenticates(
    redis: aredis.Redis, redis_url: str
) -> None:
    env = _env(REDIS_URL=redis_url)
    done = await _arun(
        "keys", "create", "--role", "editor", "--unit", "hq", "--name", "editor one", env=env
    )
    assert done.returncode == 0, done.stderr
    key = _key_from(done.stdout)
    assert "shown once" in done.stdout
    principal = await PrincipalStore(redis, Keys()).authenticate(key)
    assert principal is not None
    assert (principal.role, principal.unit, principal.name) == ("editor", "hq", "editor one")
    # Stored only as a hash: the secret part is nowhere in the store.
    secret = key.rsplit("_", 1)[1]
    for name in await redis.keys("*"):
        if await redis.type(name) == b"string":
            assert secret.encode() not in (await redis.get(name) or b"")


# In-process from here on (``main`` is what run.py calls): a subprocess costs seconds of imports.


def _main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_keys_list_never_prints_secrets_and_revoke_works(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    code, out, _ = _main(
        capsys, "keys", "create", "--role", "auditor", "--unit", "hq", "--name", "au"
    )
    assert code == 0
    key = _key_from(out)
    key_id, secret = key[len("mg_") :].split("_", 1)
    code, out, err = _main(capsys, "keys", "list")
    assert code == 0 and key_id in out and "auditor" in out and "active" in out
    assert secret not in out + err and "mg_" not in out
    code, out, _ = _main(capsys, "keys", "revoke", key_id)
    assert code == 0 and f"revoked {key_id}" in out
    code, out, _ = _main(capsys, "keys", "list")
    assert next(line for line in out.splitlines() if key_id in line).split()[3] == "revoked"
    assert asyncio.run(_authenticate(redis_url, key)) is None
    code, _, err = _main(capsys, "keys", "revoke", "0000000000000000")
    assert code == 1 and "no key" in err


async def _authenticate(redis_url: str, key: str) -> object:
    client = aredis.Redis.from_url(redis_url)
    try:
        return await PrincipalStore(client, Keys()).authenticate(key)
    finally:
        await client.aclose()


def test_keys_create_refuses_an_unknown_unit_or_role(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    code, _, err = _main(
        capsys, "keys", "create", "--role", "editor", "--unit", "mars", "--name", "x"
    )
    assert code == 2 and "unknown unit 'mars'" in err
    with pytest.raises(SystemExit) as exited:
        _main(capsys, "keys", "create", "--role", "king", "--unit", "hq", "--name", "x")
    assert exited.value.code == 2 and "king" in capsys.readouterr().err


def test_vault_genkey_prints_a_fresh_32_byte_key(capsys: pytest.CaptureFixture[str]) -> None:
    _, first, _ = _main(capsys, "vault", "genkey")
    _, second, _ = _main(capsys, "vault", "genkey")
    key = first.strip()
    assert len(key) == 44
    assert len(base64.b64decode(key, validate=True)) == 32
    assert key != second.strip()


def test_a_configuration_error_exits_2_naming_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "gateway.toml"
    bad.write_text("[server]\nprot = 1\n")
    code, _, err = _main(capsys, "--config", str(bad), "keys", "list")
    assert code == 2
    assert "configuration error" in err and "server.prot" in err


def test_audit_verify_and_export_over_the_embedded_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    data = str(tmp_path / "data")
    code, out, _ = _main(
        capsys, "keys", "--data-dir", data, "create", "--role", "admin", "--unit", "hq",
        "--name", "ops",
    )  # fmt: skip
    assert code == 0
    key = _key_from(out)
    code, out, _ = _main(capsys, "audit", "--data-dir", data, "verify")
    assert code == 0 and "intact: 1 records" in out
    exported = tmp_path / "audit.jsonl"
    code, _, err = _main(capsys, "audit", "--data-dir", data, "export", "-o", str(exported))
    assert code == 0 and "exported 1 records" in err
    assert '"key.create"' in exported.read_text() and key not in exported.read_text()
    assert not valkey_pids(tmp_path / "data")


# --- one CLI: mediagate, --version, --data-dir before or after (issue #11) ---------------------


def test_the_cli_is_named_mediagate_and_has_a_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("mediagate ") and out.split()[1][0].isdigit(), out
    with pytest.raises(SystemExit):
        main(["--help"])
    assert capsys.readouterr().out.startswith("usage: mediagate ")


@pytest.mark.parametrize(
    "argv",
    [
        ["serve"],
        ["demo"],
        ["keys", "list"],
        ["keys", "revoke", "k1"],
        ["keys", "create", "--role", "editor", "--unit", "hq", "--name", "n"],
        ["vault", "rewrap"],
        ["audit", "verify"],
        ["audit", "export", "-o", "x.jsonl"],
        ["screen", "draft.txt"],
    ],
    ids=lambda argv: "-".join(argv[:2]),
)
@pytest.mark.parametrize("where", ["before", "middle", "after"])
def test_common_options_are_taken_before_or_after_every_sub_command(
    argv: list[str], where: str
) -> None:
    common = ["--data-dir", "D", "--config", "c.toml", "--policy", "p.toml"]
    if where == "before":
        full = [*common, *argv]
    elif where == "middle":  # between the command and its action (keys/vault/audit)
        full = [argv[0], *common, *argv[1:]]
    else:
        full = [*argv, *common]
    args = build_parser().parse_args(full)
    assert (args.data_dir, str(args.config), str(args.policy)) == ("D", "c.toml", "p.toml")


def test_the_documented_audit_verify_data_dir_order_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/demo.md step 8 said ``audit verify --data-dir demo-data``: unrecognized arguments."""
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    code, out, err = _main(capsys, "audit", "verify", "--data-dir", "demo-data")
    assert code == 0, err
    assert "audit chain intact: 0 records" in out
    assert (tmp_path / "demo-data" / "store" / "appendonly").is_dir()
    assert not valkey_pids(tmp_path / "demo-data")


def test_screen_with_a_copied_config_still_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A copy of gateway.toml outside config/ used to load 0 lexicons: 绝密 passed."""
    copy = tmp_path / "gateway.toml"
    copy.write_text((CONFIG_DIR / "gateway.toml").read_text(encoding="utf-8"), encoding="utf-8")
    draft = tmp_path / "draft.txt"
    draft.write_text("（绝密）会议纪要", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, out, err = _main(capsys, "screen", "--config", str(copy), str(draft), "--no-colour")
    assert code == 2, out + err
    assert "decision: block" in out


def test_a_stale_config_without_lexicons_stops_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / "gateway.toml"
    old.write_text('[screening]\nlexicon_dir = "config/lexicons"\n', encoding="utf-8")
    draft = tmp_path / "draft.txt"
    draft.write_text("（绝密）会议纪要", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, out, err = _main(capsys, "--config", str(old), "screen", str(draft))
    assert code == 2, out + err
    assert "configuration error" in err and "screening.lexicon_dir" in err
    assert str(tmp_path / "config" / "lexicons") in err


# --- serve -------------------------------------------------------------------------------------


class _Server:
    """``run.py serve --port 0`` with its output in a log beside ``data_dir``; ``base`` is the
    URL it says it listens on, known once :meth:`ready` returns."""

    def __init__(self, data_dir: Path, *extra: str) -> None:
        self.data_dir = data_dir
        self.base = ""
        fd, name = tempfile.mkstemp(".log", "serve-", dir=data_dir.parent)
        self.log_path = Path(name)
        with open(fd, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(RUN_PY), "serve", "--data-dir", str(data_dir),
                 "--port", "0", *extra],
                cwd=ROOT,
                env=_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip

    async def ready(self) -> dict[str, Any]:
        self.base = await asyncio.to_thread(
            listening_url, self.log_path, self.proc, SERVE_READY_TIMEOUT_S
        )
        async with aiohttp.ClientSession() as session, session.get(f"{self.base}/healthz") as resp:
            health: dict[str, Any] = await resp.json()
            assert resp.status == 200, health  # the port listens only once the gateway is ready
            return health

    def terminate(self) -> int:
        """SIGTERM and wait."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def serve_dir(tmp_path: Path) -> Iterator[Path]:
    data = tmp_path / "d"
    yield data
    for pid in valkey_pids(data):  # never leave a server behind, even when a test fails
        os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
async def test_serve_on_the_embedded_store_stops_cleanly_and_keeps_data(serve_dir: Path) -> None:
    created = await _arun(
        "keys", "--data-dir", str(serve_dir), "create", "--role", "unit_head",
        "--unit", "sub_east", "--name", "head", env=_env(),
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    headers = {"Authorization": f"Bearer {_key_from(created.stdout)}"}
    assert not valkey_pids(serve_dir), "keys create left its store running"

    first = _Server(serve_dir)
    try:
        health = await first.ready()
        assert health["parts"]["redis"]["ok"] and health["parts"]["vault"]["ok"]
        assert valkey_pids(serve_dir), "no embedded valkey while serving"
        filing = {"id": "east-site", "platform": "webhook", "name": "官网", "unit": "sub_east"}
        async with (
            aiohttp.ClientSession(headers=headers) as session,
            session.post(f"{first.base}/v1/accounts", json=filing) as resp,
        ):
            assert resp.status == 201, await resp.text()
    finally:
        code = first.terminate()
    assert code == 0, first.output()
    assert not valkey_pids(serve_dir), "embedded valkey outlived the gateway"
    # issue #11: start-up and shutdown used to be silent for seconds
    said = first.output()
    for line in (
        "starting the embedded store in",
        "building screening automata",
        "ready in ",
        f"mediagate listening on {first.base}",
        "stopping (SIGTERM)",
        "mediagate stopped in ",
    ):
        assert line in said, (line, said)
    assert not (serve_dir / "store" / "valkey.sock").exists()
    assert (serve_dir / "master.key").stat().st_mode & 0o777 == 0o600

    second = _Server(serve_dir)
    try:
        await second.ready()
        async with (
            aiohttp.ClientSession(headers=headers) as session,
            session.get(f"{second.base}/v1/accounts/east-site") as resp,
        ):
            body = await resp.json()
            assert resp.status == 200, body
            assert body["name"] == "官网" and body["state"] == "pending"
    finally:
        code = second.terminate()
    assert code == 0, second.output()
    assert not valkey_pids(serve_dir)


async def test_a_port_in_use_is_reported_at_once_and_nothing_starts(serve_dir: Path) -> None:
    """It used to be found after the store and ~7 s of start-up, as a traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = await _arun("serve", "--data-dir", str(serve_dir), "--port", str(port), env=_env())
    assert done.returncode == 2, done.stderr
    assert f"cannot listen on 127.0.0.1:{port}: address already in use" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (serve_dir / "store").exists(), "the store was started before the port was taken"
    assert "building screening automata" not in done.stderr


# --- serve with several processes (server.processes) -------------------------------------------


def _children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    found: list[int] = []
    for task in tasks.iterdir():
        children = (task / "children").read_text().split()
        found += [int(c) for c in children]
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _running(pid: int) -> bool:
    """``pid`` is still one of the gateway's processes (not gone, not reused by another)."""
    return "run.py" in _cmdline(pid)


def _workers(server: _Server) -> list[int]:
    """The gateway's forked workers (its children that are not the embedded store)."""
    return [c for c in _children(server.proc.pid) if "run.py" in _cmdline(c)]


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc (Linux)")
async def test_serve_with_two_processes_shares_the_port_metrics_and_stops_cleanly(
    serve_dir: Path,
) -> None:
    server = _Server(serve_dir, "--processes", "2")
    try:
        await server.ready()
        workers = _workers(server)
        assert len(workers) == 2, (workers, server.proc.pid)
        answered: dict[int, int] = {}
        sent = 0
        deadline = time.monotonic() + SERVE_READY_TIMEOUT_S
        async with aiohttp.ClientSession() as session:
            # a new connection each: the worker holding fewest accepts it (both hold none)
            while len(answered) < 2 or sent < 20:
                assert time.monotonic() < deadline, f"only workers {answered} answered"
                async with session.get(
                    f"{server.base}/healthz", headers={"Connection": "close"}
                ) as resp:
                    process = (await resp.json())["parts"]["process"]
                    sent += 1
                answered[process["worker"]] = process["pid"]
                if len(answered) < 2:
                    await asyncio.sleep(0.1)
            assert sorted(answered.values()) == sorted(workers)
        # kept-alive connections opened one after another go to the worker holding fewest
        holders: list[int] = []
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(8):
                kept = await stack.enter_async_context(aiohttp.ClientSession())
                async with kept.get(f"{server.base}/healthz") as resp:
                    holders.append((await resp.json())["parts"]["process"]["worker"])
        assert sorted(holders.count(w) for w in (0, 1)) in ([4, 4], [3, 5]), holders
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{server.base}/metrics") as resp,
        ):
            exposition = await resp.text()
        counted = sum(
            float(line.rsplit(" ", 1)[1])
            for line in exposition.splitlines()
            if line.startswith("mediagate_http_requests_total{") and 'route="/healthz"' in line
        )
        # the ready() polls count too: at least those sent here, summed over both workers
        assert counted >= sent, exposition
        assert "mediagate_build_info{" in exposition
        files = sorted(p.name for p in (serve_dir / "metrics").glob("counter_*.db"))
        assert files == sorted(f"counter_{pid}.db" for pid in workers), files
    finally:
        code = server.terminate()
    said = server.output()
    assert code == 0, said
    assert "(GET /healthz; 2 processes; Ctrl-C stops)" in said
    # built once, before the fork, and shared: not once per worker
    assert said.count("screening ready: ") == 1 and said.count("classifier ready in ") == 1, said
    assert "stopping (SIGTERM)" in said and "mediagate stopped in " in said
    assert not [pid for pid in workers if _running(pid)], "a worker outlived the gateway"
    assert not valkey_pids(serve_dir), "embedded valkey outlived the gateway"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc (Linux)")
async def test_a_worker_that_dies_stops_the_whole_gateway_with_exit_1(serve_dir: Path) -> None:
    """Running on with fewer processes than configured would hide the fault: the gateway ends
    and a service manager starts it again."""
    server = _Server(serve_dir, "--processes", "2")
    try:
        await server.ready()
        workers = _workers(server)
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        code = await asyncio.to_thread(server.proc.wait, 30)
    finally:
        server.terminate()
    said = server.output()
    assert code == 1, said
    assert f"worker process {workers[0]} ended with code -9" in said
    assert not _running(workers[1]), "the other worker was not stopped"
    assert not valkey_pids(serve_dir)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
async def test_workers_do_not_outlive_a_killed_parent(serve_dir: Path) -> None:
    server = _Server(serve_dir, "--processes", "2")
    try:
        await server.ready()
        workers = _workers(server)
        assert len(workers) == 2
        server.proc.kill()  # SIGKILL: no supervisor left to stop them
        await asyncio.to_thread(server.proc.wait, 10)
        for _ in range(150):  # up to 30 s
            if not _workers_left(workers):
                break
            await asyncio.sleep(0.2)
        assert not _workers_left(workers), "workers outlived their parent"
    finally:
        for pid in _workers_left(workers):
            os.kill(pid, signal.SIGKILL)
        server.terminate()


def _workers_left(pids: list[int]) -> list[int]:
    return [pid for pid in pids if _running(pid)]


@pytest.mark.parametrize(
    ("argv", "env", "said"),
    [
        (["--processes", "-1"], {}, "--processes: must be 0 (one per core) or positive"),
        ([], {"MEDIAGATE_SERVER__PROCESSES": "-2"}, "server.processes: must be 0 (one per core)"),
        ([], {"MEDIAGATE_SERVER__PROCESSES": "zwei"}, "server.processes"),
    ],
)
def test_a_bad_process_count_is_a_configuration_error(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    env: dict[str, str],
    said: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, _out, err = _main(capsys, "serve", "--data-dir", str(tmp_path), *argv)
    assert code == 2, err
    assert "configuration error" in err and said in err
    assert not (tmp_path / "store").exists(), "nothing starts on a bad configuration"
