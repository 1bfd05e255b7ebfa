"""A few evaluation examples per contender, with its predictions, for report.html.

evaluation.jsonl holds each example's input, label and groups; a run's predictions.jsonl lines up
with it by `index`. Per contender (its first seed's run), the examples shown come from where its
groups disagree most: its worst group by accuracy (its mistakes first) and its best group, so a
reader sees what the metric's gap is made of. Read from the bundle: nothing is rerun.
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
    try:
        evaluation = _jsonl(root / "evaluation.jsonl")
    except (OSError, ValueError):
        return []
    if not evaluation or "text" not in evaluation[0] or target is None:
        return []
    out, seen = [], set()
    for run in sorted(results.get("runs") or [], key=lambda r: r.get("seed", 0)):
        if run.get("label") in seen or run.get("status") != "succeeded":
            continue
        try:
            predictions = {p["index"]: p.get("prediction") for p in _jsonl(root / "runs" / run["key"] / "predictions.jsonl")}
        except (OSError, ValueError, KeyError, TypeError):
            continue
        seen.add(run["label"])
        entry = _pick(evaluation, predictions, target, groups)
        if entry is not None:
            out.append({"label": run["label"], "role": run.get("role", ""), "seed": run.get("seed"), **entry})
    return out


def _pick(evaluation, predictions, target, groups) -> dict | None:
    by_group: dict = {}
    for row in evaluation:
        if row.get("index") not in predictions:
            continue
        key = " / ".join(str(row.get(g)) for g in groups) if groups else "all"
        by_group.setdefault(key, []).append(row)
    if not by_group:
        return None

    def accuracy(rows):
        return sum(predictions[r["index"]] == r.get(target) for r in rows) / len(rows)

    ranked = sorted(by_group, key=lambda k: (accuracy(by_group[k]), k))
    worst, best = ranked[0], ranked[-1]
    rows = []
    for group, count in ((worst, SHOWN[0]), (best, SHOWN[1])):
        members = by_group[group]
        wrong_first = sorted(members, key=lambda r: (predictions[r["index"]] == r.get(target), r["index"]))
        for r in wrong_first[:count]:
            text = str(r.get("text", ""))
            rows.append({"index": r["index"], "group": group, "label": r.get(target),
                         "prediction": predictions[r["index"]], "correct": predictions[r["index"]] == r.get(target),
                         "text": text if len(text) <= TEXT_CHARS else text[:TEXT_CHARS] + "…"})
        if worst == best:
            break
    return {"worst": {"group": worst, "accuracy": round(accuracy(by_group[worst]), 4), "n": len(by_group[worst])},
            "best": {"group": best, "accuracy": round(accuracy(by_group[best]), 4), "n": len(by_group[best])},
            "rows": rows}
