"""Paired bootstrap over evaluation examples and seeds.

A resample is a vector of multinomial weights over examples (and a draw of seeds); every metric
is a function of weighted sums, so one matrix product scores all resamples at once, and both
arms of a comparison are scored on the very same resamples (paired).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...spec.vocabulary import metric_subset, split_metric, subset_rows
from .scoring import HIGHER_IS_BETTER, group_keys


@dataclass(frozen=True)
class Resamples:
    weights: np.ndarray  # [B, n] multinomial counts (each row sums to n)
    seeds: np.ndarray  # [B, S] indices into an arm's runs (drawn with replacement)


def resamples(n: int, n_seeds: int, b: int, seed: int = 0) -> Resamples:
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=b).astype(np.float64)
    seeds = rng.integers(0, n_seeds, size=(b, n_seeds)) if n_seeds > 1 else np.zeros((b, 1), dtype=int)
    return Resamples(weights, seeds)


class EvalSet:
    """The evaluation split's labels and groups, and a metric computed under resampling."""

    def __init__(self, gold, columns: dict, groups):
        self.gold = list(gold)
        self.columns = columns
        self.groups = list(groups)
        self.n = len(self.gold)
        self._group_ids = _ids(group_keys(columns, self.groups))

    def values(self, metric: str, predictions, scores=None, classes=(), weights=None) -> np.ndarray:
        """The metric of one run's predictions under each weight row ([B]; weights None: the plain value)."""
        w = np.ones((1, self.n)) if weights is None else weights
        name, arg = split_metric(metric)
        pred = list(predictions)
        if name == "score":  # generation: `predictions` are the per-example scores
            subset = metric_subset(metric)
            if subset is not None:  # the mean over the rows whose column is the value (none there: NaN)
                w = w * np.array(subset_rows(subset, self.columns), dtype=float)
            with np.errstate(invalid="ignore", divide="ignore"):
                return (w @ np.asarray(pred, dtype=float)) / w.sum(1)
        if name == "accuracy":
            correct = np.array([p == g for p, g in zip(pred, self.gold)], dtype=float)
            return (w @ correct) / w.sum(1)
        if name == "worst_group_accuracy":
            correct = np.array([p == g for p, g in zip(pred, self.gold)], dtype=float)
            onehot = _onehot(self._group_ids)
            hits, counts = w @ (onehot * correct[:, None]), w @ onehot
            with np.errstate(invalid="ignore", divide="ignore"):
                acc = np.where(counts > 0, hits / np.maximum(counts, 1e-12), np.inf)
            return acc.min(1)
        if name == "leakage":
            attr = _ids(self.columns[arg])
            pids = _ids(pred)
            k = attr.max() + 1
            cells = w @ _onehot(pids * k + attr, (pids.max() + 1) * k)
            cells = cells.reshape(len(w), pids.max() + 1, k)
            return cells.max(2).sum(1) / w.sum(1)
        if name == "f1":
            return _f1(pred, self.gold, w)
        if name == "auroc":
            return _auroc(self.gold, scores, classes, w)
        raise ValueError(f"metric '{metric}' cannot be resampled")


def _ids(values) -> np.ndarray:
    index = {}
    return np.array([index.setdefault(v, len(index)) for v in values], dtype=int)


def _onehot(ids, k=None) -> np.ndarray:
    k = int(ids.max()) + 1 if k is None else k
    out = np.zeros((len(ids), k))
    out[np.arange(len(ids)), ids] = 1.0
    return out


def _f1(pred, gold, w) -> np.ndarray:
    classes = sorted(set(gold) | set(pred), key=str)
    scores = []
    for c in classes:
        tp = w @ np.array([p == c and g == c for p, g in zip(pred, gold)], dtype=float)
        fp = w @ np.array([p == c and g != c for p, g in zip(pred, gold)], dtype=float)
        fn = w @ np.array([p != c and g == c for p, g in zip(pred, gold)], dtype=float)
        denom = 2 * tp + fp + fn
        scores.append(np.where(denom > 0, 2 * tp / np.maximum(denom, 1e-12), 0.0))
    return np.mean(scores, axis=0)


def _auroc(gold, scores, classes, w) -> np.ndarray:
    if not scores or not classes or not np.isfinite(np.asarray(scores, dtype=float)).all():
        return np.full(len(w), np.nan)  # non-finite scores fail their run before (batching.py)
    values = []
    for ci, c in enumerate(classes):
        s = np.array([row[ci] for row in scores])
        pos = np.array([g == c for g in gold])
        values.append(_weighted_auc(s, pos, w))
        if len(classes) == 2:
            break
    return np.mean(values, axis=0)


def _weighted_auc(s, pos, w) -> np.ndarray:
    """Mann-Whitney AUC with example weights (ties count half), for every weight row at once."""
    order = np.argsort(s, kind="mergesort")
    s, pos, w = s[order], pos[order], w[:, order]
    neg_w, pos_w = w * (~pos), w * pos
    # negatives strictly below each example, and negatives tied with it
    uniq, start = np.unique(s, return_index=True)
    group = np.searchsorted(uniq, s)
    neg_by_group = np.add.reduceat(neg_w, start, axis=1) if len(start) else neg_w
    below = np.cumsum(neg_by_group, axis=1) - neg_by_group
    credit = below[:, group] + 0.5 * neg_by_group[:, group]
    num = (pos_w * credit).sum(1)
    den = pos_w.sum(1) * neg_w.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


@dataclass(frozen=True)
class Arm:
    """One contender's runs (one per seed): predictions and optional per-class scores."""

    label: str
    predictions: list  # list over seeds of per-example labels
    scores: list  # list over seeds of per-example score rows (or None)
    classes: list  # list over seeds of class tuples

    def resampled(self, ev: "EvalSet", metric: str, rs: Resamples) -> np.ndarray:
        """[B]: the metric averaged over the resample's seeds."""
        per_seed = np.stack([ev.values(metric, p, s, c, rs.weights)
                             for p, s, c in zip(self.predictions, self.scores, self.classes)])  # [S, B]
        picks = rs.seeds % len(self.predictions)
        return np.take_along_axis(per_seed.T, picks, axis=1).mean(1)

    def point(self, ev: "EvalSet", metric: str) -> float:
        return float(np.mean([ev.values(metric, p, s, c)[0]
                              for p, s, c in zip(self.predictions, self.scores, self.classes)]))


@dataclass(frozen=True)
class Comparison:
    metric: str
    subject: str
    against: str
    difference: float  # how much better the subject is (sign-adjusted for lower-is-better metrics)
    low: float
    high: float
    subject_value: float
    against_value: float

    def to_dict(self) -> dict:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def differences(ev: EvalSet, metric: str, subject: Arm, against: Arm, rs: Resamples) -> np.ndarray:
    """How much better the subject is than `against` under each resample (finite ones only)."""
    sign = 1.0 if HIGHER_IS_BETTER[split_metric(metric)[0]] else -1.0
    diff = sign * (subject.resampled(ev, metric, rs) - against.resampled(ev, metric, rs))
    return diff[np.isfinite(diff)]


def compare(ev: EvalSet, metric: str, subject: Arm, against: Arm, rs: Resamples, confidence: float) -> Comparison:
    """Paired bootstrap CI of 'subject better than against' on `metric`."""
    sign = 1.0 if HIGHER_IS_BETTER[split_metric(metric)[0]] else -1.0
    diff = differences(ev, metric, subject, against, rs)
    point = sign * (subject.point(ev, metric) - against.point(ev, metric))
    alpha = (1.0 - confidence) / 2
    low, high = (np.quantile(diff, [alpha, 1 - alpha]) if len(diff) else (np.nan, np.nan))
    return Comparison(metric, subject.label, against.label, float(point), float(low), float(high),
                      subject.point(ev, metric), against.point(ev, metric))
