"""benchmarks/sae.py keeps running, prints a ratio for each kind of edited read, and each edit
changes the read."""
import re

from bench_run import run_benchmark

READS = ("AblateFeatures read above L, TopK cold", "AblateFeatures read above L, TopK code kept",
         "AblateFeatures read above L, ReLU fast path", "AblateFeatures read above L, JumpReLU fast path")


def test_sae_benchmark_prints_its_ratios():
    out = run_benchmark("sae.py", "--smoke")
    for row in ("plain pass above L", *READS, "train_topk on 2000 token activations"):
        assert re.search(rf"^{re.escape(row)}.*\s[\d.]+", out, re.M), (row, out)
    assert re.search(r"edited/plain above L .*TopK cold = [\d.]+, TopK cold 8 rare = [\d.]+, TopK code kept = [\d.]+, ReLU = [\d.]+, "
                     r"JumpReLU = [\d.]+", out), out
    assert re.search(r"training = [\d.]+ s, CPU [\d.]+ s, held-out FVE -?[\d.]+", out), out
    bound = re.search(r"TopK cold = [\d.]+ against its arithmetic bound 1 \+ encode/blocks-above FLOP = ([\d.]+)", out)
    assert bound and float(bound.group(1)) > 1, out
    for row in READS:  # the edit changed the read
        line = next(x for x in out.splitlines() if x.startswith(row))
        assert float(re.search(r"max change ([\d.]+)", line).group(1)) > 0, line
