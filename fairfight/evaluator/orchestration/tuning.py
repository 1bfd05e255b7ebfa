"""Tuning parity: every contender with a search space gets the same trials, drawn the same way,
scored only on a held-out part of the selection split.

Trial candidates come from one fixed random order of each contender's grid (the same seed for
everyone), at most `rules.budget.trials` of them. The evaluator carves the selection split into
a training part (what the contender sees during tuning) and a held-out part (whose labels stay
in the parent); the tuning metric (rules.selection_metric, else the primary one) on the held-out part
picks the parameters, which are recorded.
"""
from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

from ...spec.ir import Spec, to_jsonable
from . import runkey
from .plan import Run

TRIAL_SEED = "fairfight-trials"
HELD_OUT = 0.25


def search_space(spec: Spec, contender) -> dict:
    if contender.search:
        return {k: list(v) for k, v in contender.search.items()}
    if contender.role in ("baseline", "skyline"):
        from ...baselines import builtin

        return {k: list(v) for k, v in builtin(contender.name).search.items()}
    return {}


def candidates(space: dict, trials: int) -> list[dict]:
    """At most `trials` points of the grid, in one fixed random order shared by every contender."""
    keys = sorted(space)
    grid = [dict(zip(keys, values)) for values in itertools.product(*(space[k] for k in keys))]
    random.Random(TRIAL_SEED).shuffle(grid)
    return grid[:trials]


def carve(n: int, seed: int = 0) -> tuple[list, list]:
    """Indices of the training and held-out parts of the selection split."""
    order = list(range(n))
    random.Random(f"fairfight-selection:{seed}").shuffle(order)
    cut = max(1, int(round(n * HELD_OUT)))
    return sorted(order[cut:]), sorted(order[:cut])


@dataclass(frozen=True)
class TrialRun(Run):
    """A tuning trial of a contender: trained on the selection split's training part, scored on its held-out part."""

    trial: int = 0

    @property
    def label(self) -> str:
        return self.name

    def describe(self) -> dict:
        return {**super().describe(), "trial": self.trial}


def tuning_runs(spec: Spec, plan) -> tuple[list, dict]:
    """The trial runs of every tunable contender, and why nothing is tuned when nothing is."""
    trials = spec.rules.budget.trials
    selection = spec.rules.selection
    notes = {}
    if trials <= 1:
        return [], {"note": "rules.budget.trials is 1: every contender runs with its default parameters"}
    if selection is None:
        return [], {"note": "rules.selection is not set: no contender is tuned (parity: none is)"}
    runs = []
    contenders = {c.name: c for c in spec.contenders()}
    # what a trial's record holds: its scores on every metric, against the target, by the groups (the
    # tuning metric picks among them later, so it stays out; the primary alone let a trial that never
    # computed a metric added since be reused, and tuned by, with no score)
    ev = spec.evaluate
    scored_by = runkey.digest({"target": ev.target, "groups": list(ev.groups), "metrics": list(ev.metrics)})
    seen = set()
    knowledge = runkey.knowledge_identity(spec)
    for run in plan.runs:
        if run.control or run.name in seen or selection not in run.grant.data:
            if run.name not in seen and not run.control and selection not in run.grant.data:
                notes[run.label] = f"not tuned: it is not granted the selection split '{selection}'"
            continue
        seen.add(run.name)
        space = search_space(spec, contenders[run.name])
        if not space:
            continue
        for t, point in enumerate(candidates(space, trials)):
            params = {**run.params, **point}
            parts = {"key_version": runkey.KEY_VERSION, "task": "tune", "evaluate": scored_by,
                     "rules": runkey.rules_identity(spec), "model": runkey.digest(runkey.model_identity(spec)),
                     **runkey.data_parts(spec, runkey.read_splits(spec, run.grant, contenders[run.name], tuning=True)),
                     "contender": [run.role, run.name, "trial"], "code": run.code, "control": None, "seed": 0,
                     "params": params, "grant": to_jsonable(run.grant),
                     "knowledge": runkey.granted_knowledge(knowledge, run.grant), "packages": runkey.package_versions()}
            runs.append(TrialRun(runkey.run_key(parts), run.name, run.role, None, 0, params, run.grant, run.declared,
                                 run.code, trial=t))
    return runs, notes


def run_reason(record: dict) -> str:
    """Why a run (or trial) was refused or failed, in one line."""
    reasons = [x for x in record.get("reasons") or [] if x]
    error = (record.get("error") or "").strip()
    text = reasons[0] if reasons else (error.splitlines()[-1] if error else "no reason recorded")
    return text + (f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else "")


def choose(records: list, metric: str) -> dict:
    """label -> {"chosen": params, "trials": [...]} from finished trial records (best by `metric`, first on ties)."""
    from ..judgement.scoring import is_better

    out = {}
    for r in sorted(records, key=lambda r: (r["label"], r["trial"])):
        entry = out.setdefault(r["label"], {"trials": [], "chosen": None, "best": None})
        score = (r.get("metrics") or {}).get(metric)
        trial = {"trial": r["trial"], **({"key": r["key"]} if r.get("key") else {}), "params": r["params"],
                 "status": r["status"], metric: score}
        if r["status"] != "succeeded":
            trial["reason"] = run_reason(r)
        entry["trials"].append(trial)
        if score is None or score != score:  # NaN (no scores to rank by, say) is no score: never the best
            continue
        if entry["best"] is None or is_better(metric, score, entry["best"]):
            entry["best"], entry["chosen"] = score, r["params"]
    return out


__all__ = ["TrialRun", "candidates", "carve", "choose", "run_reason", "search_space", "tuning_runs"]
