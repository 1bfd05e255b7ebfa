"""The model server fixes glibc's mmap threshold (its effect on peak memory is measured in
benchmarks/eval_vs_script.py, not asserted here)."""
import subprocess
import sys

import pytest


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_the_threshold_is_fixed_in_a_fresh_process():
    code = ("from fairfight.evaluator.model_side.memory import release_freed_memory as r; "
            "import torch; print(r()); torch.randn(64, 1024, 1024).sum()")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
