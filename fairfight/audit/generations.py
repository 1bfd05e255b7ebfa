"""The audit of a generation task's bundle: every generated text rescored with the spec's scorer
(loaded in the auditor's process, as the eval loaded it in the orchestrator) against the score
written beside it, and `score` and `group_scores` recomputed from the scores."""
from __future__ import annotations

from ..errors import FairfightError
from ..evaluator.judgement.generations import GenerationScoring, texts_problem
from .compare import _close


def loaded_scoring(auditor, spec) -> tuple:
    """(the spec's scorer, None) or (None, why it cannot be loaded): loaded once per audit (the
    metrics and the tuning trials both rescore with it)."""
    if auditor.scoring is None:
        try:
            auditor.scoring = (GenerationScoring(spec), None)
        except FairfightError as exc:
            auditor.scoring = (None, exc)
    return auditor.scoring


def check_generation_metrics(auditor, spec, columns) -> None:
    """Each generated text rescored here with the spec's scorer (run in this process, as the eval
    did), against the score beside it; `score` and `group_scores` recomputed from the scores."""
    ev = auditor.results["evaluate"]
    scorer = None
    if spec is not None:
        scorer, exc = loaded_scoring(auditor, spec)
        if exc is not None:
            auditor.finding("metrics", f"cannot load the scorer: {exc}")
    for run in auditor.results.get("runs", []):
        if run["status"] != "succeeded":
            continue
        where = f"{run['label']} seed {run['seed']}"
        rows = auditor.scored_rows("metrics", where, run["key"], len(columns.get("text", [])), "evaluation prompts")
        if rows is None:
            continue
        problem = texts_problem([{"prediction": r.get("prediction")} for r in rows], len(rows))
        stored = [r.get("score") for r in rows]
        if problem or not all(isinstance(v, (int, float)) for v in stored):
            auditor.finding("metrics", f"{where}: its predictions are not generated texts with their scores"
                                    f"{': ' + problem if problem else ''}")
            continue
        scores = stored
        if scorer is not None:
            try:
                scores = scorer.scores([r["prediction"] for r in rows], columns)
            except FairfightError as exc:
                auditor.finding("metrics", f"{where}: {exc}")
                continue
            moved = [i for i, (a, b) in enumerate(zip(stored, scores)) if not _close(a, b)]
            if moved:
                auditor.finding("metrics", f"{where}: {len(moved)} text(s) score otherwise with the spec's scorer "
                                        f"than predictions.jsonl says (row {moved[0]}: {stored[moved[0]]} there, "
                                        f"{scores[moved[0]]} now)")
        recomputed = GenerationScoring.summarise(scores, columns, ev["groups"], ev["metrics"])
        recorded = {**(run.get("metrics") or {}), **({"group_scores": run["group_scores"]}
                                                   if "group_scores" in run else {})}
        for metric, value in recomputed.items():
            if not _close(value, recorded.get(metric)):
                auditor.finding("metrics", f"{where}: {metric} is {recorded.get(metric)} in "
                                        f"results.json, but {value} from its scores")
