"""A whole `fairfight eval` with the model on a CUDA GPU (in the model server) gives the metrics
the CPU gives, and every run records where the model ran. Skips without CUDA."""
import json

import pytest
import torch

from runner_fixtures import write_fight
from test_runner import eval_cli

FIGHT = {"probe": "uses: {model: [activations], data: {train: [text, profession]}}",
         "always_nurse": "uses: {data: {train: [profession]}}"}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_an_eval_on_cuda_gives_the_metrics_of_the_cpu(tmp_path, bert_dir):
    spec = write_fight(tmp_path, bert_dir, FIGHT, seeds=2)
    runs = {}
    for device in ("cpu", "cuda"):
        r = eval_cli(str(spec), "--out", str(tmp_path / device), "--no-progress", "--set", f"execution.device={device}")
        assert r.returncode == 0, r.stdout + r.stderr
        runs[device] = json.loads((tmp_path / device / "results.json").read_text())["runs"]
    assert {r["device"]["device"].split(":")[0] for r in runs["cuda"]} == {"cuda"}
    assert {r["model_access"] for r in runs["cuda"]} == {"server"}
    for cpu, gpu in zip(runs["cpu"], runs["cuda"]):
        assert (cpu["label"], cpu["seed"], cpu["status"]) == (gpu["label"], gpu["seed"], gpu["status"])
        for name, value in cpu["metrics"].items():  # a probe on reads that differ by float rounding
            assert gpu["metrics"][name] == pytest.approx(value, abs=0.1), (cpu["label"], name)
