"""`fairfight pack`: one archive to publish; audit and report accept it; a changed byte is a finding.
Also what a published bundle says about itself: each evaluation example's input beside its label,
predictions that line up with it by index, files named relative to the spec's folder."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from runner_fixtures import eval_here, write_fight

FIGHT = {"probe": "uses: {model: [activations], data: {train: [text, profession]}}",
         "always_nurse": "uses: {data: {train: [profession]}}"}


def ff(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "fairfight.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})


@pytest.fixture(scope="module")
def made(tmp_path_factory, bert_dir):
    """A finished bundle of a small fight (its spec in its own folder), made once for this file."""
    root = tmp_path_factory.mktemp("pack")
    os.environ["FAIRFIGHT_CACHE"] = str(root / "cache")
    spec = write_fight(root / "task", bert_dir, FIGHT, seeds=2)
    r = eval_here(str(spec), "--out", str(root / "bundle"), "--no-progress")
    assert r.returncode in (0, 1), r.stderr
    return root, spec


def test_the_bundle_explains_itself(made):
    root, spec = made
    bundle = root / "bundle"
    rows = [json.loads(line) for line in (bundle / "evaluation.jsonl").read_text().splitlines()]
    source = [json.loads(line) for line in (root / "task" / "bios.jsonl").read_text().splitlines()]
    test_texts = {r["text"] for r in source if r.get("split") == "test"} or {r["text"] for r in source}
    assert rows and all({"index", "text", "profession", "gender"} <= set(r) for r in rows)
    assert [r["index"] for r in rows] == list(range(len(rows)))
    assert {r["text"] for r in rows} <= test_texts  # the inputs themselves, not only the labels
    results = json.loads((bundle / "results.json").read_text())
    for run in results["runs"]:
        predictions = [json.loads(line) for line in (bundle / "runs" / run["key"] / "predictions.jsonl").read_text().splitlines()]
        assert [p["index"] for p in predictions] == [r["index"] for r in rows]
    always = next(r for r in results["runs"] if r["label"] == "always_nurse")
    predictions = [json.loads(line) for line in (bundle / "runs" / always["key"] / "predictions.jsonl").read_text().splitlines()]
    accuracy = sum(p["prediction"] == r["profession"] for p, r in zip(predictions, rows)) / len(rows)
    assert accuracy == pytest.approx(always["metrics"]["accuracy"])
    html = (bundle / "report.html").read_text()
    assert 'id="examples"' in html and "always_nurse" in html.split('id="examples"')[1]
    first_wrong = next(r for r in rows if r["profession"] != "nurse")
    assert first_wrong["text"][:40].replace("&", "&amp;").replace("'", "&#39;") in html  # its input, shown
    # names relative to the spec's folder, with hashes: nothing of the author's machine
    provenance = json.loads((bundle / "provenance.json").read_text())
    assert results["spec"] == "spec.yaml" and provenance["spec"]["file"] == "spec.yaml"
    assert provenance["spec"]["folder_from_bundle"] == "../task"
    files = {f["path"]: f for f in provenance["spec"]["files"]}
    assert files["methods.py"]["what"] == "method" and files["bios.jsonl"]["what"] == "data"
    assert len(files["bios.jsonl"]["sha256"]) == 64
    for name in ("results.json", "provenance.json", "report.md", "report.html"):
        assert str(root) not in (bundle / name).read_text(), name
    assert not [p for p in bundle.iterdir() if p.name.startswith(".")]  # no cache inside


def test_pack_then_audit_the_archive_elsewhere(made, tmp_path):
    root, spec = made
    r = ff("pack", str(root / "bundle"), "-o", str(tmp_path / "paper.tar.gz"))
    assert r.returncode == 0, r.stderr
    archive = tmp_path / "paper.tar.gz"
    import hashlib

    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert f"sha256 {digest}" in r.stdout
    again = ff("pack", str(root / "bundle"), "-o", str(tmp_path / "again.tar.gz"))
    assert hashlib.sha256((tmp_path / "again.tar.gz").read_bytes()).hexdigest() == digest  # deterministic
    import tarfile

    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {"pack.json", "bundle/results.json", "bundle/MANIFEST.json", "bundle/evaluation.jsonl",
            "spec/spec.yaml", "spec/methods.py", "spec/bios.jsonl"} <= names
    # on another folder, with the bundle and the spec's folder gone
    elsewhere = tmp_path / "reviewer"
    elsewhere.mkdir()
    moved = shutil.move(str(archive), str(elsewhere / "paper.tar.gz"))
    gone = root / "gone"
    shutil.move(str(root / "bundle"), str(gone / "bundle"))
    shutil.move(str(root / "task"), str(gone / "task"))
    try:
        audit = ff("audit", "paper.tar.gz", cwd=elsewhere)
        assert audit.returncode == 0, audit.stdout + audit.stderr
        assert "clean" in audit.stdout and digest in audit.stdout
        report = ff("report", "paper.tar.gz", cwd=elsewhere)
        assert report.returncode == 0, report.stderr
        assert (elsewhere / "paper-report" / "report.html").read_text().startswith("<!DOCTYPE html>")
        # a changed byte anywhere in the archive is a finding, not a crash
        data = bytearray((elsewhere / "paper.tar.gz").read_bytes())
        data[len(data) // 2] ^= 0x01
        (elsewhere / "bad.tar.gz").write_bytes(bytes(data))
        bad = ff("audit", "bad.tar.gz", cwd=elsewhere)
        assert bad.returncode == 1, bad.stdout + bad.stderr
        assert "[integrity]" in bad.stdout and "Traceback" not in bad.stderr
        # --rerun without the model and data at hand says exactly what it needs, with hashes
        data_sha = json.loads((gone / "bundle" / "provenance.json").read_text())["spec"]["files"]
        data_sha = next(f["sha256"] for f in data_sha if f["path"] == "bios.jsonl")
        (gone / "task").rename(gone / "task-moved")
        rerun = ff("audit", str(gone / "bundle"), "--rerun", "1")
        assert rerun.returncode == 1
        line = next(x for x in rerun.stdout.splitlines() if "[rerun]" in x)
        assert "data file bios.jsonl" in line and data_sha in line
    finally:
        for name in ("bundle", "task"):
            if (gone / name).exists():
                shutil.move(str(gone / name), str(root / name))
        if (gone / "task-moved").exists():
            shutil.move(str(gone / "task-moved"), str(root / "task"))
    assert moved


def test_pack_refuses_what_is_not_a_finished_bundle(tmp_path):
    (tmp_path / "empty").mkdir()
    r = ff("pack", str(tmp_path / "empty"))
    assert r.returncode == 2 and "not a fairfight bundle" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "notes.txt").write_text("hello")
    for command in ("audit", "report"):
        r = ff(command, str(tmp_path / "notes.txt"))
        assert r.returncode == 2 and "Traceback" not in r.stderr, (command, r.stderr)


def test_a_method_outside_the_specs_folder_is_packed_in_its_place(made, tmp_path):
    """A spec whose methods lie beside its folder (`run: ../code/methods.py:...`, as the bios example
    does) packs them too, keeping their relative place, and the archive audits clean."""
    root, spec = made
    task, code = tmp_path / "paper" / "task", tmp_path / "paper" / "code"
    shutil.copytree(spec.parent, task)
    code.mkdir()
    (task / "methods.py").rename(code / "methods.py")
    moved = task / spec.name
    moved.write_text(moved.read_text().replace("run: methods.py:", "run: ../code/methods.py:"))
    r = ff("pack", str(root / "bundle"), "--spec", str(moved), "-o", str(tmp_path / "paper.tar.gz"))
    assert r.returncode == 0, r.stdout + r.stderr
    import tarfile

    with tarfile.open(tmp_path / "paper.tar.gz") as tar:
        names = set(tar.getnames())
    assert {f"spec/task/{spec.name}", "spec/code/methods.py"} <= names and "left out" not in r.stdout
    shutil.rmtree(tmp_path / "paper")
    audit = ff("audit", str(tmp_path / "paper.tar.gz"), cwd=tmp_path)
    assert "[integrity]" not in audit.stdout, audit.stdout
