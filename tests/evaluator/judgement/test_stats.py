"""Paired bootstrap and verdicts on prediction sets with known differences, and the null rate."""
import random

import numpy as np
import pytest

from fairfight.evaluator.judgement import scoring, stats
from fairfight.evaluator.judgement.verdicts import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, _beats, _matches

N = 400


def data(seed=0):
    rng = random.Random(seed)
    gold = [rng.choice(["a", "b"]) for _ in range(N)]
    group = [rng.choice(["m", "f"]) for _ in range(N)]
    return gold, {"y": gold, "g": group}


def noisy(gold, accuracy, seed):
    rng = random.Random(seed)
    return [g if rng.random() < accuracy else ("b" if g == "a" else "a") for g in gold]


def arm(label, *preds):
    return stats.Arm(label, list(preds), [None] * len(preds), [()] * len(preds))


def test_unit_weights_give_the_plain_metrics():
    gold, cols = data()
    ev = stats.EvalSet(gold, cols, ["y", "g"])
    pred = noisy(gold, 0.8, 1)
    scores = [[0.7, 0.3] if p == "a" else [0.2, 0.8] for p in pred]
    for metric in ("accuracy", "worst_group_accuracy", "leakage(g)", "f1", "auroc"):
        plain = scoring.compute(metric, pred, gold, columns=cols, groups=["y", "g"], scores=scores, classes=("a", "b"))
        assert ev.values(metric, pred, scores, ("a", "b"))[0] == pytest.approx(plain), metric


def test_known_differences_give_the_right_verdicts():
    gold, cols = data()
    ev = stats.EvalSet(gold, cols, ["y"])
    rs = stats.resamples(N, 3, 1000, seed=1)
    good = arm("good", *[noisy(gold, 0.9, s) for s in range(3)])
    poor = arm("poor", *[noisy(gold, 0.6, s + 10) for s in range(3)])
    c = stats.compare(ev, "accuracy", good, poor, rs, 0.95)
    assert 0.25 < c.difference < 0.35 and c.low > 0.2
    assert _beats(c, 0.1) == SUPPORTED
    assert _beats(c, 0.5) == NOT_SUPPORTED
    assert _beats(c, c.difference) == INCONCLUSIVE
    twin = arm("twin", *[noisy(gold, 0.9, s + 20) for s in range(3)])
    assert _matches(stats.compare(ev, "accuracy", good, twin, rs, 0.95), 0.08) == SUPPORTED
    assert _matches(stats.compare(ev, "accuracy", good, poor, rs, 0.95), 0.05) == NOT_SUPPORTED


def test_lower_is_better_metrics_are_sign_adjusted():
    gold, cols = data()
    ev = stats.EvalSet(gold, cols, ["g"])
    rs = stats.resamples(N, 1, 500, seed=2)
    tracks_group = arm("tracks", ["a" if g == "m" else "b" for g in cols["g"]])
    blind = arm("blind", noisy(gold, 0.8, 3))
    c = stats.compare(ev, "leakage(g)", blind, tracks_group, rs, 0.95)
    assert c.difference > 0.3 and _beats(c, 0.0) == SUPPORTED  # lower leakage is better


def test_null_comparisons_are_supported_at_most_at_the_nominal_rate():
    """Two arms of the same quality (other seeds): 'A beats B' must rarely be supported."""
    supported = 0
    trials = 200
    for t in range(trials):
        gold, cols = data(1000 + t)
        ev = stats.EvalSet(gold, cols, ["y"])
        rs = stats.resamples(N, 1, 300, seed=t)
        a = arm("a", noisy(gold, 0.75, 2 * t))
        b = arm("b", noisy(gold, 0.75, 2 * t + 1))
        supported += _beats(stats.compare(ev, "accuracy", a, b, rs, 0.95), 0.0) == SUPPORTED
    # one-sided at 2.5% for a 95% interval; allow sampling noise of the rate itself
    assert supported / trials <= 0.05, supported


def test_resampling_seeds_widens_intervals_when_seeds_disagree():
    gold, cols = data()
    ev = stats.EvalSet(gold, cols, ["y"])
    rs = stats.resamples(N, 3, 800, seed=4)
    stable = arm("stable", *[noisy(gold, 0.8, 7)] * 3)
    unstable = arm("unstable", noisy(gold, 0.95, 8), noisy(gold, 0.8, 9), noisy(gold, 0.65, 10))
    base = arm("base", *[noisy(gold, 0.7, 11)] * 3)
    wide = stats.compare(ev, "accuracy", unstable, base, rs, 0.95)
    narrow = stats.compare(ev, "accuracy", stable, base, rs, 0.95)
    assert (wide.high - wide.low) > (narrow.high - narrow.low)


# -- training variance (evaluate.resample) -------------------------------------------------------
def _world(t, n_train=40, n_eval=400):
    """A small training pool and a large evaluation set: the training sample matters."""
    import numpy as np

    rng = np.random.default_rng(t)

    def draw(n):
        y = rng.integers(0, 2, n)
        x = rng.normal(0, 1.0, (n, 2)) + np.where(y[:, None] == 1, 0.6, -0.6)
        return x, ["a" if v else "b" for v in y]

    return draw(n_train), draw(n_eval)


def _nearest_centroid(x_train, y_train, x_eval):
    """A deterministic learner: its seed spread comes from the training sample alone."""
    import numpy as np

    y = np.array(y_train)
    ca, cb = x_train[y == "a"].mean(0), x_train[y == "b"].mean(0)
    return ["a" if p else "b" for p in ((x_eval - ca) ** 2).sum(1) < ((x_eval - cb) ** 2).sum(1)]


def _null_rate(kind, *, resample_seeds=True, trials=200, seeds=3):
    """How often 'A beats A with other seeds' is supported, each seed training on its own resample."""
    import numpy as np

    from fairfight.data.sources import Table
    from fairfight.data.splits import resample_rows
    from fairfight.spec.build import parse_resample

    resample, supported = parse_resample(kind), 0
    for t in range(trials):
        (xt, yt), (xe, ye) = _world(t)
        table = Table({"row": list(range(len(yt))), "y": yt})

        def run(seed):
            rows = resample_rows(table, resample, "train", seed)
            return _nearest_centroid(xt[rows], [yt[i] for i in rows], xe)

        ev = stats.EvalSet(ye, {"y": ye}, ["y"])
        rs = stats.resamples(len(ye), seeds, 300, seed=t)
        if not resample_seeds:
            rs = stats.Resamples(rs.weights, np.tile(np.arange(seeds), (len(rs.weights), 1)))
        a = arm("a", *[run(s) for s in range(seeds)])
        b = arm("b", *[run(s) for s in range(seeds, 2 * seeds)])
        supported += _beats(stats.compare(ev, "accuracy", a, b, rs, 0.95), 0.0) == SUPPORTED
    return supported / trials


@pytest.mark.parametrize("kind", ["subsample(0.8)", "bootstrap"])
def test_null_rate_with_training_resampling_stays_at_most_nominal(kind):
    """A contender against itself with new seeds, each seed trained on its own resample of the
    training split: 'A beats A' is supported at most at the nominal rate (as above)."""
    assert _null_rate(kind) <= 0.05


def test_the_null_rate_test_can_fail_when_seeds_are_not_resampled():
    """Without resampling seeds in the verdicts, the training sample's variance is ignored and
    bootstrap-trained twins 'beat' each other too often: the test above has teeth."""
    assert _null_rate("bootstrap", resample_seeds=False) > 0.05


def test_a_score_over_some_rows_is_the_mean_over_those_rows_and_is_judged_on_them():
    """score(COLUMN=VALUE): a method that helps the pressured rows and breaks the plain ones is
    better on one metric, worse on the other, judged on the same resamples."""
    rng = random.Random(5)
    level = ["plain" if i % 2 == 0 else "pushed" for i in range(N)]
    ev = stats.EvalSet([None] * N, {"level": level}, ["level"])
    base = [1.0 if (lv == "plain" and rng.random() < 0.9) or (lv == "pushed" and rng.random() < 0.3) else 0.0
            for lv in level]
    steer = [1.0 if (lv == "plain" and rng.random() < 0.5) or (lv == "pushed" and rng.random() < 0.9) else 0.0
             for lv in level]
    for metric, value in (("score(level=plain)", "plain"), ("score(level=pushed)", "pushed")):
        kept = [s for s, lv in zip(steer, level) if lv == value]
        assert ev.values(metric, steer)[0] == pytest.approx(sum(kept) / len(kept))
    assert ev.values("score", steer)[0] == pytest.approx(sum(steer) / N)
    rs = stats.resamples(N, 1, 1000, seed=3)
    pushed = stats.compare(ev, "score(level=pushed)", arm("steer", steer), arm("base", base), rs, 0.95)
    plain = stats.compare(ev, "score(level=plain)", arm("steer", steer), arm("base", base), rs, 0.95)
    assert _beats(pushed, 0.3) == SUPPORTED
    assert _matches(plain, 0.05) == NOT_SUPPORTED and plain.difference < -0.25
    # a value no row has: no number, so nothing can be supported or refuted (eval refuses such a metric first)
    none = stats.compare(ev, "score(level=other)", arm("steer", steer), arm("base", base), rs, 0.95)
    assert np.isnan(none.low) and np.isnan(none.difference) and _beats(none, 0.0) == INCONCLUSIVE
