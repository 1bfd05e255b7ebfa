"""Runs a benchmark script at its smoke size (the tests check that the benchmarks keep running;
at these tiny sizes they measure nothing: see docs/performance.md)."""
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}


def run_benchmark(script, *args) -> str:
    r = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True, env=ENV,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout
