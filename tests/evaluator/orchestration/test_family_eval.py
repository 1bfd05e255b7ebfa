"""`fairfight eval` of a family end to end on a tiny real model: one bundle per member, a run two
members share computed once (the cache holds one entry for it), claims over the members judged
with Holm, the family report, `plan`, and the family audit (clean, then a tampered member)."""
import json

import pytest

from fairfight.evaluator.judgement.family import holm

from runner_fixtures import eval_here
from testkit import write_bios

METHODS = '''
import re
from fairfight import method


@method
def probe(ctx):
    train = ctx.data["train"]
    return ctx.predictors.probe(ctx.model, train.texts, train["profession"])


@method
def deleting(ctx):
    words = {w.lower() for w in ctx.knowledge["concept"]}
    train = ctx.data["train"]
    texts = [" ".join(w for w in t.split() if re.sub("[^a-z]", "", w.lower()) not in words) for t in train.texts]
    return ctx.predictors.probe(ctx.model, texts, train["profession"])
'''

SPEC = """
fairfight: 1
task: {{name: family-test}}
model: {{source: "path:{model}"}}
datasets:
  bios: {{source: jsonl:bios.jsonl, split_column: split}}
splits:
  train: {{from: bios/train}}
  test: {{from: bios/test, role: evaluation}}
evaluate: {{split: test, target: profession, groups: [profession, gender], metrics: [accuracy], seeds: 1}}
rules:
  model: [embed]
  data: {{train: [text, profession]}}
  knowledge: {{concept: [he, she]}}
  budget: {{examples: 5000}}
methods:
  probe: {{run: methods.py:probe, uses: {{model: [embed], data: {{train: [text, profession]}}}}}}
  deleting:
    run: methods.py:deleting
    uses: {{model: [embed], data: {{train: [text, profession]}}, knowledge: [concept]}}
family:
  axes:
    words:
      path: rules.knowledge.concept
      values: [[he, she], [his, her, him]]
      labels: [subject, object]
claims:
  - deleting beats probe on accuracy in some member
  - deleting matches probe on accuracy within 0.5 in every member
  - probe beats deleting on accuracy
"""


@pytest.fixture(scope="module")
def family(tmp_path_factory, bert_dir):
    folder = tmp_path_factory.mktemp("family")
    write_bios(folder / "bios.jsonl", 60, 40, 3)
    (folder / "methods.py").write_text(METHODS)
    spec = folder / "spec.yaml"
    spec.write_text(SPEC.format(model=bert_dir))
    cache = folder / "cache"
    out = folder / "bundle"
    r = eval_here(str(spec), "--out", str(out), "--cache", str(cache), "--no-progress")
    return spec, out, cache, r


def test_every_member_gets_its_own_bundle_and_the_family_its_verdicts(family):
    spec, out, cache, r = family
    assert r.returncode in (0, 1), r.stdout + r.stderr
    data = json.loads((out / "family.json").read_text())
    assert data["format"] == "fairfight-family"
    assert [m["name"] for m in data["members"]] == ["words=subject", "words=object"]
    for m in data["members"]:
        results = json.loads((out / m["bundle"] / "results.json").read_text())
        assert results["member"]["name"] == m["name"]
        assert results["claims"] == ["probe beats deleting on accuracy"]  # the ranged ones are the family's
        assert results["counts"]["succeeded"] == 2 and results["counts"]["failed"] == 0
        assert (out / m["bundle"] / "report.html").is_file()
    some, every = data["verdicts"]
    assert some["quantifier"] == "some" and every["quantifier"] == "every"
    assert [t["p_holm"] for t in some["members"]] == pytest.approx(holm([t["p_support"] for t in some["members"]]))
    assert every["verdict"] == "supported"  # within 0.5 on a 40-row test: both members


def test_a_run_no_axis_changes_is_computed_once(family):
    spec, out, cache, r = family
    data = json.loads((out / "family.json").read_text())
    assert data["shared_runs"] == 1
    keys = {}
    for m in data["members"]:
        results = json.loads((out / m["bundle"] / "results.json").read_text())
        keys[m["name"]] = {run["label"]: run["key"] for run in results["runs"]}
    assert keys["words=subject"]["probe"] == keys["words=object"]["probe"]  # not granted the axis's knowledge
    assert keys["words=subject"]["deleting"] != keys["words=object"]["deleting"]
    assert len([p for p in (cache / "runs").iterdir() if p.is_dir()]) == 3  # computed runs: probe once, deleting twice
    assert "1 run(s) computed once for several members" in r.stderr


def test_the_family_report_links_every_member(family):
    spec, out, cache, r = family
    html = (out / "report.html").read_text()
    assert 'href="members/words=subject/report.html"' in html and "<svg" in html
    assert "deleting beats probe on accuracy in some member" in html
    md = (out / "report.md").read_text()
    assert "Holm p" in md and "words=object" in md


def test_plan_lists_the_members_and_counts_shared_runs_once(family, capsys):
    from fairfight.commands.eval import EvalOptions, run_plan

    spec, out, cache, r = family
    assert run_plan(EvalOptions(str(spec))) == 0
    text = capsys.readouterr().out
    assert "2 members" in text and "words=object: 2 runs (1 shared with members above)" in text
    assert "total: 3 distinct runs" in text


def test_the_family_audit_is_clean_then_catches_a_tampered_member(family, tmp_path):
    import shutil

    from fairfight.audit.family import run_family_audit

    spec, out, cache, r = family
    audit = run_family_audit(out)
    assert audit.clean, [f.message for f in audit.findings]
    assert len(audit.verdicts) == 2
    copy = tmp_path / "bundle"
    shutil.copytree(out, copy)
    (copy / "spec.yaml").write_text((out / "spec.yaml").read_text())
    member = copy / "members" / "words=object"
    results = json.loads((member / "results.json").read_text())
    run = next(x for x in results["runs"] if x["label"] == "deleting")
    path = member / "runs" / run["key"] / "predictions.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows:
        row["prediction"] = "professor" if row["prediction"] == "nurse" else "nurse"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    tampered = run_family_audit(copy, spec_path=spec)
    messages = [f.message for f in tampered.findings]
    assert any("edited file: members/words=object/runs/" in m for m in messages), messages
    assert any(m.startswith("member words=object:") for m in messages), messages


def test_family_holm_arithmetic_is_checked_from_family_json(family, tmp_path):
    import shutil

    from fairfight.audit.family import run_family_audit
    from fairfight.evaluator.orchestration.bundle import write_manifest

    spec, out, cache, r = family
    copy = tmp_path / "bundle"
    shutil.copytree(out, copy)
    data = json.loads((copy / "family.json").read_text())
    data["verdicts"][0]["members"][0]["p_holm"] = 0.0001  # a smaller correction than Holm allows
    (copy / "family.json").write_text(json.dumps(data))
    write_manifest(copy)  # resealed: only the arithmetic can tell
    audit = run_family_audit(copy, spec_path=spec)
    assert any("Holm p is 0.0001" in f.message for f in audit.findings), [f.message for f in audit.findings]
