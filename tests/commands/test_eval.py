"""`fairfight eval` checks everything it can before any compute, and never exits 1 for a crash."""
import json
import sys
from pathlib import Path


from runner_fixtures import eval_here, write_fight

from fairfight.commands.eval import EvalOptions, run_eval  # noqa: E402


eval_cli = eval_here  # the CLI's entry point, in this process: these evals stop early or run one constant


def test_a_misspelt_group_in_a_metric_stops_eval_before_compute(tmp_path, bert_dir):
    spec = write_fight(tmp_path, bert_dir, {"always_nurse": ""}, seeds=1)
    spec.write_text(spec.read_text().replace("leakage(gender)", "leakage(gendre)"))
    out = tmp_path / "bundle"
    r = eval_cli(str(spec), "--out", str(out), "--no-progress")
    assert r.returncode == 2, r.stderr
    assert "'gendre' is not one; did you mean 'gender'?" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()  # nothing was computed, no half bundle


def test_a_refused_method_stops_eval_before_compute_unless_allowed(tmp_path, bert_dir):
    spec = write_fight(tmp_path, bert_dir, {"always_nurse": ""}, seeds=1)
    with open(spec, "a") as f:
        f.write("  declared_too_much: {run: cheaters.py:declared_too_much, uses: {model: [weights]}}\n")
    out = tmp_path / "bundle"
    r = eval_cli(str(spec), "--out", str(out), "--no-progress")
    assert r.returncode == 2
    assert "would be refused" in r.stderr and "--allow-refused" in r.stderr
    assert not out.exists()
    r = eval_cli(str(spec), "--out", str(out), "--no-progress", "--allow-refused")
    assert r.returncode == 2, r.stderr  # the refusal still makes the eval invalid, but the rest ran
    results = json.loads((out / "results.json").read_text())
    assert [(run["label"], run["status"]) for run in results["runs"]] == [("always_nurse", "succeeded")]
    assert [x["label"] for x in results["refusals"]] == ["declared_too_much"]


def test_only_rejects_a_name_that_is_no_contender(tmp_path, bert_dir):
    spec = write_fight(tmp_path, bert_dir, {"always_nurse": ""}, seeds=1)
    r = eval_cli(str(spec), "--out", str(tmp_path / "b"), "--only", "always_nurce")
    assert r.returncode == 2 and "did you mean 'always_nurse'?" in r.stderr
    assert not (tmp_path / "b").exists()


def test_an_unexpected_crash_is_exit_3_with_a_message_and_the_traceback_in_the_bundle(tmp_path, bert_dir,
                                                                                     monkeypatch, capsys):
    from fairfight.evaluator.orchestration import runner

    def broken(self, runs):  # stands for a bug in the parent (the crash was in scoring)
        raise TypeError("'NoneType' object is not iterable")

    monkeypatch.setattr(runner.Evaluation, "verdicts", broken)
    spec = write_fight(tmp_path, bert_dir, {"always_nurse": ""}, seeds=1)
    out = tmp_path / "bundle"
    code = run_eval(EvalOptions(str(spec), out=str(out), executor="inline", progress=False))
    err = capsys.readouterr().err
    assert code == 3, err
    assert "unexpected TypeError: 'NoneType' object is not iterable" in err and "Traceback" not in err
    assert "Traceback" in (out / "eval-error.txt").read_text()
    assert not (out / "results.json").exists()  # no results that look complete


def _results(verdicts, **counts):
    base = {"refused_at_plan": 0, "refused": 0, "failed": 0, "trials": {}}
    return {"counts": {**base, **counts}, "verdicts": [{"verdict": v} for v in verdicts]}


def test_the_exit_code_follows_the_documented_order():
    from fairfight.commands.eval import exit_code

    assert exit_code(_results(["supported"])) == 0
    assert exit_code(_results(["supported", "inconclusive"])) == 1
    assert exit_code(_results(["supported", "not-supported"])) == 1
    assert exit_code(_results(["not-supported", "invalid"])) == 2  # e.g. --only left a baseline out
    assert exit_code(_results(["supported"], refused=1)) == 2
    assert exit_code(_results(["supported"], failed=1)) == 3
    assert exit_code(_results(["invalid"], failed=1)) == 3  # a failed run explains the invalid claim


def test_out_must_not_hold_the_specs_folder_nor_another_tasks_bundle(tmp_path, bert_dir):
    spec = write_fight(tmp_path / "task", bert_dir, {"always_nurse": ""}, seeds=1)
    for out in (tmp_path / "task", tmp_path):  # the spec's folder, or a folder around it
        r = eval_cli(str(spec), "--out", str(out), "--no-progress")
        assert r.returncode == 2 and "holds the spec's own folder" in r.stderr, r.stderr
        assert not (out / "results.json").exists()
    other = tmp_path / "task" / "other"
    other.mkdir()
    (other / "results.json").write_text(json.dumps({"task": {"name": "another-task"}}))
    r = eval_cli(str(spec), "--out", str(other), "--no-progress")
    assert r.returncode == 2 and "holds the bundle of another task ('another-task'" in r.stderr, r.stderr
    assert not (other / "runs").exists()
