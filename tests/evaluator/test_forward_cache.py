"""Shared forward passes: two concurrent evals on one cache compute each pass once, and agree."""
import json
import os
import subprocess
import sys
from collections import Counter

from fairfight.evaluator.forward_cache import computations

from runner_fixtures import write_fight

FIGHT = {"probe": "uses: {model: [activations], data: {train: [text, profession]}}",
         "plain_head": "uses: {model: [embed], data: {train: [text, profession]}}"}


def test_two_concurrent_evals_compute_each_pass_once(tmp_path, bert_dir):
    spec = write_fight(tmp_path, bert_dir, FIGHT, seeds=3)
    cache = tmp_path / "cache"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "fairfight.cli", "eval", str(spec), "--out", str(tmp_path / name),
                               "--cache", str(cache), "--no-progress"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for name in ("a", "b")]
    for p in procs:
        p.communicate(timeout=600)
        assert p.returncode == 0
    passes = computations(cache / "forward")
    keys = Counter(line.split()[0] for line in passes)
    assert keys and max(keys.values()) == 1  # nothing computed twice
    # probe (layer 1) and plain_head (embeddings) read one plain pass over every layer: one over
    # train, one over test, for both contenders and all 3 seeds
    assert len(keys) == 2
    a, b = (json.loads((tmp_path / n / "results.json").read_text())["runs"] for n in ("a", "b"))
    assert {(r["label"], r["seed"]): r["metrics"] for r in a} == {(r["label"], r["seed"]): r["metrics"] for r in b}
    # the ledgers still count every run's logical use
    assert all(r["ledger"]["examples"] == 60 for r in a)
