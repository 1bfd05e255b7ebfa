"""`make demo` says why an exit 1 of the quickstart is fine, and still fails on a real failure.
The Makefile's own recipe runs, with a stand-in `fairfight` that exits as told (no eval)."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _demo(tmp_path, eval_exit: int):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    fake = venv / "bin" / "fairfight"
    fake.write_text(f'#!/bin/sh\nif [ "$1" = eval ]; then exit {eval_exit}; fi\nexit 0\n')
    fake.chmod(0o755)
    stamp = venv / ".installed"
    stamp.touch()
    newer = max((ROOT / "pyproject.toml").stat().st_mtime, (ROOT / "constraints.txt").stat().st_mtime) + 10
    os.utime(stamp, (newer, newer))  # up to date: make does not install anything
    return subprocess.run(["make", "-s", "-C", str(ROOT), "demo", f"VENV={venv}"], capture_output=True, text=True)


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_demo_explains_an_expected_exit_1(tmp_path):
    r = _demo(tmp_path, 1)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = [x for x in r.stdout.splitlines() if x.startswith("make demo:")]
    assert len(lines) == 1 and "as expected" in lines[0] and "not supported" in lines[0]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_demo_fails_on_a_real_failure_and_says_nothing_of_expectations(tmp_path):
    for code in (2, 3):
        r = _demo(tmp_path / str(code), code)
        assert r.returncode != 0 and "as expected" not in r.stdout
    ok = _demo(tmp_path / "ok", 0)
    assert ok.returncode == 0 and "as expected" not in ok.stdout
