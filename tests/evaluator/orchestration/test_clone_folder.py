"""A fresh clone's default folder name is `fairfight`: run from its parent, under every executor,
a worker's interpreter once imported that folder (no __init__.py) as the package and every run
died. (Its own file, so that the test processes can run it beside test_executors.py.)"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runner_fixtures import write_fight
from test_executors import EXECUTORS, FIGHT


@pytest.fixture(scope="module")
def fight(tmp_path_factory, bert_dir):
    return write_fight(tmp_path_factory.mktemp("clone"), bert_dir, FIGHT, seeds=1)


# Ray's workers get the same environment through ray.init (runtime_env for a running cluster);
# it is left out here for time: test_executors.py runs Ray itself.
@pytest.mark.parametrize("name", ["local", "slurm"])
def test_eval_from_a_folder_that_holds_a_clone_named_fairfight(fight, tmp_path, name):
    (tmp_path / "fairfight" / "fairfight").mkdir(parents=True)  # the clone and its package folder
    (tmp_path / "fairfight" / "README.md").write_text("a clone\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    console = Path(sys.executable).parent / "fairfight"
    r = subprocess.run([str(console), "eval", str(fight), "--out", "bundle", *EXECUTORS[name], "--no-progress"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    runs = json.loads((tmp_path / "bundle" / "results.json").read_text())["runs"]
    assert {run["label"] for run in runs} == set(FIGHT) and all(run["status"] == "succeeded" for run in runs)
