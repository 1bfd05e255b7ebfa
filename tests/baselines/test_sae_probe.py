"""sae_probe: picks the latents that separate the classes, and runs end to end with an SAE
granted as knowledge (the run trained on granted activations is in test_builtins.py)."""
import warnings

import pytest
import torch

from testkit import write_bios
from fairfight.baselines.catalogue import CannotRun
from fairfight.baselines.sae_probe import top_latents, uses
from fairfight.evaluator.orchestration.executors import InlineExecutor
from fairfight.evaluator.orchestration.plan import compile_plan
from fairfight.evaluator.orchestration.runner import Evaluation
from fairfight.sae import SAE
from fairfight.errors import SpecError
from fairfight.spec.check import load_spec


def test_top_latents_are_the_ones_that_separate_the_classes():
    g = torch.Generator().manual_seed(0)
    z = torch.rand(40, 10, generator=g)
    labels = ["a"] * 20 + ["b"] * 20
    z[:20, 7] += 3.0  # latent 7 fires for class a
    z[20:, 2] += 1.5  # latent 2 for class b, less strongly
    assert top_latents(z, labels, 2).tolist() == [7, 2]


SPEC = """
fairfight: 1
task: {{name: sae-probe}}
model: {{source: "path:{model}"}}
datasets:
  bios: {{source: jsonl:bios.jsonl, split_column: split}}
splits:
  train: {{from: bios/train}}
  test: {{from: bios/test, role: evaluation}}
evaluate: {{split: test, target: profession, groups: [profession, gender], metrics: [accuracy], seeds: 1}}
rules:
  model: [activations]
  data: {{train: [text, profession]}}
  knowledge: {{layer1_sae: {{artifact: sae}}}}
baselines: [{{sae_probe: {{params: {{sae: layer1_sae, layer: 1, k: 8}}}}}}]
"""


def test_sae_probe_with_a_granted_sae_runs_end_to_end(tmp_path, bert_dir, bert):
    write_bios(tmp_path / "bios.jsonl", 80, 40, 5)
    d = bert.hidden_size
    gen = torch.Generator().manual_seed(0)
    sae = SAE(torch.randn(d, 4 * d, generator=gen), torch.zeros(4 * d), torch.randn(4 * d, d, generator=gen),
              torch.zeros(d), "topk", k=8)
    sae.save(tmp_path / "sae", "dictionary_learning")
    (tmp_path / "spec.yaml").write_text(SPEC.format(model=bert_dir))
    spec = load_spec(tmp_path / "spec.yaml")
    plan = compile_plan(spec)
    assert plan.refusals == [] and {r.grant.knowledge for r in plan.runs} == {frozenset({"layer1_sae"})}
    evaluation = Evaluation(spec, plan, tmp_path / "bundle")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        executor = InlineExecutor()
    executor.run(evaluation.pending_jobs(), lambda job: None, evaluation.finish)
    (run,) = evaluation.write()["runs"]
    assert run["status"] == "succeeded", run.get("reasons")
    assert any(r.startswith("knowledge.layer1_sae sha256=") for r in run["ledger"]["reads"])
    assert 0.0 <= run["metrics"]["accuracy"] <= 1.0

    with pytest.raises(SpecError, match="sae_probe' cannot run under these rules: it needs knowledge 'layer1_sae'"):
        load_spec(tmp_path / "spec.yaml", overrides=["rules.knowledge={}"])  # validate refuses it
    with pytest.raises(CannotRun, match="knowledge 'missing'"):  # and so does the plan
        uses(spec, {"params": {"sae": "missing"}})
