"""The benchmarks keep running (tiny sizes: they measure nothing here, see docs/performance.md)."""
import os
import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}


def _run(script, *args):
    r = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True, env=ENV,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def test_eval_vs_script_prints_the_table_and_agrees_with_the_script():
    out = _run("eval_vs_script.py", "--smoke")
    for row in ("floor (one pass per split)", "floor of this fight", "plain script", "fairfight eval"):
        assert re.search(rf"^{re.escape(row)}.*\s[\d.]+\s+\d+$", out, re.M), (row, out)
    assert re.search(r"fairfight/script = [\d.]+ +fairfight/floor = [\d.]+", out), out
    scores = dict(re.findall(r"^  (\w+)\s+([\d.]+  [\d.]+)$", out, re.M))
    assert set(scores) == {"finetune_head", "token_deletion", "concept_bottleneck", "few_shot", "majority",
                           "erase_gender"}, out
    for name in ("finetune_head", "majority", "few_shot"):  # the same computation on both sides
        script, ours = scores[name].split()
        assert script == ours, (name, out)


def test_scaling_prints_its_table():
    out = _run("scaling.py", "--smoke", "--base-size", "60")
    rows = [line.split() for line in out.splitlines()[1:]]
    assert [r[0] for r in rows] == ["seeds", "trials"], out
    assert rows[0][5] == "4" and int(rows[1][5]) > 2, out  # runs: 2 contenders x 2 seeds; trials add runs


def test_sae_benchmark_prints_its_ratios():
    out = _run("sae.py", "--smoke")
    for row in ("plain pass above L", "AblateFeatures read above L", "train_topk on 2000 token activations"):
        assert re.search(rf"^{re.escape(row)}.*\s[\d.]+", out, re.M), (row, out)
    assert re.search(r"edited/plain above L = [\d.]+ .*training = [\d.]+ s", out), out
    assert float(re.search(r"max change ([\d.]+)", out).group(1)) > 0  # the edit changed the read
