"""benchmarks/eval_vs_script.py keeps running and agrees with its plain script."""
import re

from bench_run import run_benchmark


def test_eval_vs_script_prints_the_table_and_agrees_with_the_script():
    out = run_benchmark("eval_vs_script.py", "--smoke")
    for row in ("floor (one pass per split)", "floor of this fight", "plain script", "fairfight eval"):
        assert re.search(rf"^{re.escape(row)}.*\s[\d.]+\s+\d+\s+\d+$", out, re.M), (row, out)
    assert re.search(r"fairfight/script = [\d.]+ +fairfight/floor = [\d.]+", out), out
    scores = dict(re.findall(r"^  (\w+)\s+([\d.]+  [\d.]+)$", out, re.M))
    assert set(scores) == {"finetune_head", "token_deletion", "concept_bottleneck", "few_shot", "majority",
                           "erase_gender"}, out
    for name in ("finetune_head", "majority", "few_shot"):  # the same computation on both sides
        script, ours = scores[name].split()
        assert script == ours, (name, out)
