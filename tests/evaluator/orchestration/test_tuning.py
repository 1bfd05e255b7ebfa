import json
from pathlib import Path

from fairfight.evaluator.orchestration.tuning import candidates, carve

from runner_fixtures import eval_here, write_fight


def test_every_contender_draws_the_same_trials_in_the_same_order():
    a = candidates({"l2": [1, 2, 3, 4]}, 3)
    assert a == candidates({"l2": [1, 2, 3, 4]}, 3) and len(a) == 3
    grid = candidates({"x": [1, 2], "y": ["a", "b", "c"]}, 100)
    assert len(grid) == 6 and len({json.dumps(g, sort_keys=True) for g in grid}) == 6


def test_carve_is_deterministic_and_disjoint():
    train, held = carve(100)
    assert (train, held) == carve(100) and len(held) == 25 and not set(train) & set(held)
    assert sorted(train + held) == list(range(100))


def test_tuning_picks_on_the_held_out_selection_part_and_records_it(tmp_path, bert_dir):
    fight = {"probe": "uses: {model: [activations], data: {train: [text, profession]}}, search: {layer: [0, 1, 2]}",
             "always_nurse": "uses: {data: {train: [profession]}}"}
    spec = write_fight(tmp_path, bert_dir, fight, seeds=1)
    spec.write_text(spec.read_text().replace("budget: {examples: 2000}", "budget: {examples: 5000, trials: 2}\n  selection: train"))
    r = eval_here(str(spec), "--out", str(tmp_path / "b"), "--no-progress")
    assert r.returncode == 0, r.stderr
    results = json.loads((tmp_path / "b" / "results.json").read_text())
    tuning = results["tuning"]
    assert tuning["trials_allowed"] == 2 and tuning["selection"] == "train"
    probe = tuning["contenders"]["probe"]
    assert [t["params"]["layer"] for t in probe["trials"]] == [c["layer"] for c in candidates({"layer": [0, 1, 2]}, 2)]
    best = max(probe["trials"], key=lambda t: t["accuracy"])
    assert probe["chosen"] == best["params"]
    (final,) = [x for x in results["runs"] if x["label"] == "probe"]
    assert final["params"]["layer"] == probe["chosen"]["layer"]
    assert "always_nurse" not in tuning["contenders"]  # no search space, nothing to tune
    trial_keys = [t for t in (tmp_path / "b" / "runs").iterdir()
                  if json.loads((t / "record.json").read_text()).get("trial") is not None]
    assert len(trial_keys) == 2
    held = json.loads((trial_keys[0] / "record.json").read_text())
    assert len((trial_keys[0] / "predictions.jsonl").read_text().splitlines()) == 15  # 25% of 60 rows
    assert held["ledger"]["reads"]["train.text"]["rows"] == 45  # the training part only


def test_a_trial_that_did_not_succeed_carries_its_reason():
    from fairfight.evaluator.orchestration.tuning import choose

    records = [
        {"label": "m", "trial": 0, "params": {"k": 1}, "status": "succeeded", "metrics": {"accuracy": 0.5}},
        {"label": "m", "trial": 1, "params": {"k": 2}, "status": "failed", "metrics": None, "reasons": [],
         "error": "Traceback (most recent call last):\n  ...\nFairfightError: artifact 'a.txt' has sha256 1, "
                  "but the spec expects 2"},
        {"label": "m", "trial": 2, "params": {"k": 3}, "status": "refused", "metrics": None,
         "reasons": ["operation 'weights' is not granted"], "error": "operation 'weights' is not granted"},
    ]
    trials = choose(records, "accuracy")["m"]["trials"]
    assert "reason" not in trials[0]
    assert trials[1]["reason"] == "FairfightError: artifact 'a.txt' has sha256 1, but the spec expects 2"
    assert trials[2]["reason"] == "operation 'weights' is not granted"


def test_rules_selection_metric_scores_the_trials(tmp_path, bert_dir):
    """The trials are scored by rules.selection_metric (the primary here is accuracy), and the report says so."""
    fight = {"probe": "uses: {model: [activations], data: {train: [text, profession]}}, search: {layer: [0, 1, 2]}"}
    spec = write_fight(tmp_path, bert_dir, fight, seeds=1)
    spec.write_text(spec.read_text().replace(
        "budget: {examples: 2000}", "budget: {examples: 5000, trials: 3}\n  selection: train\n  selection_metric: f1"))
    r = eval_here(str(spec), "--out", str(tmp_path / "b"), "--no-progress")
    assert r.returncode == 0, r.stderr
    results = json.loads((tmp_path / "b" / "results.json").read_text())
    tuning = results["tuning"]
    assert results["evaluate"]["primary"] == "accuracy" and tuning["metric"] == "f1"
    probe = tuning["contenders"]["probe"]
    assert all("f1" in t and "accuracy" not in t for t in probe["trials"])
    assert probe["chosen"] == max(probe["trials"], key=lambda t: t["f1"])["params"]
    assert probe["best"] == max(t["f1"] for t in probe["trials"])
    assert "scored by `f1` (higher is better) on a held-out part" in (tmp_path / "b" / "report.md").read_text()


def test_the_selection_metric_changes_no_run_key():
    """What tuning picks by changes the final runs' parameters (in their keys), not a run: trials and
    untuned runs keep their keys, so a bundle's finished runs are reused."""
    from fairfight.evaluator.orchestration.plan import compile_plan
    from fairfight.evaluator.orchestration.tuning import tuning_runs
    from fairfight.spec.check import check_text

    base = Path(__file__).parents[3] / "examples" / "quickstart"
    source = "".join(line for line in (base / "spec.yaml").read_text().splitlines(keepends=True)
                     if "selection_metric" not in line)
    keys = []
    for extra in ("", "\n  selection_metric: accuracy"):
        report = check_text(source.replace("  selection: ambiguous", "  selection: ambiguous" + extra),
                            name=str(base / "spec.yaml"), base_dir=str(base))
        assert report.ok, [d.render() for d in report.diagnostics]
        plan = compile_plan(report.spec)
        keys.append(([r.key for r in plan.runs], [t.key for t in tuning_runs(report.spec, plan)[0]]))
    assert keys[0] == keys[1]


def test_a_nan_trial_score_is_never_the_best():
    """auroc is NaN for a trial whose predictor gave no scores: it ranks nothing (NaN compares false,
    so a NaN first trial used to stay chosen over every real score after it)."""
    from fairfight.evaluator.orchestration.tuning import choose

    nan = float("nan")
    records = [{"label": "m", "trial": t, "params": {"k": t}, "status": "succeeded", "metrics": {"auroc": s}}
               for t, s in enumerate([nan, 0.6, 0.8, nan])]
    entry = choose(records, "auroc")["m"]
    assert entry["chosen"] == {"k": 2} and entry["best"] == 0.8
    assert choose(records[:1], "auroc")["m"]["chosen"] is None  # nothing to rank by: the defaults


def test_trials_reused_after_the_metrics_changed_are_scored_again(tmp_path, bert_dir):
    """A trial's record holds the metrics of evaluate.metrics when it ran: adding f1 there and tuning by it
    must not reuse trials that never computed f1 (every score None, the defaults kept without a word)."""
    fight = {"probe": "uses: {model: [activations], data: {train: [text, profession]}}, search: {layer: [0, 1, 2]}"}
    spec = write_fight(tmp_path, bert_dir, fight, seeds=1)
    spec.write_text(spec.read_text().replace("metrics: [accuracy, worst_group_accuracy, leakage(gender), f1, auroc]",
                                             "metrics: [accuracy]").replace(
        "budget: {examples: 2000}", "budget: {examples: 5000, trials: 2}\n  selection: train"))
    assert eval_here(str(spec), "--out", str(tmp_path / "b"), "--no-progress").returncode == 0
    spec.write_text(spec.read_text().replace("metrics: [accuracy]", "metrics: [accuracy, f1]").replace(
        "selection: train", "selection: train\n  selection_metric: f1"))
    r = eval_here(str(spec), "--out", str(tmp_path / "b"), "--no-progress")
    assert r.returncode == 0, r.stderr
    probe = json.loads((tmp_path / "b" / "results.json").read_text())["tuning"]["contenders"]["probe"]
    assert all(t["f1"] is not None for t in probe["trials"]), probe["trials"]
    assert probe["chosen"] == max(probe["trials"], key=lambda t: t["f1"])["params"]


def test_a_metric_with_an_argument_picks_in_its_own_direction():
    """leakage(gender) as the tuning metric: lower is better, so the least leaking trial is chosen."""
    from fairfight.evaluator.orchestration.tuning import choose

    records = [{"label": "m", "trial": t, "params": {"k": t}, "status": "succeeded", "metrics": {"leakage(gender)": s}}
               for t, s in enumerate([0.7, 0.55, 0.9])]
    entry = choose(records, "leakage(gender)")["m"]
    assert entry["chosen"] == {"k": 1} and entry["best"] == 0.55
