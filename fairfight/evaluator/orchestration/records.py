"""A finished run's record: what a worker reported, checked and scored on the trusted side, then
written to the bundle and the cache (functions of an Evaluation, runner.py)."""
from __future__ import annotations

from ...errors import FairfightError
from ..judgement import scoring


def finish_run(ev, job, result: dict) -> dict:
    """A finished job's record: its predictions checked (hostile until checked), scored here, written to
    the bundle and the shared cache. The record is the results.json entry of the run."""
    run = ev.runs[job.key]
    record = {**run.describe(), "status": result["status"], "error": result.get("error"),
              "reasons": result.get("reasons", []), "elapsed": round(result.get("elapsed", 0.0), 3),
              "timings": result.get("timings", {}), "metrics": None,
              "ledger": (result.get("ledger") or {}).get("totals"), "isolation": result.get("isolation"),
              "device": result.get("device"),
              "model_access": result.get("model_access")}
    if result.get("batch_check") is not None:
        record["batch_check"] = result["batch_check"]
    predictions = result.get("predictions")
    if record["status"] == "succeeded" and run.control == "random_direction" and not adds_vectors(result):
        record.update(status="failed", error="random_direction: the method added no vector (AddVector) through "
                      "its model handle, so this control would be the method rerun unchanged")
        predictions = None
    if record["status"] == "succeeded" and ev.generation:  # hostile texts: checked, then scored here
        predictions = scored_generations(ev, run, record, predictions)
    elif record["status"] == "succeeded":  # every executor's: a cluster node's report was made beside contender code
        from ..contender_side.batching import rows_problem

        problem = ("it reported no predictions" if not isinstance(predictions, list)
                   else rows_problem(predictions, result.get("classes") or [], ev.classes))
        if problem is None and len(predictions) != len(ev.target_of(run)[1]):
            problem = f"{len(predictions)} predictions for {len(ev.target_of(run)[1])} evaluation inputs"
        if problem:
            record.update(status="failed", error=f"the predictor's output is invalid: {problem}")
            predictions = None
    if record["status"] == "succeeded" and not ev.generation:
        record["metrics"] = score(ev, run, predictions, result.get("classes") or [])
    rows = [{"index": i, **p} for i, p in enumerate(predictions or [])]
    log = "\n".join(result.get("log", []))
    if result.get("traceback"):
        log += ("\n" if log else "") + result["traceback"]
    elif result.get("error"):
        log += ("\n" if log else "") + str(result["error"])
    ev.bundle.write_run(job.key, record, rows, result.get("ledger"), log + "\n")
    if ev.cache is not None:
        ev.cache.store(job.key, ev.bundle)
    ev.records[job.key] = record
    return record

def copy_run(ev, run, source: dict) -> dict:
    """The record of a seed-free run (plan.seed_free) at a later seed: its twin's at the first seed,
    which it would compute again bit for bit (the same code, inputs, model and parameters; no seed
    read). Its predictions, ledger and log are copied; `copied_from` says so, `elapsed` is 0 (nothing
    ran). A failed twin leaves it failed, to be tried again with the twin on resume."""
    import json

    from .bundle import FINISHED

    record = {**{k: v for k, v in source.items() if k != "reused"}, **run.describe(),
              "elapsed": 0.0, "timings": {}, "copied_from": {"key": source["key"], "seed": source["seed"]}}
    folder = ev.bundle.run_dir(source["key"])
    rows, ledger, log = [], None, ""
    if source.get("status") in FINISHED:
        rows = ev.bundle.read_predictions(source["key"])
        ledger = json.loads((folder / "ledger.json").read_text(encoding="utf-8"))
        log = (folder / "log.txt").read_text(encoding="utf-8")
    else:
        record.update(status="failed", metrics=None,
                      error=f"not run: its result is its seed-{source['seed']} run's, which did not succeed "
                            f"({source.get('error') or source.get('status')})")
    ev.bundle.write_run(run.key, record, rows, ledger, log)
    if ev.cache is not None:
        ev.cache.store(run.key, ev.bundle)
    ev.records[run.key] = record
    return record


def scored_generations(ev, run, record: dict, predictions):
    """A generation run's rows with each text's score (None, and the run failed, when the texts are
    invalid or the scorer fails on them); its metrics in `record`."""
    from ..judgement.generations import texts_problem

    _, gold, columns = ev.target_of(run)
    problem = texts_problem(predictions, len(gold))
    if problem:
        record.update(status="failed", error=f"the predictor's output is invalid: {problem}")
        return None
    texts = [p["prediction"] for p in predictions]
    try:
        scores = ev.scoring.scores(texts, columns)
    except FairfightError as exc:  # the rules' scorer, not the contender: said as such
        record.update(status="failed", error=f"the scorer failed: {exc}")
        return None
    record["metrics"] = ev.scoring.metrics(scores, columns, ev.spec.evaluate.metrics)
    if "group_scores" in record["metrics"]:
        record["group_scores"] = record["metrics"].pop("group_scores")
    return [{"prediction": t, "score": s} for t, s in zip(texts, scores)]

def score(ev, run, predictions, classes) -> dict:
    evaluate = ev.spec.evaluate
    _, gold, columns = ev.target_of(run)
    labels = [p["prediction"] for p in predictions]
    scores = [[p["scores"][c] for c in classes] for p in predictions] if classes and all(
        "scores" in p for p in predictions) else None
    return scoring.score_all(evaluate.metrics, labels, gold, columns=columns, groups=evaluate.groups,
                             scores=scores, classes=classes)


def adds_vectors(result: dict) -> bool:
    """Whether a run's ledger (the model server's) records an AddVector among its edits."""
    entries = (result.get("ledger") or {}).get("entries") or []
    return any(e.get("type") == "add_vector" for entry in entries for e in entry.get("edits") or ())
