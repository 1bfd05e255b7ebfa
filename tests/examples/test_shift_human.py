"""shift_human on the real bios example: the shipped SAE and the selection made from its feature
cards (examples/bios/saes/), granted as knowledge; its verdicts say it used human judgement."""
import json
from pathlib import Path

from runner_fixtures import eval_here

ROOT = Path(__file__).resolve().parents[2]


def test_shift_human_reads_the_granted_sae_and_selection_and_is_named_human_judgement(tmp_path):
    from fairfight.knowledge import artifact_sha256
    from fairfight.selection import read_selection

    saes = ROOT / "examples/bios/saes"
    selection = read_selection(saes / "gender_latents.json")
    assert selection.sae_sha256 == artifact_sha256(saes / "minilm-l4") and selection.layer == 4
    out = tmp_path / "bundle"
    r = eval_here(str(ROOT / "examples/bios/offline.yaml"), "--out", str(out),
                  "--set", "splits.ambiguous.limit=300", "--set", "splits.test.limit=200",
                  "--set", "rules.budget.trials=1", "--set", "controls=[]",
                  "--set", "claims=['shift_human beats finetune_head on worst_group_accuracy']",
                  "--set", "baselines=[finetune_head]", "--only", "shift_human", "--only", "finetune_head",
                  "--seeds", "1", "--no-progress")
    assert r.returncode in (0, 1), r.stdout[-3000:] + r.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    (run,) = [x for x in results["runs"] if x["name"] == "shift_human"]
    assert run["status"] == "succeeded", run
    reads = run["ledger"]["reads"]
    assert f"knowledge.gender_sae sha256={selection.sae_sha256}" in reads and "knowledge.gender_latents" in reads
    assert results["rules"]["judgement"]["gender_latents"].startswith(f"{len(selection.latents)} SAE latents at layer 4 "
                                                                      "chosen by an AI assistant")
    (verdict,) = results["verdicts"]
    assert [u["affordance"] for u in verdict["unmatched"]] == ["knowledge.gender_latents"]
    report = (out / "report.md").read_text()
    assert "human judgement: knowledge.gender_latents" in report and "gender_latents (human judgement)" in report
    assert "an affordance no baseline has" in (out / "report.html").read_text()
    # the reviewer's audit recomputes the verdicts, with the human-judgement item, from the spec
    from fairfight.audit import run_audit

    audit = run_audit(out)
    assert not [f for f in audit.findings if f.kind in ("verdicts", "uses", "integrity")], audit.findings
    iv = results["intervals"]
    # the ablation changes what the head sees: its predictions track gender less than plain ERM's
    assert iv["shift_human"]["leakage(gender)"]["mean"] < iv["finetune_head"]["leakage(gender)"]["mean"]
