"""A cluster job that dies, or whose contender dies, comes back as a failed run, and resume
retries it. (Its own file, so that the test processes can run it beside test_executors.py.)"""
import json
import os
import signal
import threading
import time
from pathlib import Path

from runner_fixtures import write_fight
from test_executors import EXECUTORS
from test_runner import eval_cli


def _fight(tmp_path, bert_dir, sleep):
    spec = write_fight(tmp_path, bert_dir, {"slow": f"params: {{sleep: {sleep}}}"}, seeds=1)
    methods = tmp_path / "methods.py"
    methods.write_text(methods.read_text().replace(
        '    time.sleep(float(ctx.params.get("sleep", 2)))',
        '    import os, signal\n    if os.environ.get("FAIRFIGHT_TEST_KILL"):\n        os.kill(os.getpid(), signal.SIGKILL)\n'
        '    time.sleep(float(ctx.params.get("sleep", 2)))'))
    return spec


def _run(tmp_path, spec):
    r = eval_cli(str(spec), "--out", str(tmp_path / "b"), *EXECUTORS["slurm"], "--no-progress")
    runs = json.loads((tmp_path / "b" / "results.json").read_text())["runs"]
    return r, runs


def test_a_contender_killed_on_its_node_is_a_failed_run_that_resume_retries(tmp_path, bert_dir):
    spec = _fight(tmp_path, bert_dir, 0)
    os.environ["FAIRFIGHT_TEST_KILL"] = "1"
    try:
        r, (run,) = _run(tmp_path, spec)
    finally:
        del os.environ["FAIRFIGHT_TEST_KILL"]
    assert r.returncode == 3
    # the job itself (the run's trusted side on the node) saw its contender's process die
    assert run["status"] == "failed" and "the worker process died" in run["error"], run["error"]
    r, (run,) = _run(tmp_path, spec)
    assert r.returncode == 0 and run["status"] == "succeeded"


def _kill_job_once_started(bundle: Path, done: threading.Event, killed: list):
    """Like a lost node: SIGKILL the job's process (submitit's task) once its contender has started."""
    while not done.is_set() and not killed:
        if list(bundle.glob(".exchange/*/started")):
            for proc in Path("/proc").iterdir():
                try:
                    cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                except OSError:
                    continue
                if "submitit.core._submit" in cmd and str(bundle) in cmd:
                    os.kill(int(proc.name), signal.SIGKILL)
                    killed.append(int(proc.name))
        time.sleep(0.1)


def test_a_job_killed_on_the_cluster_is_a_failed_run_that_resume_retries(tmp_path, bert_dir):
    spec = _fight(tmp_path, bert_dir, 5)
    done, killed = threading.Event(), []
    watcher = threading.Thread(target=_kill_job_once_started, args=(tmp_path / "b", done, killed), daemon=True)
    watcher.start()
    try:
        r, (run,) = _run(tmp_path, spec)
    finally:
        done.set()
        watcher.join()
    assert killed, "the job was never seen running"
    assert r.returncode == 3
    assert run["status"] == "failed" and "ended without a result" in run["error"], run["error"]
    r, (run,) = _run(tmp_path, spec)  # the same run, this time left alone
    assert r.returncode == 0 and run["status"] == "succeeded"
