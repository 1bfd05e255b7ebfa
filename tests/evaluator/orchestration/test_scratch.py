"""A run's scratch folder: the only place a contender may write, limited in size, and gone when the
run ends (it used to stay behind, empty, in the temp folder: the worker could not remove it from
inside the walls)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from fairfight.evaluator.orchestration.scratch import Scratch

from runner_fixtures import write_fight

WRITERS = '''
import os
import tempfile
import time
from fairfight import method


@method
def fills_its_scratch(ctx):
    with open(os.path.join(tempfile.gettempdir(), "big"), "wb") as f:
        for _ in range(4):
            f.write(b"x" * (1 << 20))
    time.sleep(20)  # the orchestrator looks about once a second
    ctx.log("LEAK: kept 4 MiB in scratch")
    return ctx.predictors.constant("nurse")


@method
def leaves_files_in_scratch(ctx):
    folder = tempfile.mkdtemp()
    with open(os.path.join(folder, "notes.txt"), "w") as f:
        f.write("scratch is for this run only")
    ctx.log("SCRATCH", tempfile.gettempdir())
    return ctx.predictors.constant("nurse")
'''
USES = "uses: {data: {train: [profession]}}"


@pytest.fixture(scope="module")
def scratch_eval(tmp_path_factory, bert_dir):
    folder = tmp_path_factory.mktemp("scratch")
    spec = write_fight(folder, bert_dir, {"fills_its_scratch": USES, "leaves_files_in_scratch": USES}, cheaters=True,
                       seeds=1)
    (folder / "cheaters.py").write_text(WRITERS)
    temp = Path(tempfile.mkdtemp(prefix="ff-t-"))  # the eval's temp folder (short: the fork server's socket is in it)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TMPDIR": str(temp),
           "FAIRFIGHT_SCRATCH_LIMIT_MB": "2"}
    try:
        r = subprocess.run([sys.executable, "-m", "fairfight.cli", "eval", str(spec), "--out", str(folder / "b"),
                            "--workers", "2", "--no-progress"], capture_output=True, text=True, timeout=600, env=env)
        left = sorted(p.name for p in temp.iterdir() if p.name.startswith("fairfight-run-"))
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    runs = {run["label"]: run for run in json.loads((folder / "b" / "results.json").read_text())["runs"]}
    logs = {name: (folder / "b" / "runs" / run["key"] / "log.txt").read_text() for name, run in runs.items()}
    return r, runs, logs, left


def test_a_run_that_fills_its_scratch_folder_is_stopped_with_the_reason(scratch_eval):
    _, runs, logs, _ = scratch_eval
    run = runs["fills_its_scratch"]
    assert run["status"] == "failed" and "scratch folder passed 2 MiB" in str(run["error"]), (run, logs)
    assert "LEAK" not in logs["fills_its_scratch"]


def test_no_scratch_folder_is_left_behind_empty_or_not(scratch_eval):
    r, runs, logs, left = scratch_eval
    assert runs["leaves_files_in_scratch"]["status"] == "succeeded", logs["leaves_files_in_scratch"]
    assert "fairfight-run-" in logs["leaves_files_in_scratch"]  # it wrote in its scratch folder
    assert left == [], left


def test_blocks_taken_without_growing_count(monkeypatch):
    """fallocate(FALLOC_FL_KEEP_SIZE) takes disk and leaves the size at 0."""
    import ctypes

    from fairfight.evaluator.orchestration import scratch as module

    monkeypatch.setattr(module, "LIMIT", 1 << 20)
    s = Scratch()
    try:
        fd = os.open(os.path.join(s.path, "f"), os.O_CREAT | os.O_WRONLY)
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.fallocate(fd, 1, ctypes.c_long(0), ctypes.c_long(2 << 20)) != 0:
            pytest.skip(f"fallocate: {os.strerror(ctypes.get_errno())}")
        os.close(fd)
        assert "passed" in s.overflow()
    finally:
        s.remove()
    assert not os.path.exists(s.path)


def test_too_many_files_count(monkeypatch):
    from fairfight.evaluator.orchestration import scratch as module

    monkeypatch.setattr(module, "FILES", 10)
    s = Scratch()
    try:
        for i in range(11):
            open(os.path.join(s.path, str(i)), "w").close()
        assert "more than 10 files" in s.overflow()
    finally:
        s.remove()
