"""benchmarks/scaling.py keeps running."""
from bench_run import run_benchmark


def test_scaling_prints_its_table():
    out = run_benchmark("scaling.py", "--smoke", "--base-size", "60")
    rows = [line.split() for line in out.splitlines()[1:]]
    assert [r[0] for r in rows] == ["trials"], out
    contenders, seeds, trials, runs, passes = (int(rows[0][i]) for i in (1, 2, 3, 5, 6))
    assert (contenders, seeds, trials) == (2, 2, 2), out
    assert runs > contenders * seeds and passes >= 1, out  # the trials add runs to the 2 x 2
