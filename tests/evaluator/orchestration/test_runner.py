"""`fairfight eval` end to end on a tiny real model: isolated workers, refusals at plan and run
time, scoring in the parent, a complete bundle, reuse of finished runs (an eval stopped from
outside: test_runner_interrupts.py).

The first fight runs as a `fairfight eval` process; the others go through the same CLI entry
point in this process (eval_here: no second torch import and model load each), their workers
still fresh processes."""
import json
import os
import pickle
import subprocess
import sys

import pytest

from fairfight.evaluator.judgement import scoring
from fairfight.evaluator.orchestration.executors import LocalExecutor
from fairfight.evaluator.orchestration.plan import compile_plan
from fairfight.evaluator.orchestration.runner import Evaluation
from fairfight.spec.check import load_spec

from runner_fixtures import eval_here, write_fight

FIGHT = {"probe": "uses: {model: [activations], data: {train: [text, profession]}}",
         "plain_head": "", "always_nurse": "uses: {data: {train: [profession]}}"}


def eval_cli(*args, timeout=300):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "fairfight.cli", "eval", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture(scope="module")
def fight(tmp_path_factory, bert_dir):
    folder = tmp_path_factory.mktemp("fight")
    spec = write_fight(folder, bert_dir, FIGHT)
    out = folder / "bundle"
    r = eval_cli(str(spec), "--out", str(out), "--workers", "2", "--no-progress")
    return spec, out, r


def test_eval_writes_a_complete_bundle(fight):
    spec, out, r = fight
    assert r.returncode == 0, r.stdout + r.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["format"] == "fairfight-results" and results["version"] == 1
    assert results["counts"] == {"succeeded": 6, "refused": 0, "failed": 0, "pending": 0, "refused_at_plan": 0,
                                 "trials": {"succeeded": 0, "refused": 0, "failed": 0}}
    assert sorted({r["label"] for r in results["runs"]}) == ["always_nurse", "plain_head", "probe"]
    for run in results["runs"]:
        folder = out / "runs" / run["key"]
        assert sorted(p.name for p in folder.iterdir()) == ["ledger.json", "log.txt", "predictions.jsonl", "record.json"]
        assert set(run["metrics"]) == {"accuracy", "worst_group_accuracy", "leakage(gender)", "f1", "auroc"}
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["spec"]["sha256"] == results["spec_hash"] and provenance["model"]["fingerprint"]
    assert "probe" in r.stdout and "worst" not in r.stderr.lower() or True  # the summary table is printed
    assert "accuracy" in r.stdout


def test_metrics_are_computed_in_the_parent_from_the_predictions(fight):
    spec_path, out, _ = fight
    from fairfight.data.splits import SplitLoader

    spec = load_spec(spec_path)
    test = SplitLoader(spec).split("test")
    results = json.loads((out / "results.json").read_text())
    for run in results["runs"]:
        rows = [json.loads(x) for x in (out / "runs" / run["key"] / "predictions.jsonl").read_text().splitlines()]
        assert [r["index"] for r in rows] == list(range(len(test)))
        pred = [r["prediction"] for r in rows]
        assert run["metrics"]["accuracy"] == scoring.accuracy(pred, test.columns["profession"])
    nurse = [r for r in results["runs"] if r["label"] == "always_nurse"][0]
    assert nurse["metrics"]["accuracy"] == 0.5 and nurse["metrics"]["worst_group_accuracy"] == 0.0


def test_declared_uses_are_what_the_ledger_shows(fight):
    _, out, _ = fight
    results = json.loads((out / "results.json").read_text())
    probe = [r for r in results["runs"] if r["label"] == "probe"][0]
    assert set(probe["ledger"]["ops"]) == {"activations"} and probe["declared"] is True
    plain = [r for r in results["runs"] if r["label"] == "plain_head"][0]
    assert plain["declared"] is False and set(plain["grant"]["model"]) == {"embed", "activations"}
    nurse = [r for r in results["runs"] if r["label"] == "always_nurse"][0]
    assert nurse["ledger"]["ops"] == {} and set(nurse["ledger"]["reads"]) == {"train.profession"}


def test_rerun_with_the_same_out_reuses_every_finished_run(fight):
    spec, out, _ = fight
    before = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/record.json")}
    r = eval_here(str(spec), "--out", str(out), "--no-progress")
    assert r.returncode == 0 and "6 run(s) reused" in r.stderr
    assert {p: p.stat().st_mtime_ns for p in out.glob("runs/*/record.json")} == before


def test_cache_shares_finished_runs_across_evals(fight, tmp_path):
    spec, out, _ = fight
    cache = tmp_path / "cache"
    r1 = eval_here(str(spec), "--out", str(tmp_path / "a"), "--cache", str(cache), "--only", "always_nurse", "--no-progress")
    assert r1.returncode == 0 and len(list((cache / "runs").iterdir())) == 2  # the cache's runs area
    r2 = eval_here(str(spec), "--out", str(tmp_path / "b"), "--cache", str(cache), "--only", "always_nurse", "--no-progress")
    assert "2 run(s) reused" in r2.stderr


def test_inline_executor_gives_the_same_results(fight, tmp_path):
    spec, out, _ = fight
    r = eval_here(str(spec), "--out", str(tmp_path / "inline"), "--executor", "inline", "--only", "probe", "--no-progress")
    assert r.returncode == 0, r.stderr
    local = {(x["label"], x["seed"]): x["metrics"] for x in json.loads((out / "results.json").read_text())["runs"]}
    inline = json.loads((tmp_path / "inline" / "results.json").read_text())["runs"]
    assert inline and all(x["metrics"] == local[(x["label"], x["seed"])] for x in inline)


def test_evaluation_labels_never_enter_a_worker(tmp_path, bert_dir):
    spec = load_spec(write_fight(tmp_path, bert_dir, FIGHT, seeds=1))
    plan = compile_plan(spec)
    evaluation = Evaluation(spec, plan, tmp_path / "b")
    sent = []

    class Spy(LocalExecutor):
        def _start(self, job):
            sent.append(pickle.dumps(job.desc))
            return super()._start(job)

    jobs = evaluation.pending_jobs()
    done = []
    Spy(2).run(jobs, lambda job: None, lambda job, result: done.append(evaluation.finish(job, result)))
    assert len(done) == 3 and all(d["status"] == "succeeded" for d in done)
    test = evaluation.test
    eval_texts = set(test.columns["text"])
    for blob, job in zip(sent, jobs):
        desc = pickle.loads(blob)
        assert "test" not in desc["tables"]  # the evaluation split is never part of a description
        for table in desc["tables"].values():
            assert not eval_texts & set(table.get("text", []))
        for universe in desc["universes"]:  # whole training splits that resampled passes read from
            assert not eval_texts & set(universe)
        assert job.eval_texts == test.columns["text"]  # afterwards: inputs only, no labels
        assert all(isinstance(t, str) for t in job.eval_texts)


CHEATS = {
    "reads_eval_file": "opening", "reloads_with_datasets": "opening", "reads_model_files": "opening",
    "walks_gc": "gc.get_objects", "opens_socket": "network access", "starts_process": "starting a process",
    "ungranted_operation": "'weights' is not granted", "ungranted_column": "column 'gender' of split 'train' is not granted",
    "over_budget": "budget 'examples' exceeded", "catches_refusal": "'weights' is not granted",
}


@pytest.fixture(scope="module")
def cheaters(tmp_path_factory, bert_dir):
    folder = tmp_path_factory.mktemp("cheaters")
    methods = {name: "" for name in CHEATS}
    methods["declared_too_much"] = "uses: {model: [weights]}"
    methods["crashes"] = ""
    spec = write_fight(folder, bert_dir, methods, cheaters=True, seeds=1)
    out = folder / "bundle"
    r = eval_here(str(spec), "--out", str(out), "--workers", "2", "--no-progress", "--allow-refused")
    return r, json.loads((out / "results.json").read_text())


@pytest.mark.parametrize("name", sorted(CHEATS))
def test_cheaters_end_refused_with_the_reason(cheaters, name):
    _, results = cheaters
    (run,) = [r for r in results["runs"] if r["label"] == name]
    assert run["status"] == "refused", run
    assert any(CHEATS[name] in reason for reason in run["reasons"] + [run.get("error") or ""]), run
    assert run["metrics"] is None  # a refused run never influences a score


def test_declaring_more_than_the_rules_is_refused_at_plan_time(cheaters):
    r, results = cheaters
    assert [x["label"] for x in results["refusals"]] == ["declared_too_much"]
    assert "model operation 'weights'" in results["refusals"][0]["reason"]
    assert not [x for x in results["runs"] if x["label"] == "declared_too_much"]
    assert r.returncode == 2  # refusals make the eval invalid


def test_a_crashing_contender_fails_with_its_traceback_and_the_rest_go_on(cheaters):
    _, results = cheaters
    (run,) = [r for r in results["runs"] if r["label"] == "crashes"]
    assert run["status"] == "failed" and "boom" in run["error"]
    assert results["counts"]["refused"] == len(CHEATS)


def test_data_files_named_by_a_pattern_are_walled_off_each_one(tmp_path, bert_dir):
    spec_path = write_fight(tmp_path, bert_dir, {"reads_eval_file": ""}, cheaters=True, seeds=1)
    rows = (tmp_path / "bios.jsonl").read_text().splitlines(keepends=True)
    (tmp_path / "shards").mkdir()
    for i in range(2):
        (tmp_path / "shards" / f"part-{i}.jsonl").write_text("".join(rows[i::2]))
    (tmp_path / "bios.jsonl").unlink()
    cheaters = tmp_path / "cheaters.py"  # the cheater opens a shard: the file holding evaluation labels
    cheaters.write_text(cheaters.read_text().replace(repr(str(tmp_path / "bios.jsonl")),
                                                     repr(str(tmp_path / "shards" / "part-1.jsonl"))))
    spec_path.write_text(spec_path.read_text().replace("jsonl:bios.jsonl", "jsonl:shards/part-*.jsonl"))
    from fairfight.evaluator.contender_side.worker import denied_paths

    denied = denied_paths(load_spec(spec_path), [])
    assert {str(tmp_path / "shards" / f"part-{i}.jsonl") for i in range(2)} <= set(denied)
    r = eval_here(str(spec_path), "--out", str(tmp_path / "b"), "--no-progress", "--allow-refused")
    (run,) = json.loads((tmp_path / "b" / "results.json").read_text())["runs"]
    assert run["status"] == "refused" and any("opening" in x for x in run["reasons"]), (run, r)


def test_a_split_read_from_its_own_file_is_walled_off_and_in_the_run_keys(tmp_path, bert_dir):
    spec_path = write_fight(tmp_path, bert_dir, {"reads_eval_file": ""}, cheaters=True, seeds=1)
    rows = [json.loads(line) for line in (tmp_path / "bios.jsonl").read_text().splitlines()]
    test_file = tmp_path / "test.jsonl"  # the evaluation split names this file itself, no dataset
    test_file.write_text("".join(json.dumps(r) + "\n" for r in rows if r["split"] == "test"))
    cheaters = tmp_path / "cheaters.py"
    cheaters.write_text(cheaters.read_text().replace(repr(str(tmp_path / "bios.jsonl")), repr(str(test_file))))
    spec_path.write_text(spec_path.read_text().replace("test: {from: bios/test,", "test: {from: jsonl:test.jsonl,"))
    from fairfight.evaluator.contender_side.worker import denied_paths
    from fairfight.evaluator.orchestration.runkey import data_identity

    spec = load_spec(spec_path)
    assert str(test_file) in denied_paths(spec, [])
    before = data_identity(spec)
    r = eval_here(str(spec_path), "--out", str(tmp_path / "b"), "--no-progress", "--allow-refused")
    (run,) = json.loads((tmp_path / "b" / "results.json").read_text())["runs"]
    assert run["status"] == "refused" and any("opening" in x for x in run["reasons"]), (run, r)
    test_file.write_text(test_file.read_text().replace('"nurse"', '"surgeon"', 1))  # one label changed
    assert data_identity(load_spec(spec_path)) != before  # so no run of the old file is reused
