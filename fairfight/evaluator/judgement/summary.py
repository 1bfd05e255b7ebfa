"""Per-contender numbers for results.json: each metric's mean over seeds with its bootstrap
interval and per-group values (contender_intervals), and the primary metric's mean and spread
over seeds (summarise)."""
from __future__ import annotations

import statistics


def contender_intervals(judge, spec) -> dict:
    """Per contender whose runs all succeeded: each scalar metric's mean over seeds with its
    bootstrap interval (examples and seeds resampled), and per-group accuracies."""
    import numpy as np

    from .generations import group_means
    from .scoring import group_accuracies, group_keys

    alpha = (1 - spec.evaluate.confidence) / 2
    keys = group_keys(judge.evalset.columns, spec.evaluate.groups)
    out = {}
    for label, runs in judge.by_label.items():
        if any(r["status"] != "succeeded" for r in runs):
            continue
        arm = judge.arm(label)
        entry = {}
        for metric in spec.evaluate.metrics:
            if metric == "group_accuracy":
                continue
            values = arm.resampled(judge.evalset, metric, judge.rs)
            values = values[np.isfinite(values)]
            low, high = np.quantile(values, [alpha, 1 - alpha]) if len(values) else (np.nan, np.nan)
            entry[metric] = {"mean": round(arm.point(judge.evalset, metric), 6), "low": round(float(low), 6),
                             "high": round(float(high), 6),
                             "seeds": [round(float(judge.evalset.values(metric, p, s, c)[0]), 6)
                                       for p, s, c in zip(arm.predictions, arm.scores, arm.classes)]}
        per_group = [group_means(p, keys) if spec.evaluate.kind == "generation"  # p: per-example scores
                     else group_accuracies(p, judge.evalset.gold, keys) for p in arm.predictions]
        entry["groups"] = {"/".join(k): round(float(np.mean([g[k] for g in per_group])), 6) for k in sorted(per_group[0])}
        out[label] = entry
    return out


def summarise(runs: list, primary: str) -> list:
    """Per contender: status and the primary metric's mean and spread over seeds."""
    out, by_label = [], {}
    for r in runs:
        by_label.setdefault(r["label"], []).append(r)
    for label, group in by_label.items():
        values = [r["metrics"][primary] for r in group if r.get("metrics") and isinstance(r["metrics"].get(primary), (int, float))]
        statuses = sorted({r["status"] for r in group})
        out.append({"label": label, "role": group[0]["role"], "status": "/".join(statuses), "runs": len(group),
                    "mean": statistics.fmean(values) if values else None,
                    "std": statistics.stdev(values) if len(values) > 1 else (0.0 if values else None)})
    return out
