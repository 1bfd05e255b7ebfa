"""benchmarks/family_vs_separate.py keeps running (at smoke size it measures nothing)."""
from bench_run import run_benchmark


def test_family_vs_separate_prints_its_table():
    out = run_benchmark("family_vs_separate.py", "--smoke")
    rows = {line.split("|")[1].strip(): line.split("|")[2:] for line in out.splitlines() if line.startswith("| ")}
    assert {"family (one eval)", "members one by one", "ratio family / separate"} <= set(rows), out
    family_runs = int(rows["family (one eval)"][1].split()[0])
    separate_runs = int(rows["members one by one"][1].split()[0])
    # 2 members: the axis is erase_gender's layer and none of the three contenders is erase_gender,
    # so the family computes each once; the separate evals compute everything twice
    assert separate_runs > family_runs > 0, out
