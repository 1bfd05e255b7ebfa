"""A few evaluation examples per contender, with its predictions, for report.html.

evaluation.jsonl holds each example's input, label and groups; a run's predictions.jsonl lines up
with it by `index`. Per contender (its first seed's run), the examples shown come from where its
groups disagree most: its worst group by accuracy (its mistakes first) and its best group, so a
reader sees what the metric's gap is made of. Read from the bundle: nothing is rerun.

In a generation task the "label" is the scorer's reference (where it names a column), the
prediction is the generated text beside the score the rules' scorer gave it, and a group is
ranked by its mean score (its lowest-scored texts first).
"""
from __future__ import annotations

import json
from pathlib import Path

SHOWN = (3, 2)  # from the worst group, from the best group
TEXT_CHARS = 240  # an example's input is cut there in the report (the file has it whole)


def _jsonl(path: Path) -> list:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def contender_examples(root, results: dict) -> list[dict]:
    """[{label, worst, best, rows: [{index, text, label, groups, prediction, correct, group}]}]; [] when
    the bundle has no inputs to show (written before evaluation.jsonl carried them)."""
    root = Path(root)
    ev = results.get("evaluate") or {}
    target, groups = ev.get("target"), list(ev.get("groups") or [])
    generation = ev.get("kind") == "generation"
    if generation:
        target = _reference_column(ev.get("scorer"))
    try:
        evaluation = _jsonl(root / "evaluation.jsonl")
    except (OSError, ValueError):
        return []
    if not evaluation or "text" not in evaluation[0] or (target is None and not generation):
        return []
    out, seen = [], set()
    for run in sorted(results.get("runs") or [], key=lambda r: r.get("seed", 0)):
        if run.get("label") in seen or run.get("status") != "succeeded":
            continue
        try:
            rows = _jsonl(root / "runs" / run["key"] / "predictions.jsonl")
            predictions = {p["index"]: p.get("prediction") for p in rows}
            scores = {p["index"]: p.get("score") for p in rows} if generation else None
        except (OSError, ValueError, KeyError, TypeError):
            continue
        seen.add(run["label"])
        entry = _pick(evaluation, predictions, target, groups, scores)
        if entry is not None:
            out.append({"label": run["label"], "role": run.get("role", ""), "seed": run.get("seed"), **entry})
    return out


def _reference_column(scorer) -> str | None:
    from ..spec.scorer_syntax import ScorerSyntaxError, parse_scorer

    try:
        columns = parse_scorer(scorer).columns if isinstance(scorer, str) else ()
    except ScorerSyntaxError:
        return None
    return columns[0] if columns else None


def _cut(text) -> str:
    text = str(text if text is not None else "")
    return text if len(text) <= TEXT_CHARS else text[:TEXT_CHARS] + "…"


def _pick(evaluation, predictions, target, groups, scores=None) -> dict | None:
    """`scores` (generation): each text's score by index; a row's merit is its score, not a match."""
    by_group: dict = {}
    for row in evaluation:
        if row.get("index") not in predictions:
            continue
        key = " / ".join(str(row.get(g)) for g in groups) if groups else "all"
        by_group.setdefault(key, []).append(row)
    if not by_group:
        return None

    def merit(r) -> float:
        if scores is not None:
            value = scores.get(r["index"])
            return float(value) if isinstance(value, (int, float)) else 0.0
        return float(predictions[r["index"]] == r.get(target))

    def accuracy(rows):
        return sum(merit(r) for r in rows) / len(rows)

    ranked = sorted(by_group, key=lambda k: (accuracy(by_group[k]), k))
    worst, best = ranked[0], ranked[-1]
    rows = []
    for group, count in ((worst, SHOWN[0]), (best, SHOWN[1])):
        members = by_group[group]
        wrong_first = sorted(members, key=lambda r: (merit(r), r["index"]))
        for r in wrong_first[:count]:
            prediction = predictions[r["index"]]
            row = {"index": r["index"], "group": group, "label": r.get(target) if target else None,
                   "prediction": _cut(prediction) if scores is not None else prediction,
                   "correct": merit(r) >= 1.0, "text": _cut(r.get("text", ""))}
            if scores is not None:
                row["score"] = merit(r)
            rows.append(row)
        if worst == best:
            break
    return {"generation": scores is not None,
            "worst": {"group": worst, "accuracy": round(accuracy(by_group[worst]), 4), "n": len(by_group[worst])},
            "best": {"group": best, "accuracy": round(accuracy(by_group[best]), 4), "n": len(by_group[best])},
            "rows": rows}
