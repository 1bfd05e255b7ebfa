"""The caveat on 'METHOD beats all baselines': the affordances no required baseline uses, in
results.json, report.md, report.html and the terminal summary, or the spec's reason instead."""
import json
from pathlib import Path

import jsonschema

from runner_fixtures import eval_here, write_fight

SCHEMA = Path(__file__).resolve().parents[3] / "schema" / "results.schema.json"


def _audit(bundle):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "fairfight.cli", "audit", str(bundle)], capture_output=True, text=True,
                          timeout=300)


def test_beats_all_baselines_carries_the_unmatched_affordances_or_the_stated_reason(tmp_path, bert_dir):
    spec = write_fight(tmp_path, bert_dir, {"always_nurse": "uses: {data: {train: [profession]}, "
                                                            "knowledge: [spurious_concept]}"}, seeds=1)
    text = spec.read_text().replace("budget: {examples: 2000}", "knowledge: {spurious_concept: gender}\n"
                                                                "  budget: {examples: 2000}")
    spec.write_text(text + "baselines: [majority]\nclaims:\n  - always_nurse beats all baselines on accuracy\n"
                           "  - always_nurse beats majority on accuracy\n")
    out = tmp_path / "bundle"
    r = eval_here(str(spec), "--out", str(out), "--no-progress", "--executor", "inline")
    assert r.returncode in (0, 1), r.stdout + r.stderr
    results = json.loads((out / "results.json").read_text())
    assert not list(jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).iter_errors(results))
    all_baselines, pairwise = results["verdicts"]
    assert all_baselines["unmatched"] == [{"affordance": "knowledge.spurious_concept", "reason": None,
                                           "suggestion": "add token_deletion or concept_bottleneck "
                                                         "(params: {knowledge: spurious_concept})"}]
    assert "unmatched" not in pairwise  # the caveat is about "beats all baselines"
    report = (out / "report.md").read_text()
    assert "**Caveat:** unmatched affordances: knowledge.spurious_concept (no required baseline uses them" in report
    assert "unmatched affordances: knowledge.spurious_concept" in (out / "report.html").read_text()
    assert "unmatched affordances: knowledge.spurious_concept" in r.stdout
    audit = _audit(out)
    assert "unmatched affordances: knowledge.spurious_concept" in " ".join(audit.stdout.split())
    assert "lists unmatched affordances" not in " ".join(audit.stdout.split())
    edited = json.loads((out / "results.json").read_text())
    edited["verdicts"][0]["unmatched"] = []  # a bundle whose caveat was dropped
    (out / "results.json").write_text(json.dumps(edited))
    audit = _audit(out)
    assert audit.returncode == 1 and ("results.json lists unmatched affordances none, the spec gives "
                                      "knowledge.spurious_concept") in " ".join(audit.stdout.split())

    # the same bundle with the reason stated: every run is reused, and the reason replaces the warning
    r = eval_here(str(spec), "--out", str(out), "--no-progress", "--executor", "inline", "--set",
                 "methods.always_nurse.unmatched={knowledge.spurious_concept: 'never read, only declared'}")
    assert r.returncode in (0, 1), r.stdout + r.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["verdicts"][0]["unmatched"][0]["reason"] == "never read, only declared"
    report = (out / "report.md").read_text()
    assert "unmatched affordances" not in report
    assert "unmatched by design, as the spec states: knowledge.spurious_concept: never read, only declared" in report
