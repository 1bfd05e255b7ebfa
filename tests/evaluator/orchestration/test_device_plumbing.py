"""execution.device and model.dtype through an eval: the spec's IR, run keys, the runs' records,
provenance.json, results.json and the report; cluster executors asking for GPUs."""
import json
import os

import pytest
import torch

from fairfight.evaluator.orchestration import runkey
from fairfight.evaluator.orchestration.cluster import with_gpus
from fairfight.evaluator.orchestration.plan import compile_plan
from fairfight.spec.check import check_file, load_spec

from runner_fixtures import write_fight
from test_runner import eval_cli

FIGHT = {"probe": "uses: {model: [activations], data: {train: [text, profession]}}"}


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory, bert_dir):
    return write_fight(tmp_path_factory.mktemp("devices"), bert_dir, FIGHT, seeds=1)


def keys(spec_path, *overrides):
    return [r.key for r in compile_plan(load_spec(spec_path, list(overrides))).runs]


# -- the spec ---------------------------------------------------------------------------------------------
def test_device_defaults_to_auto_and_is_read_as_written(spec_path):
    assert load_spec(spec_path).execution.device == "auto"
    spec = load_spec(spec_path, ["execution.device=cuda:1", "model.dtype=bfloat16"])
    assert (spec.execution.device, spec.model.dtype) == ("cuda:1", "bfloat16")


def test_a_malformed_device_is_an_error_at_its_place_and_float16_on_cpu_a_warning(spec_path):
    report = check_file(spec_path, ["execution.device=cuda:x"])
    assert not report.ok and report.errors[0].headline().startswith("--set:1:18: execution.device: text 'cuda:x'")
    report = check_file(spec_path, ["execution.device=cpu", "model.dtype=float16"])
    assert report.ok
    (warning,) = [w for w in report.warnings if w.path.startswith(("model", "execution"))]
    assert warning.path == "model.dtype" and "lack half precision" in warning.message
    assert not [w for w in check_file(spec_path, ["model.dtype=bfloat16"]).warnings if w.path == "model.dtype"]


# -- run keys -----------------------------------------------------------------------------------------------
def test_run_keys_change_with_the_dtype_and_the_device_type_not_the_gpu_number(spec_path):
    cpu = keys(spec_path, "execution.device=cpu")
    assert keys(spec_path, "model.dtype=bfloat16", "execution.device=cpu") != cpu
    assert keys(spec_path, "execution.device=cuda:0") != cpu  # planned as written: no GPU needed to plan
    assert keys(spec_path, "execution.device=cuda:0") == keys(spec_path, "execution.device=cuda:1")
    here = "cuda" if torch.cuda.is_available() else "cpu"
    assert keys(spec_path) == keys(spec_path, f"execution.device={here}")  # auto: what this machine sees
    ident = runkey.model_identity(load_spec(spec_path, ["execution.device=cuda:1", "model.dtype=bfloat16"]))
    assert (ident["device"], ident["dtype"]) == ("cuda", "bfloat16")


# -- an eval records what it ran on ---------------------------------------------------------------------
def test_an_eval_records_the_device_and_dtype_it_used(spec_path, tmp_path):
    out = tmp_path / "b"
    r = eval_cli(str(spec_path), "--out", str(out), "--no-progress", "--executor", "inline",
                 "--set", "model.dtype=bfloat16", "--set", "execution.device=cpu")
    assert r.returncode == 0, r.stderr
    expected = {"requested": "cpu", "planned": "cpu", "dtype": "bfloat16", "used": ["cpu"]}
    assert json.loads((out / "provenance.json").read_text())["device"] == expected
    results = json.loads((out / "results.json").read_text())
    assert results["device"] == expected
    assert [run["device"] for run in results["runs"]] == [{"device": "cpu", "dtype": "bfloat16"}]
    assert json.loads((out / "provenance.json").read_text())["model"]["dtype"] == "bfloat16"
    from fairfight.report.markdown import render_markdown

    assert "- **Model device:** cpu, bfloat16" in render_markdown(results)


# -- cluster executors ask for GPUs when the model runs on cuda -----------------------------------------
def test_cluster_executors_ask_for_one_gpu_per_run_on_cuda_unless_told():
    assert with_gpus("slurm", {"cpus": 2}, "cuda:1") == {"cpus": 2, "gpus": 1}
    assert with_gpus("ray", {}, "cuda") == {"num_gpus": 1}
    assert with_gpus("ray", {"num_gpus": 0.5}, "cuda") == {"num_gpus": 0.5}  # as written, even a fraction
    assert with_gpus("slurm", {"gpus": 0}, "cuda") == {"gpus": 0}
    assert with_gpus("slurm", {}, "cpu") == {} and with_gpus("ray", {}, "mps") == {}


def test_slurm_jobs_request_gpus_per_node_in_their_sbatch_script(tmp_path, monkeypatch):
    """submitit's real Slurm executor writes the script; Slurm itself is not installable here, so a
    stand-in `srun` on PATH lets it start (nothing is submitted)."""
    pytest.importorskip("submitit")
    from fairfight.evaluator.orchestration.cluster import SlurmExecutor

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 1\n")
    (bin_dir / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    def script(options, device):
        executor = SlurmExecutor(1, options, tmp_path / "exchange", device)._make()
        return executor._executor._make_submission_file_text("python run.py", "job")

    assert "#SBATCH --gpus-per-node=1" in script({"cluster": "slurm"}, "cuda")
    assert "#SBATCH --gpus-per-node=4" in script({"cluster": "slurm", "gpus": 4}, "cuda:0")
    assert "gpus-per-node" not in script({"cluster": "slurm"}, "cpu")
