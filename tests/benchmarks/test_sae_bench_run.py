"""benchmarks/sae.py keeps running, and its edit changes the read."""
import re

from bench_run import run_benchmark


def test_sae_benchmark_prints_its_ratios():
    out = run_benchmark("sae.py", "--smoke")
    for row in ("plain pass above L", "AblateFeatures read above L", "train_topk on 2000 token activations"):
        assert re.search(rf"^{re.escape(row)}.*\s[\d.]+", out, re.M), (row, out)
    assert re.search(r"edited/plain above L = [\d.]+ .*training = [\d.]+ s", out), out
    assert float(re.search(r"max change ([\d.]+)", out).group(1)) > 0  # the edit changed the read
