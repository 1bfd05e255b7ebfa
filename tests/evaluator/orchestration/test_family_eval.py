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


SEARCH = """
fairfight: 1
task: {{name: search-test}}
model: {{source: "path:{model}"}}
datasets:
  bios: {{source: builtin:synthetic_bios, options: {{size: 60, test_size: 40}}}}
splits:
  train: {{from: bios/train}}
  test: {{from: bios/test, role: evaluation}}
evaluate: {{split: test, target: profession, metrics: [accuracy], seeds: 1}}
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
    cue: {{path: datasets.bios.options.lexical_share, values: [1.0, 0.0]}}
  search: {{path: datasets.bios.options.seed, discovery: [1, 2], confirmation: [7]}}
claims:
  - deleting matches probe on accuracy within 0.9 in some member
  # only the picked member is confirmed: one of these two has no member in range there (invalid),
  # which must not stop the search from judging its own claim
  - deleting matches probe on accuracy within 0.9 in members where cue == 0
  - deleting matches probe on accuracy within 0.9 in members where cue == 1
"""


def test_search_confirms_on_fresh_seeds_only(tmp_path, bert_dir):
    from runner_fixtures import cli_here

    (tmp_path / "methods.py").write_text(METHODS)
    spec = tmp_path / "spec.yaml"
    spec.write_text(SEARCH.format(model=bert_dir))
    out = tmp_path / "search"
    r = cli_here("search", str(spec), "--out", str(out), "--cache", str(tmp_path / "cache"), "--no-progress")
    assert r.returncode in (0, 1), r.stdout + r.stderr
    record = json.loads((out / "search.json").read_text())
    assert record["discovery"]["seeds"] == [1, 2] and record["confirmation"]["seeds"] == [7]
    discovery = json.loads((out / "discovery" / "family.json").read_text())
    confirmation = json.loads((out / "confirmation" / "family.json").read_text())
    seen = {m["values"]["data_seed"] for m in discovery["members"]}
    fresh = {m["values"]["data_seed"] for m in confirmation["members"]}
    assert seen == {1, 2} and fresh == {7} and not seen & fresh  # the confirmation never reuses a discovery seed
    picked = [p["member"] for p in record["picks"][SEARCH_CLAIM]]
    assert len(picked) == 1 and [m["name"] for m in confirmation["members"]] == [f"{picked[0]},data_seed=7"]
    for m in confirmation["members"]:  # the member's data really is drawn at the fresh seed
        results = json.loads((out / "confirmation" / m["bundle"] / "provenance.json").read_text())
        assert '"seed": 7' in json.dumps(results["data"])
    (verdict,) = record["verdicts"]
    assert verdict["claim"] == SEARCH_CLAIM and verdict["verdict"] == "supported"  # within 0.9 of accuracy: holds


SEARCH_CLAIM = "deleting matches probe on accuracy within 0.9 in some member"


PROBE = """<script>
(() => {
  const box = el => { const r = el.getBoundingClientRect(); return {w: r.width, h: r.height}; };
  const out = {text: document.body.innerText,
               cells: [...document.querySelectorAll('table.heatmap td.cell')].map(e => ({...box(e),
                        colour: getComputedStyle(e).backgroundColor, text: e.innerText})),
               charts: [...document.querySelectorAll('svg')].map(e => ({...box(e),
                        marks: e.querySelectorAll('path, line').length})),
               links: [...document.querySelectorAll('a')].map(a => a.getAttribute('href'))};
  const pre = document.createElement('pre');
  pre.id = 'fairfight-probe';
  pre.textContent = JSON.stringify(out);
  document.documentElement.appendChild(pre);
})();
</script>"""


def test_a_reader_sees_the_heatmap_the_curves_and_the_member_links_in_chromium(family, tmp_path):
    import html as html_lib
    import re

    from chromium_kit import chromium, console_errors

    spec, out, cache, r = family
    page = out / "probe.html"  # beside the report, so its links resolve as the reader's do
    page.write_text((out / "report.html").read_text().replace("</body>", PROBE + "</body>"))
    try:
        r = chromium(tmp_path, "--dump-dom", "--window-size=1400,3000", page.as_uri())
    finally:
        page.unlink()
    found = re.search(r'<pre id="fairfight-probe">(.*?)</pre>', r.stdout, re.S)
    assert found, r.stderr[-2000:]
    seen = json.loads(html_lib.unescape(found.group(1)))
    assert "deleting beats probe on accuracy in some member" in seen["text"]
    assert len(seen["cells"]) == 4 and all(c["w"] > 40 and c["h"] > 20 for c in seen["cells"])  # 2 claims x 2 members
    assert all(("passes" in c["text"]) or ("fails" in c["text"]) or ("open" in c["text"]) for c in seen["cells"])
    assert seen["charts"] and all(c["w"] > 200 and c["marks"] > 5 for c in seen["charts"])
    for href in ("members/words=subject/report.html", "members/words=object/report.html"):
        assert href in seen["links"] and (out / href).is_file()
    assert not console_errors(r.stderr), console_errors(r.stderr)


def test_a_family_packs_into_one_archive_that_audits_and_reports_elsewhere(family, tmp_path):
    """pack takes a family bundle (every member's bundle and spec files); audit and report take the
    archive with the spec folder gone; an edited member inside the archive is a finding."""
    import hashlib
    import io
    import shutil
    import tarfile

    from runner_fixtures import cli_here

    spec, out, cache, r = family
    copy = tmp_path / "task"  # a copy of the spec's folder with its bundle, so the fixture's stays intact
    shutil.copytree(spec.parent, copy, ignore=shutil.ignore_patterns("cache"))
    packed = cli_here("pack", str(copy / "bundle"), "-o", str(tmp_path / "family.tar.gz"))
    assert packed.returncode == 0, packed.stdout + packed.stderr
    archive = tmp_path / "family.tar.gz"
    assert f"sha256 {hashlib.sha256(archive.read_bytes()).hexdigest()}" in packed.stdout
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        info = json.loads(tar.extractfile("pack.json").read())
    assert info["family"] is True and info["spec"] == "spec.yaml"
    assert {"bundle/family.json", "bundle/MANIFEST.json", "bundle/report.html", "spec/spec.yaml", "spec/methods.py",
            "spec/bios.jsonl"} <= names
    for member in json.loads((out / "family.json").read_text())["members"]:
        assert f"bundle/{member['bundle']}/results.json" in names
    shutil.rmtree(copy)
    reviewer = tmp_path / "reviewer"
    reviewer.mkdir()
    audit = cli_here("audit", str(archive))
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "clean" in audit.stdout
    report = cli_here("report", str(archive), "--out", str(reviewer / "report"))
    assert report.returncode == 0, report.stdout + report.stderr
    assert (reviewer / "report" / "report.html").is_file()
    assert (reviewer / "report" / "members" / "words=object" / "report.html").is_file()  # the family's links land
    # one member's predictions edited inside the archive, pack.json's hash updated to match: the audit
    # must still catch it (the MANIFEST and the recomputed metrics)
    edited = tmp_path / "edited.tar.gz"
    with tarfile.open(archive) as tar, tarfile.open(edited, "w:gz") as new:
        files = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}
        target = next(n for n in files if n.startswith("bundle/members/words=object/runs/") and n.endswith("predictions.jsonl"))
        rows = [json.loads(line) for line in files[target].decode().splitlines()]
        for row in rows:
            row["prediction"] = "professor" if row["prediction"] == "nurse" else "nurse"
        files[target] = "".join(json.dumps(row) + "\n" for row in rows).encode()
        meta = json.loads(files["pack.json"])
        meta["files"][target] = hashlib.sha256(files[target]).hexdigest()
        files["pack.json"] = json.dumps(meta).encode()
        for name, data in sorted(files.items()):
            entry = tarfile.TarInfo(name)
            entry.size = len(data)
            new.addfile(entry, io.BytesIO(data))
    caught = cli_here("audit", str(edited))
    assert caught.returncode == 1, caught.stdout + caught.stderr
    assert "member words=object" in caught.stdout and "Traceback" not in caught.stderr


def _member_metrics(out):
    data = json.loads((out / "family.json").read_text())
    return {m["name"]: {(run["label"], run["seed"]): (run["status"], run["metrics"])
                        for run in json.loads((out / m["bundle"] / "results.json").read_text())["runs"]}
            for m in data["members"]}, [v["verdict"] for v in data["verdicts"]]


@pytest.mark.parametrize("name", ["slurm", "ray"])
def test_a_family_runs_on_a_cluster_with_the_same_results(family, tmp_path, name):
    """A member x contender x seed is a job like any other: Slurm (submitit's local cluster) and a
    real local Ray give every member the local executor's results, the shared run computed once."""
    from test_executors import EXECUTORS
    from test_runner import eval_cli

    spec, out, cache, r = family
    cluster = tmp_path / name
    run = eval_cli(str(spec), "--out", str(cluster), "--cache", str(tmp_path / "cache"), *EXECUTORS[name],
                   "--no-progress")
    assert run.returncode in (0, 1), run.stdout + run.stderr
    assert _member_metrics(cluster) == _member_metrics(out)
    assert json.loads((cluster / "family.json").read_text())["shared_runs"] == 1
    assert len([p for p in (tmp_path / "cache" / "runs").iterdir() if p.is_dir()]) == 3
    for member in json.loads((cluster / "family.json").read_text())["members"]:
        runs = json.loads((cluster / member["bundle"] / "results.json").read_text())["runs"]
        assert {x["model_access"] for x in runs} == {"server"}
