"""A cluster job that dies comes back as a failed run, and resume retries it. (Its own file, so
that the test processes can run it beside test_executors.py.)"""
import json

from runner_fixtures import write_fight
from test_executors import EXECUTORS
from test_runner import eval_cli


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

