import math

import pytest

from fairfight.evaluator.judgement import scoring


def test_accuracy_and_groups():
    pred = ["a", "a", "b", "b"]
    gold = ["a", "b", "b", "b"]
    cols = {"g": ["x", "x", "y", "y"]}
    assert scoring.compute("accuracy", pred, gold, columns=cols, groups=["g"]) == 0.75
    assert scoring.compute("worst_group_accuracy", pred, gold, columns=cols, groups=["g"]) == 0.5
    assert scoring.compute("group_accuracy", pred, gold, columns=cols, groups=["g"]) == {"x": 0.5, "y": 1.0}


def test_leakage_is_the_best_map_from_predictions_to_the_attribute():
    attr = ["m", "f"] * 50
    pred_tracks = ["p" if a == "m" else "n" for a in attr]
    assert scoring.leakage(pred_tracks, None, attribute=attr) == 1.0
    pred_blind = ["p", "p", "n", "n"] * 25  # independent of the attribute
    assert scoring.leakage(pred_blind, None, attribute=attr) == 0.5
    assert scoring.leakage(["p"] * 100, None, attribute=attr) == 0.5


def test_macro_f1():
    assert scoring.macro_f1(["a", "b"], ["a", "b"]) == 1.0
    assert scoring.macro_f1(["a", "a", "a", "a"], ["a", "a", "b", "b"]) == pytest.approx((2 / 3 + 0) / 2)


def test_auroc():
    gold = ["a", "a", "b", "b"]
    perfect = [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.1, 0.9]]
    assert scoring.auroc(None, gold, scores=perfect, classes=("a", "b")) == 1.0
    reversed_ = [list(reversed(s)) for s in perfect]
    assert scoring.auroc(None, gold, scores=reversed_, classes=("a", "b")) == 0.0
    ties = [[0.5, 0.5]] * 4
    assert scoring.auroc(None, gold, scores=ties, classes=("a", "b")) == 0.5
    assert math.isnan(scoring.auroc(["a"], ["a"]))


def test_direction_of_metrics():
    assert scoring.is_better("accuracy", 0.9, 0.8) and scoring.is_better("leakage(gender)", 0.5, 0.9)


def test_a_metric_whose_column_is_missing_has_no_value_and_the_others_still_do():
    """A tuning trial is scored on the selection split, which may lack the evaluation's group column
    'gender': accuracy (what the selection-groups warning advises tuning by) must still be computed."""
    got = scoring.score_all(["accuracy", "worst_group_accuracy", "leakage(gender)", "group_accuracy"], ["a", "b"],
                            ["a", "a"], columns={"text": ["x", "y"], "profession": ["a", "a"]},
                            groups=["profession", "gender"])
    assert got["accuracy"] == 0.5 and math.isnan(got["worst_group_accuracy"]) and math.isnan(got["leakage(gender)"])
    assert got["group_accuracy"] == {}


def test_auroc_with_nan_or_infinite_scores_is_nan_and_returns():
    """The tie loop never advanced on a NaN (NaN == NaN is false): the eval hung."""
    import numpy as np

    from fairfight.evaluator.judgement import stats

    gold = ["a", "b", "a", "b"]
    for bad in (float("nan"), float("inf")):
        scores = [[bad, 0.5], [0.2, 0.8], [0.9, 0.1], [0.4, 0.6]]
        assert math.isnan(scoring.auroc(None, gold, scores=scores, classes=("a", "b")))
        assert np.isnan(stats._auroc(gold, scores, ("a", "b"), np.ones((2, 4)))).all()
    assert scoring._auc([float("nan"), 0.3], [float("nan"), 0.1]) == scoring._auc([float("nan"), 0.3], [float("nan"), 0.1])
