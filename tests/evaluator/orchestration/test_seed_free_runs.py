"""Seed-free built-ins (catalogue: seeded=False: zero_shot, majority, no_edit, instruct) are computed
once per eval, at the first seed, and their result is copied to the other seeds; each is checked here
against a real run at another seed, so a built-in that starts to read its seed fails these tests."""
import json
import shutil
from pathlib import Path

import jsonschema

import pytest

from fairfight.baselines import BASELINES
from fairfight.evaluator.orchestration.executors import LocalExecutor
from fairfight.evaluator.orchestration.plan import compile_plan
from fairfight.evaluator.orchestration.runner import Evaluation
from fairfight.spec.check import load_spec

from generationkit import tiny_chat_gpt2, write_capitals
from runner_fixtures import cli_here, eval_here, write_fight

SEED_FREE = {"zero_shot", "majority", "no_edit", "instruct"}
ON_ENCODERS = {"few_shot"}  # its nearest-neighbour way draws nothing; its prompting way draws demonstrations


def classification_spec(folder, bert_dir, seeds=3):
    """The runner's fight with seed-free and seeded baselines, no resampling (majority's input is then
    the same at every seed)."""
    spec = write_fight(folder, bert_dir, {"probe": "uses: {model: [activations], data: {train: [text, profession]}}"},
                       seeds=seeds)
    text = spec.read_text().replace("  seeds:", "  resample: none\n  seeds:")
    spec.write_text(text + "baselines: [majority, zero_shot, few_shot, finetune_head]\ncontrols: [shuffled_labels]\n")
    return spec


def generation_spec(folder, model_dir):
    spec = write_capitals(folder, model_dir, ["plain"], baselines="[no_edit, instruct, few_shot_prompt: {params: {answer: answer, k: 2}}]")
    spec.write_text(spec.read_text().replace("seeds: 1", "seeds: 2"))
    return spec


def runs_of(out) -> dict:
    return {(r["label"], r["seed"]): r for r in json.loads((out / "results.json").read_text())["runs"]}


def predictions(out, key) -> list:
    return [json.loads(line)["prediction"] for line in (out / "runs" / key / "predictions.jsonl").read_text().splitlines()]


def computed_alone(spec_path, labels, seed, out) -> dict:
    """The runs `labels` at `seed` computed for real (their first-seed twins are not planned)."""
    spec = load_spec(spec_path)
    plan = compile_plan(spec)
    plan.runs = [r for r in plan.runs if r.label in labels and r.seed == seed]
    assert len(plan.runs) == len(labels) and all(r.twin for r in plan.runs)
    ev = Evaluation(spec, plan, out, spec_text=spec_path.read_text())
    jobs = ev.pending_jobs()
    assert len(jobs) == len(labels)
    LocalExecutor(2).run(jobs, lambda job: None, lambda job, result: ev.finish(job, result))
    return {r.label: [row["prediction"] for row in ev.bundle.read_predictions(r.key)] for r in plan.runs}


def test_the_seed_free_builtins_are_these():
    assert {name for name, b in BASELINES.items() if b.seeded is False} == SEED_FREE
    assert {name for name, b in BASELINES.items() if callable(b.seeded)} == ON_ENCODERS


def test_a_seed_free_run_points_at_its_first_seed(tmp_path, bert_dir):
    spec_path = classification_spec(tmp_path, bert_dir)
    plan = compile_plan(load_spec(spec_path))
    shown = cli_here("plan", str(spec_path))
    assert shown.stdout.count("seed-free: computed at seed 0 only") == 3, shown.stdout
    first = {r.label: r.key for r in plan.runs if r.seed == 0}
    for run in plan.runs:
        expected = first[run.label] if run.label in SEED_FREE | ON_ENCODERS and run.seed > 0 else None
        assert run.twin == expected, (run.label, run.seed)
    assert len({r.key for r in plan.runs}) == len(plan.runs)  # every run keeps its own key and record
    # a resampled training split: majority's input changes with the seed; zero_shot reads no split
    for resample in ("bootstrap", "subsample(0.8)"):
        plan = compile_plan(load_spec(spec_path, [f"evaluate.resample={resample}"]))
        assert {r.label for r in plan.runs if r.twin} == {"zero_shot"}


def test_few_shot_on_a_causal_model_draws_its_demonstrations_at_every_seed(tmp_path, gpt2_dir):
    spec_path = classification_spec(tmp_path, gpt2_dir)
    plan = compile_plan(load_spec(spec_path, ["rules.model=[embed, activations, logprobs]"]))
    twins = {r.label for r in plan.runs if r.twin}
    assert "few_shot" in {r.label for r in plan.runs} and twins == {"majority", "zero_shot"}


def test_seed_free_classification_baselines_are_computed_once_and_equal_a_run_at_another_seed(tmp_path, bert_dir):
    spec_path = classification_spec(tmp_path / "fight", bert_dir, seeds=2)
    out = tmp_path / "bundle"
    r = eval_here(str(spec_path), "--out", str(out), "--no-progress", "--no-cache")
    assert r.returncode in (0, 1), r.stderr[-3000:]
    runs = runs_of(out)
    assert "3 run(s) of seed-free built-ins" in r.stderr
    for label in ("majority", "zero_shot", "few_shot"):
        first, copy = runs[(label, 0)], runs[(label, 1)]
        assert first["status"] == copy["status"] == "succeeded"
        assert copy["copied_from"] == {"key": first["key"], "seed": 0} and copy["elapsed"] == 0.0
        assert copy["metrics"] == first["metrics"] and copy["key"] != first["key"]
        assert predictions(out, copy["key"]) == predictions(out, first["key"])
        assert f"  {label} seed 1: succeeded (its seed-0 run's result" in r.stderr
    assert "copied_from" not in runs[("finetune_head", 1)]  # seeded: run at every seed
    report = (out / "report.md").read_text()
    assert report.count("seed-free: run once, at seed 0, its result given to the other 1 seed(s)") == 3
    alone = computed_alone(spec_path, ["majority", "zero_shot", "few_shot"], 1, tmp_path / "alone")
    for label, texts in alone.items():
        assert texts == predictions(out, runs[(label, 1)]["key"]), label
    schema = json.loads((Path(__file__).resolve().parents[3] / "schema" / "results.schema.json").read_text())
    assert not list(jsonschema.Draft7Validator(schema).iter_errors(json.loads((out / "results.json").read_text())))
    # the audit finds the copies in order (their own folders, predictions and ledgers)
    a = cli_here("audit", str(out))
    assert a.returncode == 0, a.stdout[-3000:] + a.stderr[-3000:]


@pytest.fixture(scope="module")
def varied_gpt2(tmp_path_factory):
    return tiny_chat_gpt2(tmp_path_factory.mktemp("varied-gpt2"), init_range=0.5)


def test_seed_free_generation_baselines_are_copied_and_equal_a_run_at_another_seed(tmp_path, varied_gpt2):
    spec_path = generation_spec(tmp_path / "fight", varied_gpt2)
    out = tmp_path / "bundle"
    r = eval_here(str(spec_path), "--out", str(out), "--no-progress", "--no-cache")
    assert r.returncode in (0, 1), r.stderr[-3000:]
    runs = runs_of(out)
    assert all(run["status"] == "succeeded" for run in runs.values()), runs
    for label in ("no_edit", "instruct"):
        assert runs[(label, 1)]["copied_from"] == {"key": runs[(label, 0)]["key"], "seed": 0}
        ledger = json.loads((out / "runs" / runs[(label, 1)]["key"] / "ledger.json").read_text())
        assert [e["op"] for e in ledger["entries"]].count("generate") >= 1  # the twin's model calls, as recorded
    for label in ("plain", "few_shot_prompt"):  # a method, and a baseline that draws its demonstrations
        assert "copied_from" not in runs[(label, 1)]
    alone = computed_alone(spec_path, ["no_edit", "instruct"], 1, tmp_path / "alone")
    for label, texts in alone.items():
        assert texts == predictions(out, runs[(label, 1)]["key"]), label
    assert predictions(out, runs[("no_edit", 0)]["key"]) != predictions(out, runs[("instruct", 0)]["key"])

    # resume: a lost copy is made again from the finished twin, nothing is computed
    shutil.rmtree(out / "runs" / runs[("instruct", 1)]["key"])
    again = eval_here(str(spec_path), "--out", str(out), "--no-progress", "--no-cache")
    assert again.returncode == r.returncode, again.stderr[-3000:]
    assert "  instruct seed 1: succeeded (its seed-0 run's result" in again.stderr
    assert f"{len(runs) - 1} run(s) reused" in again.stderr
    assert runs_of(out)[("instruct", 1)]["metrics"] == runs[("instruct", 1)]["metrics"]


def test_a_failed_twin_fails_its_copies_with_the_reason(tmp_path, bert_dir):
    from fairfight.evaluator.orchestration.records import copy_run

    spec_path = classification_spec(tmp_path / "fight", bert_dir, seeds=2)
    spec = load_spec(spec_path)
    plan = compile_plan(spec)
    ev = Evaluation(spec, plan, tmp_path / "bundle", spec_text=spec_path.read_text())
    first, copy = [r for r in plan.runs if r.label == "majority"]
    source = {**first.describe(), "status": "failed", "error": "worker died", "metrics": None}
    record = copy_run(ev, copy, source)
    assert record["status"] == "failed" and "seed-0 run's, which did not succeed (worker died)" in record["error"]
    assert ev.bundle.finished(copy.key) is None  # tried again on resume, with its twin
