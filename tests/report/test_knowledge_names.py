"""One name per knowledge item everywhere: a granted artifact that a method reads is one item in
results.json, report.md, the report.html matrix and the audit, and never 'beyond the rules'."""
import hashlib
import json
import subprocess
import sys

from matrix_parser import read_matrix
from runner_fixtures import eval_here, write_fight

READER = '''
from fairfight import method


@method
def reads_notes(ctx):
    assert "lecture" in ctx.knowledge["notes"]
    return ctx.predictors.constant("nurse")
'''


def test_a_granted_artifact_has_one_name_everywhere(tmp_path, bert_dir):
    spec = write_fight(tmp_path, bert_dir, {}, seeds=1)
    (tmp_path / "notes.txt").write_text("nurses care; professors lecture")
    digest = hashlib.sha256((tmp_path / "notes.txt").read_bytes()).hexdigest()
    (tmp_path / "reader.py").write_text(READER)
    text = spec.read_text().replace("  budget: {examples: 2000}",
                                    f"  knowledge: {{notes: {{artifact: notes.txt, sha256: {digest}}}}}\n"
                                    "  budget: {examples: 2000}")
    text += ("  reads_notes: {run: reader.py:reads_notes, uses: {model: [embed], data: {train: [text]}, "
             "knowledge: [notes]}}\n")
    spec.write_text(text)
    out = tmp_path / "bundle"
    r = eval_here(str(spec), "--out", str(out), "--workers", "1", "--no-progress")
    assert r.returncode in (0, 1), r.stderr
    results = json.loads((out / "results.json").read_text())
    (run,) = results["runs"]
    assert run["status"] == "succeeded", run
    reads = run["ledger"]["reads"]
    assert [k for k in reads if k.startswith("knowledge.")] == ["knowledge.notes"]
    assert reads["knowledge.notes"]["sha256"] == digest

    md = (out / "report.md").read_text()
    affordances = md.split("## Affordances")[1].split("\n## ")[0]
    (row,) = [line for line in affordances.splitlines() if line.startswith("| reads_notes |")]
    used, unused = [cell.strip() for cell in row.strip("|").split("|")][2:4]
    assert "notes" in used and "notes" not in unused, row
    assert "sha256" not in affordances and "†" not in md

    matrix = read_matrix((out / "report.html").read_text())
    columns = [c for c in matrix["reads_notes"] if "notes" in c]
    assert columns == ["notes"], columns
    cell = matrix["reads_notes"]["notes"]
    assert cell["text"] == "used" and "†" not in cell["text"] and "beyond" not in cell["title"], cell

    audit = subprocess.run([sys.executable, "-m", "fairfight.cli", "audit", str(out), "--format", "json"],
                           capture_output=True, text=True, timeout=300)
    report = json.loads(audit.stdout)
    (reader,) = report["contenders"]
    assert reader["granted"]["knowledge"] == ["notes"] and reader["used"]["knowledge"] == ["notes"]
    assert not any("knowledge" in d for d in reader["granted"]["data"] + reader["used"]["data"])
    assert audit.returncode == 0, report["findings"]
