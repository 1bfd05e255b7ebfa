"""The same fight gives the same results under every executor: inline, local, Slurm (submitit's
local cluster) and a real local Ray; cluster failures come back as failed runs."""
import json

import pytest

from runner_fixtures import eval_here, write_fight
from test_runner import eval_cli

FIGHT = {"probe": "uses: {model: [activations], data: {train: [text, profession]}}",
         "always_nurse": "uses: {data: {train: [profession]}}"}
EXECUTORS = {
    "local": [],
    "inline": ["--executor", "inline"],
    "slurm": ["--executor", "slurm", "--executor-option", "cluster=local"],
    "ray": ["--executor", "ray", "--executor-option", "num_cpus=2"],
}


@pytest.fixture(scope="module")
def fight(tmp_path_factory, bert_dir):
    folder = tmp_path_factory.mktemp("executors")
    return write_fight(folder, bert_dir, FIGHT, seeds=1), folder


def metrics(out):
    runs = json.loads((out / "results.json").read_text())["runs"]
    return {(r["label"], r["seed"]): (r["status"], r["metrics"]) for r in runs}


@pytest.fixture(scope="module")
def reference(fight):
    spec, folder = fight
    r = eval_here(str(spec), "--out", str(folder / "local"), "--no-progress")
    assert r.returncode == 0, r.stderr
    return metrics(folder / "local")


@pytest.mark.parametrize("name", ["inline", "slurm", "ray"])
def test_same_results_under_every_executor(fight, reference, name):
    spec, folder = fight
    out = folder / name
    # inline runs in the evaluating process: here, this test process; a cluster's jobs go through
    # a real `fairfight eval` process (submitit and Ray keep state in the process that starts them)
    run = eval_here if name == "inline" else eval_cli
    r = run(str(spec), "--out", str(out), *EXECUTORS[name], "--no-progress")
    assert r.returncode == 0, r.stdout + r.stderr
    assert metrics(out) == reference


def test_a_job_killed_on_the_cluster_is_a_failed_run_that_resume_retries(tmp_path, bert_dir):
    spec = write_fight(tmp_path, bert_dir, {"slow": "params: {sleep: 0}"}, seeds=1)
    methods = tmp_path / "methods.py"
    methods.write_text(methods.read_text().replace(
        '    time.sleep(float(ctx.params.get("sleep", 2)))',
        '    import os, signal\n    if os.environ.get("FAIRFIGHT_TEST_KILL"):\n        os.kill(os.getpid(), signal.SIGKILL)\n'
        '    time.sleep(float(ctx.params.get("sleep", 2)))'))
    import os

    os.environ["FAIRFIGHT_TEST_KILL"] = "1"
    try:
        r = eval_cli(str(spec), "--out", str(tmp_path / "b"), *EXECUTORS["slurm"], "--no-progress")
    finally:
        del os.environ["FAIRFIGHT_TEST_KILL"]
    assert r.returncode == 3
    (run,) = json.loads((tmp_path / "b" / "results.json").read_text())["runs"]
    assert run["status"] == "failed" and "ended without a result" in run["error"]
    r = eval_cli(str(spec), "--out", str(tmp_path / "b"), *EXECUTORS["slurm"], "--no-progress")
    assert r.returncode == 0
    assert json.loads((tmp_path / "b" / "results.json").read_text())["runs"][0]["status"] == "succeeded"

