"""``make run`` builds only what the server needs; ``make test`` also the SDK 1.x virtualenv its interop
tests drive. Read from make's own plan (``make -n``) for fresh virtualenv paths, so nothing is built."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def plan(target: str, tmp_path: Path) -> str:
    result = subprocess.run(  # noqa: S603 - make, our Makefile
        ["make", "-n", target, f"VENV={tmp_path}/venv", f"SDK1_VENV={tmp_path}/sdk1"],  # noqa: S607
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )
    return result.stdout


def test_make_run_does_not_build_the_sdk1_virtualenv(tmp_path):
    run = plan("run", tmp_path)
    assert f"{tmp_path}/venv" in run
    assert "sdk1" not in run


def test_make_test_and_make_install_build_the_sdk1_virtualenv(tmp_path):
    for target in ("test", "install"):
        assert f"-m venv {tmp_path}/sdk1" in plan(target, tmp_path), target
