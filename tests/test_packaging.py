"""The wheel works outside the checkout (issue #11 item 3).

``pip install .`` (not ``-e``) then ``mediagate serve`` used to fail: the defaults
(``gateway.toml``, ``policy.toml``, the lexicons) were looked for in ``site-packages/config``;
``mediagate --help`` said ``usage: run.py``. Here the wheel is built from the checkout, installed
into a fresh venv outside it, and ``mediagate --version``, ``mediagate screen`` and ``mediagate
serve`` run from an empty folder.

The fresh venv gets mediagate from the wheel (``--no-deps``) and its dependencies through a
``.pth`` line naming a folder of links to this interpreter's installed packages minus mediagate
and the ``[classifier]`` extra (:func:`tests.served.dependencies_dir`): no download, nothing of
the checkout on the path (asserted: the package is imported from the venv), and the install a
user gets from ``pip install mediagate`` without extras.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from setuptools import find_namespace_packages

from tests.served import Served, dependencies_dir, kill_leftovers, quiet_env, valkey_pids

ROOT = Path(__file__).resolve().parents[1]
BUILD_TIMEOUT_S = 300.0


def test_every_package_directory_is_listed_for_the_wheel() -> None:
    """pyproject lists packages by hand (config/ maps to gateway.defaults): none forgotten."""
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        name
        for name in find_namespace_packages(ROOT, include=["gateway*", "connectors*", "screening*"])
        if (ROOT / name.replace(".", "/") / "__init__.py").exists()
    }
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert {"gateway.defaults", "gateway.defaults.lexicons"} <= listed


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        env=quiet_env(),
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    (built,) = out.glob("mediagate-*.whl")
    return built


def test_the_wheel_ships_the_defaults_the_model_and_the_notices(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "gateway/defaults/gateway.toml",
        "gateway/defaults/policy.toml",
        "gateway/defaults/lexicons/state_secret.txt",
        "screening/models/cold-mini/model.safetensors",
        "screening/data/t2s.tsv",
    ):
        assert needed in names, needed
    notices = {name.rsplit("/", 1)[-1] for name in names if "/licenses/" in name}
    assert {"LICENSE", "NOTICE"} <= notices
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "License-Expression: MIT" in text


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("installed")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "mediagate-test-deps.pth").write_text(dependencies_dir(root / "deps") + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
         "--no-index", str(wheel)],
        env=quiet_env(),
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    yield venv
    kill_leftovers(root)


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


def _mediagate(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "mediagate"), *args],
        cwd=cwd,
        env=quiet_env(),
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )


@pytest.mark.slow
def test_the_installed_cli_is_mediagate_and_runs_the_installed_code(
    venv: Path, empty: Path
) -> None:
    version = _mediagate(venv, empty, "--version")
    assert version.returncode == 0 and version.stdout.startswith("mediagate 0."), version
    helped = _mediagate(venv, empty, "--help")
    assert helped.stdout.startswith("usage: mediagate"), helped.stdout
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import gateway; print(gateway.__file__)"],
        cwd=empty,
        env=quiet_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(venv)), where
    assert sysconfig.get_paths()["purelib"] not in where


@pytest.mark.slow
def test_installed_screen_blocks_from_an_empty_folder(venv: Path, empty: Path) -> None:
    (empty / "draft.txt").write_text("（绝密）会议纪要", encoding="utf-8")
    done = _mediagate(venv, empty, "screen", "draft.txt", "--no-colour")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "decision: block" in done.stdout and "state_secret" in done.stdout
    assert sorted(p.name for p in empty.iterdir()) == ["draft.txt"]  # nothing written here


@pytest.mark.slow
@pytest.mark.timeout(BUILD_TIMEOUT_S + 120)
def test_installed_serve_from_an_empty_folder(venv: Path, empty: Path) -> None:
    served = Served([str(venv / "bin" / "mediagate"), "serve"], cwd=empty, env=quiet_env())
    try:
        url = served.url(BUILD_TIMEOUT_S)
        health = served.healthz(url, 60)
        assert health["status"] == "ok", health
        assert health["parts"]["screening"]["patterns"] > 1000
        # installed without torch: the shipped model runs on numpy
        classifier = health["parts"]["classifier"]
        assert classifier["ok"] is True and classifier["enabled"] is True, classifier
        assert classifier["backend"] == "numpy"
        assert (empty / "data" / "store").is_dir()
    finally:
        code = served.stop()
    assert code == 0, served.output[-4000:]
    assert "mediagate stopped in" in served.output
    assert not valkey_pids(empty / "data")
