"""Tuning trials' scores, recomputed: each succeeded trial's predictions against the held-out part of
the selection split, rebuilt from the spec and its data as the eval carved it. Without this, an author
who picked parameters another way (on the evaluation split, say) could write trial scores that make
the pick look like tuning's, reseal the bundle, and pass every other check."""
from __future__ import annotations


def check_trial_scores(auditor, spec, tuning: dict, metric: str) -> None:
    from ..errors import FairfightError
    from ..evaluator.judgement import scoring
    from ..evaluator.orchestration.tuning import carve
    from .compare import _close, class_scores

    trials = [(label, t) for label, entry in (tuning.get("contenders") or {}).items()
              for t in entry.get("trials", []) if t.get("status") == "succeeded" and t.get("key")]
    if not trials or spec.rules.selection is None:
        return
    try:
        from ..data.splits import SplitLoader

        table = SplitLoader(spec).split(spec.rules.selection)
        held = table.take(carve(len(table))[1])
    except (FairfightError, OSError, ValueError, KeyError) as exc:
        auditor.finding("tuning", f"cannot rebuild the selection split '{spec.rules.selection}' ({exc}): the trials' "
                                  f"{metric} cannot be recomputed")
        return
    columns = held.columns
    generation = spec.evaluate.kind == "generation"
    gold = None if generation else columns.get(spec.evaluate.target)
    scorer = _scorer(auditor, spec) if generation else None
    for label, trial in trials:
        where = f"{label} tuning trial {trial.get('trial')}"
        expected = len(columns.get("text", [])) if generation else len(gold or [])
        rows = auditor.scored_rows("tuning", where, trial["key"], expected, "held-out selection examples")
        if rows is None or (gold is None and scorer is None):
            continue
        try:
            if generation:  # the texts rescored with the spec's scorer, as the eval scored them
                value = scorer.metrics(scorer.scores([r["prediction"] for r in rows], columns), columns,
                                       [metric]).get(metric)
            else:
                classes, scores = class_scores(rows)
                value = scoring.compute(metric, [r["prediction"] for r in rows], gold, columns=columns,
                                        groups=spec.evaluate.groups, scores=scores, classes=classes)
        except FairfightError as exc:
            auditor.finding("tuning", f"{where}: cannot recompute its {metric} ({exc})")
            continue
        except (KeyError, TypeError, ValueError) as exc:
            auditor.finding("tuning", f"{where}: cannot recompute its {metric} ({exc!r})")
            continue
        if not _close(value, trial.get(metric)):
            auditor.finding("tuning", f"{where}: {metric} is {trial.get(metric)} in results.json, but {value} from "
                                      "its predictions on the held-out part of the selection split")


def _scorer(auditor, spec):
    from .generations import loaded_scoring

    scorer, exc = loaded_scoring(auditor, spec)
    if exc is not None:
        auditor.finding("tuning", f"cannot load the scorer: {exc}: the trials' scores cannot be recomputed")
    return scorer


def check_trials_allowed(auditor, spec, tuning: dict) -> int:
    """The trials the spec allows (results.json's count is the bundle's word, not the rules'): a bundle
    saying 1 was allowed would skip every parity and choice check while its contenders ran other parameters."""
    allowed = spec.rules.budget.trials
    recorded = tuning.get("trials_allowed", allowed)
    if recorded != allowed:
        auditor.finding("tuning", f"results.json says {recorded} tuning trial(s) were allowed; the spec allows {allowed}")
    if tuning.get("selection", spec.rules.selection) != spec.rules.selection:
        auditor.finding("tuning", f"results.json says the trials were scored on '{tuning.get('selection')}'; the "
                                  f"spec's selection split is '{spec.rules.selection}'")
    return allowed


def check_run_params(auditor, spec, tuning: dict) -> None:
    """Every final run's parameters are the spec's, with what tuning chose over them: parameters from
    anywhere else (picked on the evaluation split, say) are not the fight the spec describes."""
    from ..errors import FairfightError
    from ..evaluator.orchestration.plan import compile_plan

    chosen = {label: e["chosen"] for label, e in (tuning.get("contenders") or {}).items() if e.get("chosen")}
    try:
        plan = compile_plan(spec, seeds=len(auditor.results.get("seeds", [])) or None, chosen=chosen)
    except (FairfightError, OSError) as exc:
        auditor.finding("tuning", f"cannot plan the spec's runs ({exc}): the runs' parameters cannot be checked")
        return
    planned = {(r.label, r.seed): dict(r.params) for r in plan.runs}
    for run in auditor.results.get("runs", []):
        expected = planned.get((run.get("label"), run.get("seed")))
        if expected is not None and (run.get("params") or {}) != expected:
            source = "tuning chose" if run.get("name", run.get("label")) in chosen else "the spec gives"
            auditor.finding("tuning", f"{run.get('label')} seed {run.get('seed')} ran with {run.get('params')}, not "
                                      f"the parameters {source} ({expected})")


def check_draws(auditor, label: str, trials: list, points: list) -> None:
    """A contender's trials are parity's draws, in order: parameters of the author's own among them (or
    the draws' parameters moved between trials) are not the search every contender got."""
    ordered = sorted(trials, key=lambda t: t.get("trial", 0))
    tried = [{k: (t.get("params") or {}).get(k) for k in point} for t, point in zip(ordered, points)]
    if tried != points:
        auditor.finding("tuning", f"{label}'s trials tried {tried}, where parity's draws are {points}")
