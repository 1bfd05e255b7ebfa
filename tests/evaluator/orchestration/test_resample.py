"""evaluate.resample in an eval: paired across contenders at a seed, new at every seed, never the
evaluation split, not the tuning trials, and part of every final run's key."""
import pytest

from fairfight.evaluator.orchestration.plan import compile_plan
from fairfight.evaluator.orchestration.runner import Evaluation
from fairfight.evaluator.orchestration.tuning import tuning_runs
from fairfight.spec.check import load_spec

from runner_fixtures import write_fight

FIGHT = {"probe": "uses: {model: [activations], data: {train: [text, profession]}}, search: {layer: [0, 1]}",
         "plain_head": "", "always_nurse": "uses: {data: {train: [profession]}}"}


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory, bert_dir):
    folder = tmp_path_factory.mktemp("resample")
    spec = write_fight(folder, bert_dir, FIGHT, seeds=3)
    text = spec.read_text().replace("  test: {from: bios/test, role: evaluation}",
                                    "  test: {from: bios/test, role: evaluation}\n"
                                    "  sky: {from: bios/train, role: skyline, balance: [gender]}")
    text = text.replace("budget: {examples: 2000}", "budget: {examples: 20000, trials: 2}\n  selection: train")
    spec.write_text(text + "skylines:\n  - oracle: {split: sky}\n")
    return spec


def evaluation(spec_path, resample, tmp_path):
    spec = load_spec(spec_path, [f"evaluate.resample={resample}"])
    return Evaluation(spec, compile_plan(spec), tmp_path / resample.replace("(", "-").rstrip(")"))


def texts_seen(ev, run) -> dict:
    return {split: tuple(cols["text"]) if "text" in cols else tuple(cols["profession"])
            for split, cols in ev.tables_for(run).items()}


def test_every_contender_trains_on_the_same_rows_at_a_seed_and_other_rows_at_another(spec_path, tmp_path):
    ev = evaluation(spec_path, "subsample(0.8)", tmp_path)
    train = ev.loader.split("train")
    by_seed = {}
    for run in ev.plan.runs:
        if run.role == "skyline":
            continue
        tables = ev.tables_for(run)
        assert set(tables) == {"train"}  # the evaluation split is never sent
        rows = tables["train"]["profession"]
        assert len(rows) == round(0.8 * len(train))
        full = ev.describe(run)["tables"]["train"]
        by_seed.setdefault(run.seed, set()).add(tuple(full.get("text", ())) or None)
        by_seed.setdefault(("labels", run.seed), set()).add(tuple(rows))
    for seed in ev.plan.seeds:
        assert len(by_seed[("labels", seed)]) == 1  # paired: plain_head, probe, always_nurse alike
        assert len(by_seed[seed] - {None}) == 1
    assert len({next(iter(by_seed[s] - {None})) for s in ev.plan.seeds}) == 3  # a new sample per seed
    assert ev.target_of(ev.plan.runs[0])[0] == ev.test.columns["text"]  # scored on the whole evaluation split


def test_skyline_splits_are_resampled_within_their_balance_cells(spec_path, tmp_path):
    ev = evaluation(spec_path, "bootstrap", tmp_path)
    sky = ev.loader.split("sky")
    oracle = [r for r in ev.plan.runs if r.role == "skyline"]
    seen = {r.seed: ev.tables_for(r)["sky"]["text"] for r in oracle}
    assert len({tuple(t) for t in seen.values()}) == 3 and all(len(t) == len(sky) for t in seen.values())
    assert any(len(set(t)) < len(t) for t in seen.values())  # bootstrap: some rows twice


def test_none_sends_the_splits_as_they_are(spec_path, tmp_path):
    ev = evaluation(spec_path, "none", tmp_path)
    full = tuple(ev.loader.split("train").columns["text"])
    assert {texts_seen(ev, r)["train"] for r in ev.plan.runs if r.name == "plain_head"} == {full}
    assert ev.describe(ev.plan.runs[0])["universes"] == []


def test_tuning_trials_see_the_carved_training_part_unresampled(spec_path, tmp_path):
    ev = evaluation(spec_path, "subsample(0.5)", tmp_path)
    trials, _ = tuning_runs(ev.spec, ev.plan)
    assert trials
    train_part, held = ev.selection_parts()
    for trial in trials:
        assert ev.tables_for(trial)["train"]["text"] == train_part.columns["text"]
        assert ev.describe(trial)["universes"] == []
        assert ev.target_of(trial)[0] == held.columns["text"]


def test_resampling_is_part_of_every_final_run_key_but_not_of_the_trials(spec_path, tmp_path):
    evals = [evaluation(spec_path, kind, tmp_path) for kind in ("none", "bootstrap", "subsample(0.8)", "subsample(0.5)")]
    keys = [{r.key for r in ev.plan.runs} for ev in evals]
    assert all(not (a & b) for i, a in enumerate(keys) for b in keys[i + 1:])  # no cache entry is shared
    trial_keys = [{r.key for r in tuning_runs(ev.spec, ev.plan)[0]} for ev in evals]
    assert trial_keys[0] and all(k == trial_keys[0] for k in trial_keys)  # trials do not depend on it
