"""The README's serve command, as written, in a fresh clone, with the default data dir.

Issue #11: on a fresh clone the README's first command crashed (the embedded Valkey could not
open its log file under the relative default ``data_dir``), and no test saw it because every test
used absolute temporary paths and the checkout itself. This test reads the command out of
README.md (the ``sh`` block that serves), clones the repository's HEAD into a temporary folder and
runs the command there through ``bash`` unchanged, until ``/healthz`` answers 200; then stops it
with SIGTERM and checks that nothing is left running.

What the environment changes, and why (the command text is not touched):

* ``PYTHONPATH`` names a folder of links to this interpreter's installed packages minus
  mediagate itself and the ``[classifier]`` extra the command does not install
  (:func:`tests.served.dependencies_dir`), so the command's ``pip install -e .``
  finds mediagate's dependencies already installed instead of downloading them (the suite must
  not depend on the network, and it keeps the test near a minute). The clone's own package is
  still installed by that ``pip install -e .`` into the clone's fresh ``.venv`` and imported from
  the clone (asserted below). The isolated build environment's ``setuptools`` comes from
  wherever pip is configured to look (this machine: its local package mirror).
* ``MEDIAGATE_SERVER__PORT=0``: tests never bind fixed ports; the CLI prints the port it got.
* ``MEDIAGATE_CONNECTORS__ALLOW``: only the connectors without a remote default endpoint, so that
  ``/healthz`` does not reach out of the machine.

The data dir is the default one (``./data`` in the clone), which is what broke.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.served import Served, dependencies_dir, kill_leftovers, quiet_env, valkey_pids

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 300.0  # pip install -e . (~25 s) and start-up (~10-40 s on a busy host)


def readme_serve_command(readme: str) -> str:
    """The first ``sh`` block of the README whose command serves the gateway."""
    for block in re.findall(r"```sh\n(.*?)```", readme, flags=re.S):
        lines = [line for line in block.strip().splitlines() if line and not line.startswith("#")]
        for line in lines:
            if re.search(r"(mediagate|run\.py) serve\b", line):
                return line
    raise AssertionError("README.md has no sh block that serves the gateway")


@pytest.fixture
def clone(tmp_path: Path) -> Iterator[Path]:
    if shutil.which("git") is None:
        if os.environ.get("MEDIAGATE_REQUIRE_SYSTEM_TESTS") == "1":
            pytest.fail("git is not installed (MEDIAGATE_REQUIRE_SYSTEM_TESTS=1)")
        pytest.skip("git is not installed: cannot clone the repository")
    where = tmp_path / "mediagate"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(where)], check=True, timeout=120)
    yield where
    kill_leftovers(where)


def test_the_readme_command_is_found() -> None:
    command = readme_serve_command((ROOT / "README.md").read_text(encoding="utf-8"))
    assert "pip install" in command and "serve" in command


@pytest.mark.slow
@pytest.mark.timeout(START_TIMEOUT_S + 120)
def test_the_readme_serve_command_works_in_a_fresh_clone(clone: Path) -> None:
    command = readme_serve_command((clone / "README.md").read_text(encoding="utf-8"))
    deps = dependencies_dir(clone.parent / "deps")
    served = Served(command, cwd=clone, env=quiet_env(PYTHONPATH=deps))
    try:
        url = served.url(START_TIMEOUT_S)
        health = served.healthz(url, 60)
        assert health["status"] == "ok", health
        assert health["parts"]["screening"]["ok"] is True
        assert health["parts"]["screening"]["patterns"] > 1000  # the shipped lexicons loaded
        assert health["parts"]["classifier"]["backend"] == "numpy"  # no torch needed
        assert (clone / "data" / "store" / "appendonly").is_dir()  # the default data dir
        assert valkey_pids(clone / "data"), "no embedded Valkey in ./data"
    finally:
        code = served.stop()
    assert code == 0, served.output[-4000:]
    assert "mediagate stopped in" in served.output
    assert not valkey_pids(clone / "data"), "the embedded Valkey outlived the gateway"
    assert f"{clone}/" in _imported_from(clone, deps), "the gateway did not run the clone's code"


def _imported_from(clone: Path, deps: str) -> str:
    python = clone / ".venv" / "bin" / "python"
    done = subprocess.run(
        [str(python), "-c", "import gateway; print(gateway.__file__)"],
        cwd=clone.parent,
        env=quiet_env(PYTHONPATH=deps),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout
