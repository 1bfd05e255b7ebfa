"""An eval stopped from outside: its parent killed, Ctrl-C, a run past its wall time; what
finished is kept and a second eval resumes. (Split from test_runner.py, so that the test
processes can run the two files side by side.)"""
import json
import os
import signal
import subprocess
import sys
import time

from runner_fixtures import eval_here, write_fight


def test_resume_after_the_parent_is_killed(tmp_path, bert_dir):
    spec = write_fight(tmp_path, bert_dir, {"slow": "params: {sleep: 1}"}, seeds=4)
    out = tmp_path / "bundle"
    cmd = [sys.executable, "-m", "fairfight.cli", "eval", str(spec), "--out", str(out), "--workers", "1", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and not list(out.glob("runs/*/record.json")):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the parent and its worker, mid-eval
    proc.wait()
    finished = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("runs/*/record.json")}
    assert 1 <= len(finished) < 4
    r = eval_here(str(spec), "--out", str(out), "--no-progress")
    assert r.returncode == 0, r.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["counts"]["succeeded"] == 4 and results["counts"]["pending"] == 0
    for key, mtime in finished.items():  # nothing finished was lost or redone
        assert (out / "runs" / key / "record.json").stat().st_mtime_ns == mtime


def test_a_run_past_its_wall_time_is_stopped(tmp_path, bert_dir):
    spec = write_fight(tmp_path, bert_dir, {"slow": "params: {sleep: 60}"}, seeds=1)
    spec.write_text(spec.read_text().replace("budget: {examples: 2000}", "budget: {examples: 2000, wall_time: 1s}"))
    started = time.time()
    r = eval_here(str(spec), "--out", str(tmp_path / "b"), "--no-progress")
    assert r.returncode == 3 and time.time() - started < 50, r.stderr
    (run,) = json.loads((tmp_path / "b" / "results.json").read_text())["runs"]
    assert run["status"] == "failed" and run["error"].startswith("timeout: the contender took longer than 6 s")


def test_ctrl_c_writes_what_finished_and_resumes(tmp_path, bert_dir):
    spec = write_fight(tmp_path, bert_dir, {"slow": "params: {sleep: 1}"}, seeds=3)
    out = tmp_path / "bundle"
    cmd = [sys.executable, "-m", "fairfight.cli", "eval", str(spec), "--out", str(out), "--workers", "1", "--no-progress"]
    # A shell's background job ignores SIGINT and its children inherit that: undo it in the child,
    # or this test would pass or fail by how the test run was started.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while time.time() < deadline and not list(out.glob("runs/*/record.json")):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "to resume" in err
    results = json.loads((out / "results.json").read_text())
    assert results["interrupted"] is True and results["counts"]["succeeded"] >= 1
    r = eval_here(str(spec), "--out", str(out), "--no-progress")
    assert r.returncode == 0 and json.loads((out / "results.json").read_text())["counts"]["succeeded"] == 3
