"""Metrics, computed by the evaluator (in the parent process) from predictions and labels.

Every metric is a function of per-example arrays, so verdicts can resample examples and
recompute them exactly (paired bootstrap).
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict

from ...spec.vocabulary import GROUP_METRICS, split_metric

HIGHER_IS_BETTER = {"accuracy": True, "group_accuracy": True, "worst_group_accuracy": True, "auroc": True,
                    "f1": True, "leakage": False, "score": True}


def accuracy(pred, gold, **_) -> float:
    return sum(p == g for p, g in zip(pred, gold)) / len(gold) if gold else float("nan")


def group_accuracies(pred, gold, groups) -> dict:
    """Accuracy per group; `groups` is one hashable group key per example."""
    hits, counts = defaultdict(int), Counter(groups)
    for p, g, k in zip(pred, gold, groups):
        hits[k] += p == g
    return {k: hits[k] / n for k, n in counts.items()}


def worst_group_accuracy(pred, gold, groups=None, **_) -> float:
    return min(group_accuracies(pred, gold, groups).values()) if gold else float("nan")


def leakage(pred, gold, attribute=None, **_) -> float:
    """How well the predictions alone predict the attribute: the accuracy of the best map from
    predicted label to attribute value. 0.5 means no information for two balanced groups."""
    if not pred:
        return float("nan")
    by_pred = defaultdict(Counter)
    for p, a in zip(pred, attribute):
        by_pred[p][a] += 1
    return sum(max(c.values()) for c in by_pred.values()) / len(pred)


def macro_f1(pred, gold, **_) -> float:
    classes = sorted(set(gold) | set(pred), key=str)
    scores = []
    for c in classes:
        tp = sum(p == c and g == c for p, g in zip(pred, gold))
        fp = sum(p == c and g != c for p, g in zip(pred, gold))
        fn = sum(p != c and g == c for p, g in zip(pred, gold))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return sum(scores) / len(scores) if scores else float("nan")


def auroc(pred, gold, scores=None, classes=(), **_) -> float:
    """Macro one-vs-rest AUROC from per-class probabilities (NaN when a predictor gave none)."""
    if not scores or not classes:
        return float("nan")
    if not all(math.isfinite(v) for row in scores for v in row):  # runs with such scores fail before (batching.py)
        return float("nan")
    values = []
    for ci, c in enumerate(classes):
        pos = [s[ci] for s, g in zip(scores, gold) if g == c]
        neg = [s[ci] for s, g in zip(scores, gold) if g != c]
        if pos and neg:
            values.append(_auc(pos, neg))
        if len(classes) == 2:
            break  # the two one-vs-rest curves are mirror images
    return sum(values) / len(values) if values else float("nan")


def _auc(pos, neg) -> float:
    """Mann-Whitney U / (|pos| |neg|), with ties counted half."""
    ranked = sorted([(v, 1) for v in pos] + [(v, 0) for v in neg])
    rank_sum, i = 0.0, 0
    while i < len(ranked):
        j = i + 1  # a value always ties with itself (a NaN equals nothing: starting at i never advanced)
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        avg_rank = (i + j + 1) / 2
        rank_sum += avg_rank * sum(flag for _, flag in ranked[i:j])
        i = j
    u = rank_sum - len(pos) * (len(pos) + 1) / 2
    return u / (len(pos) * len(neg))


_FUNCTIONS = {"accuracy": accuracy, "worst_group_accuracy": worst_group_accuracy, "leakage": leakage,
              "f1": macro_f1, "auroc": auroc}


def group_keys(columns: dict, groups) -> list:
    """One group key per example: the tuple of its values in the group columns."""
    n = len(next(iter(columns.values()))) if columns else 0
    return [tuple(str(columns[g][i]) for g in groups) for i in range(n)] if groups else [("all",)] * n


def compute(metric: str, pred, gold, *, columns: dict, groups, scores=None, classes=()):
    """The value of one metric (a dict for group_accuracy)."""
    name, arg = split_metric(metric)
    # a tuning trial is scored on the selection split, which may lack a group or attribute column that
    # the evaluation split has: that metric has no value there (the others still do)
    needs = list(groups) if name in GROUP_METRICS else [arg] if arg else []
    if any(c not in columns for c in needs):
        return {} if name == "group_accuracy" else float("nan")
    keys = group_keys(columns, groups) if name in GROUP_METRICS else None
    if name == "group_accuracy":
        return {"/".join(k): v for k, v in sorted(group_accuracies(pred, gold, keys).items())}
    return _FUNCTIONS[name](pred, gold, groups=keys, attribute=columns.get(arg), scores=scores, classes=classes)


def score_all(metrics, pred, gold, *, columns, groups, scores=None, classes=()) -> dict:
    return {m: compute(m, pred, gold, columns=columns, groups=groups, scores=scores, classes=classes) for m in metrics}


def is_better(metric: str, a: float, b: float) -> bool:
    return a > b if HIGHER_IS_BETTER[split_metric(metric)[0]] else a < b
