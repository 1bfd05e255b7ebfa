"""fairfight audit catches edited predictions and metrics, deleted runs, added files, refused
baselines; recomputes verdicts; re-executes runs."""
import json
from pathlib import Path
import shutil
import subprocess
import sys

import pytest

from runner_fixtures import eval_here, write_fight

EXTRA = """baselines: [majority, finetune_head]
controls: [shuffled_labels]
claims:
  - probe beats majority on accuracy
  - probe beats all baselines on worst_group_accuracy
"""


def audit_cli(*args):
    r = subprocess.run([sys.executable, "-m", "fairfight.cli", "audit", *map(str, args)], capture_output=True,
                       text=True, timeout=600)
    assert "Traceback" not in r.stderr, r.stderr
    return r


def make_bundle(folder, bert_dir, budget="examples: 2000"):
    spec = write_fight(folder, bert_dir, {"probe": "uses: {model: [activations], data: {train: [text, profession]}}"},
                       seeds=2)
    spec.write_text(spec.read_text().replace("budget: {examples: 2000}", "budget: {" + budget + "}") + EXTRA)
    out = folder / "bundle"
    r = eval_here(str(spec), "--out", str(out), "--no-progress")
    return out, r


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, bert_dir):
    out, r = make_bundle(tmp_path_factory.mktemp("audit"), bert_dir)
    assert r.returncode in (0, 1), r.stderr
    return out


@pytest.fixture
def copy(bundle, tmp_path):
    """A copy of the bundle beside it: provenance.json names the spec's folder relative to the bundle
    (a published bundle names nothing on the author's machine), so the copy finds the same spec."""
    dst = bundle.parent / f"copy-{tmp_path.name}"
    shutil.copytree(bundle, dst)
    yield dst
    shutil.rmtree(dst, ignore_errors=True)


def findings(r):
    return [f["message"] for f in json.loads(r.stdout)["findings"]]


def test_a_fresh_bundle_is_clean_and_verdicts_recompute(bundle):
    r = audit_cli(bundle, "--format", "json")
    assert r.returncode == 0, r.stdout
    out = json.loads(r.stdout)
    recorded = json.loads((bundle / "results.json").read_text())["verdicts"]
    assert [v["verdict"] for v in out["verdicts"]] == [v["verdict"] for v in recorded]
    probe = [c for c in out["contenders"] if c["label"] == "probe"][0]
    assert probe["used"]["model"] == ["activations"] and probe["declared"] is True
    text = audit_cli(bundle)
    assert text.returncode == 0 and "clean" in text.stdout


def test_edited_prediction(copy):
    run = json.loads((copy / "results.json").read_text())["runs"][0]
    path = copy / "runs" / run["key"] / "predictions.jsonl"
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    rows[0]["prediction"] = "nurse" if rows[0]["prediction"] != "nurse" else "professor"
    path.write_text("".join(json.dumps(x) + "\n" for x in rows))
    r = audit_cli(copy, "--format", "json")
    assert r.returncode == 1
    messages = findings(r)
    assert f"edited file: runs/{run['key']}/predictions.jsonl (its sha256 differs from the manifest)" in messages
    assert any(m.startswith(f"{run['label']} seed {run['seed']}: accuracy is") for m in messages)


def test_edited_metric_in_results(copy):
    results = json.loads((copy / "results.json").read_text())
    results["runs"][0]["metrics"]["accuracy"] = 0.99
    (copy / "results.json").write_text(json.dumps(results))
    messages = findings(audit_cli(copy, "--format", "json"))
    assert "edited file: results.json (its sha256 differs from the manifest)" in messages
    assert any("accuracy is 0.99 in results.json, but" in m for m in messages)


def test_deleted_run(copy):
    results = json.loads((copy / "results.json").read_text())
    victim = [r for r in results["runs"] if r["label"] == "majority"][0]
    shutil.rmtree(copy / "runs" / victim["key"])
    messages = findings(audit_cli(copy, "--format", "json"))
    assert f"missing file: runs/{victim['key']}/record.json" in messages
    assert any(m.startswith("majority seed") and "predictions are missing" in m for m in messages)


def test_added_file(copy):
    (copy / "runs" / "extra.txt").write_text("hello")
    assert findings(audit_cli(copy, "--format", "json")) == ["added file: runs/extra.txt (not in the manifest)"]


def test_runs_left_by_an_earlier_spec_in_the_same_out_are_named(copy, bundle):
    """An eval into a reused --out after the spec changed (here: one seed fewer) keeps the old
    runs for reuse and seals them in the manifest; audit says they are not part of the results."""
    before = {p.name for p in (copy / "runs").iterdir()}
    r = eval_here(str(bundle.parent / "spec.yaml"), "--set", "evaluate.seeds=1", "--out", str(copy), "--no-progress")
    assert r.returncode in (0, 1), r.stderr
    results = json.loads((copy / "results.json").read_text())
    stale = before - {x["key"] for x in results["runs"]}
    assert stale and all(x["seed"] == 0 for x in results["runs"])
    messages = findings(audit_cli(copy, "--format", "json"))
    assert len(messages) == 1 and messages[0].startswith(f"{len(stale)} run folder(s) under runs/ belong to no run"), messages
    for key in stale:
        shutil.rmtree(copy / "runs" / key)
    assert [m for m in findings(audit_cli(copy, "--format", "json")) if "belong to no run" in m] == []


def test_rerun_reproduces(bundle):
    r = audit_cli(bundle, "--rerun", "1", "--format", "json")
    out = json.loads(r.stdout)
    assert r.returncode == 0, out["findings"]
    assert len(out["reruns"]) == 1 and out["reruns"][0]["result"] == "reproduced"


def test_refused_baseline_is_flagged(tmp_path, bert_dir):
    out, r = make_bundle(tmp_path, bert_dir, budget="examples: 30")
    assert r.returncode == 2  # a refusal
    messages = findings(audit_cli(out, "--format", "json"))
    assert "required baseline 'finetune_head' refused" in messages
    verdicts = json.loads((out / "results.json").read_text())["verdicts"]
    assert all(v["verdict"] == "invalid" for v in verdicts)


def test_not_a_bundle(tmp_path):
    r = audit_cli(tmp_path)
    assert r.returncode == 2 and "not a fairfight bundle" in r.stderr


@pytest.mark.parametrize("damage", [b"\xb7\xff not json", b'{"format": "something else"}', b"[]"])
def test_a_sealed_bundle_with_a_damaged_results_file_is_an_integrity_finding(copy, damage):
    """A byte changed in results.json (a damaged archive, an edit) is what the seal is for: a finding
    and exit 1, not "not a fairfight bundle" (which is for a folder that never was one)."""
    (copy / "results.json").write_bytes(damage)
    r = audit_cli(copy, "--format", "json")
    assert r.returncode == 1, r.stdout + r.stderr
    messages = findings(r)
    assert any("results.json is damaged" in m for m in messages), messages
    assert "edited file: results.json (its sha256 differs from the manifest)" in messages


def test_a_bundle_whose_only_method_was_refused_is_not_clean(tmp_path, bert_dir):
    """The audit and the terminal summary say why: refusals, failures and invalid claims are findings."""
    spec = write_fight(tmp_path, bert_dir, {"ungranted_column": "uses: {data: {train: [text, profession]}}"},
                       cheaters=True, seeds=1)
    spec.write_text(spec.read_text() + "baselines: [majority]\nclaims: [ungranted_column beats majority on accuracy]\n")
    out = tmp_path / "bundle"
    r = eval_here(str(spec), "--out", str(out), "--no-progress")
    assert r.returncode == 2, r.stderr
    reason = "column 'gender' of split 'train' is not granted"
    assert "refused: ungranted_column (1 of 1 runs): " in r.stdout and reason in r.stdout
    audit = audit_cli(out, "--format", "json")
    assert audit.returncode == 1
    messages = findings(audit)
    assert any(m.startswith("ungranted_column refused (1 of 1 runs): ") and reason in m for m in messages), messages
    assert any(m.startswith("claim 'ungranted_column beats majority on accuracy' is invalid: ") for m in messages)
    text = audit_cli(out)
    assert text.returncode == 1 and "clean" not in text.stdout and reason in " ".join(text.stdout.split())


def _in_a_terminal(args, env) -> tuple[int, str]:
    """Run `fairfight ARGS` with its stdout on a pseudo-terminal; (exit code, text without colours)."""
    import os
    import pty
    import re

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "fairfight.cli", *args], stdout=slave, stderr=subprocess.PIPE,
                            env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the terminal's other end is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    proc.wait(timeout=600)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode()).replace("\r\n", "\n")
    return proc.returncode, text


def test_the_text_audit_wraps_between_names_never_inside_one(bundle):
    """In a terminal, lines wrap at its width, between names, under their label."""
    import os

    env = {**os.environ, "COLUMNS": "44"}  # narrow: every granted list must wrap
    code, text = _in_a_terminal(["audit", str(bundle)], env)
    assert code == 0, text
    out = json.loads(audit_cli(bundle, "--format", "json").stdout)
    names = {n for c in out["contenders"] for part in ("granted", "used") for n in c[part]["model"] + c[part]["data"]}
    words = {w.strip(",;") for line in text.splitlines() for w in line.split()}
    assert names and names <= words, names - words  # each name whole on one line
    assert all(len(line) <= 44 for line in text.splitlines())
    assert any(line.startswith("             ") for line in text.splitlines())  # continuations under the label
    for c in out["contenders"]:
        assert f"{c['label']} ({c['role']})" in text


def test_the_text_audit_piped_to_a_file_does_not_wrap(bundle):
    """Not a terminal (a file, a pipe, grep): one line per line, however narrow COLUMNS says it is."""
    import os

    env = {**os.environ, "COLUMNS": "44"}
    r = subprocess.run([sys.executable, "-m", "fairfight.cli", "audit", str(bundle)], capture_output=True, text=True,
                       timeout=600, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(audit_cli(bundle, "--format", "json").stdout)
    lines = r.stdout.splitlines()
    for c in out["contenders"]:
        granted = ", ".join(c["granted"]["model"] + c["granted"]["data"]
                            + [f"knowledge.{k}" for k in c["granted"]["knowledge"]]) or "-"
        assert any(line.startswith("    granted: " + granted) for line in lines), (granted, r.stdout)
    assert any(len(line) > 80 for line in lines)  # long lines stay whole
    assert not any(line and not line[0].isspace() and line.split()[0].rstrip(":") in {"granted", "used", "refused"}
                   for line in lines)  # no continuation at column 0


def tuned_fight(folder, bert_dir, extra_rules: str = "") -> Path:
    """A bundle whose probe was tuned over three layers on a held-out part of 'train'."""
    spec = write_fight(folder, bert_dir, {"probe": "uses: {model: [activations], data: {train: [text, profession]}}, "
                                                   "search: {layer: [0, 1, 2]}"}, seeds=1)
    spec.write_text(spec.read_text().replace(
        "budget: {examples: 2000}", "budget: {examples: 5000, trials: 3}\n  selection: train" + extra_rules))
    out = folder / "bundle"
    assert eval_here(str(spec), "--out", str(out), "--no-progress").returncode in (0, 1)
    return out


@pytest.fixture(scope="module")
def tuned(tmp_path_factory, bert_dir):
    return tuned_fight(tmp_path_factory.mktemp("tuned"), bert_dir)


@pytest.fixture
def tuned_copy(tuned, tmp_path):
    """Beside the original, as `copy`: the spec's folder is named relative to the bundle."""
    dst = Path(shutil.copytree(tuned, tuned.parent / f"copy-{tmp_path.name}"))
    yield dst
    shutil.rmtree(dst, ignore_errors=True)


def test_parameters_not_chosen_by_tuning_are_flagged(tuned_copy, tmp_path):
    """An author who re-picks a contender's parameters (on the test split, say) and reseals the bundle:
    the chosen parameters must be the best trial's by the tuning metric, and the final runs must use them."""
    out = tuned_copy
    assert audit_cli(out).returncode == 0
    results = json.loads((out / "results.json").read_text())
    # a bundle from before tuning.metric (and trial keys): still clean
    from fairfight.evaluator.orchestration.bundle import write_manifest

    old = out.parent / f"old-{tmp_path.name}"  # beside it: the spec's folder is named relative to the bundle
    shutil.copytree(out, old)
    aged = json.loads(json.dumps(results))
    del aged["tuning"]["metric"]
    for trial in aged["tuning"]["contenders"]["probe"]["trials"]:
        del trial["key"]
    (old / "results.json").write_text(json.dumps(aged))
    write_manifest(old)
    r = audit_cli(old, "--format", "json")
    assert r.returncode == 0, findings(r)
    entry = results["tuning"]["contenders"]["probe"]
    other = next(t["params"] for t in entry["trials"] if t["params"] != entry["chosen"])
    entry["chosen"] = other
    (out / "results.json").write_text(json.dumps(results))
    messages = findings(audit_cli(out, "--format", "json"))
    assert any(m.startswith("probe: the chosen parameters") and "not its best trial's by held-out accuracy" in m
               for m in messages), messages
    assert any(m.startswith("probe seed 0 ran with") and "not the parameters tuning chose" in m
               for m in messages), messages


def test_a_trial_score_edited_and_resealed_is_recomputed(tmp_path, bert_dir):
    """An author who writes a better score for another trial, makes its parameters the chosen ones and
    reseals the bundle: the trial's score is recomputed from its predictions on the held-out selection part."""
    from fairfight.evaluator.orchestration.bundle import write_manifest

    out = tuned_fight(tmp_path, bert_dir, "\n  selection_metric: f1")
    r = audit_cli(out, "--format", "json", "--rerun", "1")
    assert r.returncode == 0, findings(r)  # recomputing the honest trials' f1 finds nothing
    assert [x["result"] for x in json.loads(r.stdout)["reruns"]] == ["reproduced"]  # with the tuned parameters
    results = json.loads((out / "results.json").read_text())
    entry = results["tuning"]["contenders"]["probe"]
    (other,) = [t for t in entry["trials"] if t["params"] != entry["chosen"]][:1]
    other["f1"], entry["chosen"], entry["best"] = 1.0, other["params"], 1.0
    (out / "results.json").write_text(json.dumps(results))
    write_manifest(out)
    messages = findings(audit_cli(out, "--format", "json"))
    assert not any("parity's draws" in m for m in messages)  # the draws themselves are untouched
    assert any(m.startswith(f"probe tuning trial {other['trial']}: f1 is 1.0 in results.json, but ") and
               "from its predictions on the held-out part of the selection split" in m for m in messages), messages
    assert not any("edited file" in m for m in messages)  # resealed: only the recomputation tells
    results["tuning"]["metric"] = "accuracy"  # the metric the trials say they were scored by, edited too
    (out / "results.json").write_text(json.dumps(results))
    write_manifest(out)
    messages = findings(audit_cli(out, "--format", "json"))
    assert "the trials were scored by accuracy; the spec tunes by f1" in messages, messages


def test_tuning_erased_and_parameters_from_elsewhere_are_flagged(tuned_copy):
    """An author who says no trial was allowed (the spec allows 3), drops the trials, gives the final run
    parameters of their own choosing and reseals: the rules come from the spec, the parameters from the spec
    and tuning."""
    from fairfight.evaluator.orchestration.bundle import write_manifest

    out = tuned_copy
    results = json.loads((out / "results.json").read_text())
    tuning = results["tuning"]
    (run,) = [r for r in results["runs"] if r["label"] == "probe"]
    run["params"] = {**run["params"], "layer": next(x for x in (0, 1, 2) if x != run["params"]["layer"])}
    for entry in tuning["contenders"].values():
        for trial in entry["trials"]:
            shutil.rmtree(out / "runs" / trial["key"])
    tuning.update(trials_allowed=1, contenders={})
    (out / "results.json").write_text(json.dumps(results))
    write_manifest(out)
    messages = findings(audit_cli(out, "--format", "json"))
    assert "results.json says 1 tuning trial(s) were allowed; the spec allows 3" in messages, messages
    assert "probe had 0 tuning trials, where parity gives it 3" in messages, messages
    assert any(m.startswith(f"probe seed 0 ran with {run['params']}, not the parameters the spec gives") for m in messages)


def test_trial_parameters_moved_between_trials_are_not_parity_draws(tuned_copy):
    """Swapping two trials' parameters (so the best score sits beside the parameters the author wanted),
    resealed: the trials no longer follow parity's draws, in order."""
    from fairfight.evaluator.orchestration.bundle import write_manifest

    out = tuned_copy
    results = json.loads((out / "results.json").read_text())
    trials = results["tuning"]["contenders"]["probe"]["trials"]
    trials[0]["params"], trials[1]["params"] = trials[1]["params"], trials[0]["params"]
    (out / "results.json").write_text(json.dumps(results))
    write_manifest(out)
    messages = findings(audit_cli(out, "--format", "json"))
    assert any(m.startswith("probe's trials tried") and "where parity's draws are" in m for m in messages), messages


PICKY = """

@method
def picky(ctx):
    ctx.data["train"]["profession"]
    return ctx.predictors.constant(ctx.params.get("label", "nurse"))
"""


def test_rerun_re_executes_tuning_trials_too(tmp_path, bert_dir):
    """A trial's predictions are what bind its parameters to its score: --rerun re-executes trials as well
    as final runs, so trials whose entries were swapped (each with the other's predictions and score,
    resealed: every recomputation agrees) do not reproduce."""
    from fairfight.evaluator.orchestration.bundle import write_manifest

    spec = write_fight(tmp_path, bert_dir, {"picky": "uses: {data: {train: [profession]}}, "
                                                     "search: {label: [nurse, professor]}"}, seeds=1)
    (tmp_path / "methods.py").write_text((tmp_path / "methods.py").read_text() + PICKY)
    spec.write_text(spec.read_text().replace("budget: {examples: 2000}",
                                             "budget: {examples: 5000, trials: 2}\n  selection: train"))
    out = tmp_path / "bundle"
    assert eval_here(str(spec), "--out", str(out), "--no-progress").returncode in (0, 1)
    r = audit_cli(out, "--format", "json", "--rerun", "3")
    assert r.returncode == 0, findings(r)
    reruns = json.loads(r.stdout)["reruns"]
    assert sorted(x["label"] for x in reruns) == ["picky", "picky tuning trial 0", "picky tuning trial 1"]
    assert all(x["result"] == "reproduced" for x in reruns), reruns
    results = json.loads((out / "results.json").read_text())
    trials = results["tuning"]["contenders"]["picky"]["trials"]
    for field in ("key", "accuracy"):
        trials[0][field], trials[1][field] = trials[1][field], trials[0][field]
    (out / "results.json").write_text(json.dumps(results))
    write_manifest(out)
    messages = findings(audit_cli(out, "--format", "json", "--rerun", "3"))
    assert not any("parity's draws" in m or "from its predictions" in m for m in messages), messages
    assert any(m.startswith("picky tuning trial 0 seed 0 does not reproduce") for m in messages), messages
