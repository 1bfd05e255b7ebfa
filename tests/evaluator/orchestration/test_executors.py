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
    runs = json.loads((out / "results.json").read_text())["runs"]
    # on a cluster node too, the model is in a model server and the contender gets stubs
    assert {r["model_access"] for r in runs} == {"in-process" if name == "inline" else "server"}


@pytest.mark.parametrize("name", ["slurm", "ray"])
def test_a_cluster_job_can_serve_several_runs_with_one_model_server(fight, reference, name):
    """runs_per_job: one job (one model server on its node) runs several runs, each judged and
    reported on its own; the results are the same."""
    spec, folder = fight
    out = folder / f"{name}-shared"
    r = eval_cli(str(spec), "--out", str(out), *EXECUTORS[name], "--executor-option", "runs_per_job=2",
                 "--no-progress")
    assert r.returncode == 0, r.stdout + r.stderr
    assert metrics(out) == reference
    runs = json.loads((out / "results.json").read_text())["runs"]
    assert len(runs) == 2 and {r["model_access"] for r in runs} == {"server"}
    if name == "slurm":  # submitit keeps one record per job it submitted
        jobs = list((out / ".exchange" / "_submitit").glob("*_submitted.pkl"))
        assert len(jobs) == 1, jobs  # both runs in one job


def test_a_temp_folder_too_long_for_the_fork_servers_socket_is_a_message(tmp_path, bert_dir):
    """multiprocessing puts the fork server's unix socket in the temp folder, and a socket path has
    108 bytes on Linux: a long TMPDIR stopped every eval with 'unexpected OSError'."""
    import os
    import subprocess
    import sys

    spec = write_fight(tmp_path / "fight", bert_dir, {"always_nurse": "uses: {data: {train: [profession]}}"}, seeds=1)
    deep = tmp_path / ("t" * 100)
    deep.mkdir()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TMPDIR": str(deep)}
    r = subprocess.run([sys.executable, "-m", "fairfight.cli", "eval", str(spec), "--out", str(tmp_path / "b"),
                        "--no-progress"], capture_output=True, text=True, timeout=300, env=env)
    if r.returncode == 0:
        pytest.skip("this Python's fork server needs no socket path in the temp folder")
    assert "too long for the unix socket" in r.stderr and "TMPDIR" in r.stderr, r.stderr[-2000:]
    assert "Traceback" not in r.stderr and "unexpected" not in r.stderr, r.stderr[-2000:]
