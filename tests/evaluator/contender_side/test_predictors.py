"""ctx.predictors.linear: the public way to fit a linear head on features a method computed
(the built-in heads use it, like any researcher's method)."""
from types import SimpleNamespace

import pytest
import torch

from fairfight.errors import FairfightError
from fairfight.evaluator.contender_side.predictors import Predictors


def test_linear_fits_separable_features_and_is_seeded():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(60, 5, generator=gen)
    labels = ["a" if v > 0 else "b" for v in x[:, 2].tolist()]
    predictors = Predictors(SimpleNamespace(seed=3))
    head = predictors.linear(x, labels)
    assert head.classes == ("a", "b")
    assert list(head.predict(x).labels) == labels
    again = predictors.linear(x, labels, seed=3)
    assert torch.equal(head.weight, again.weight)


def test_linear_needs_one_label_per_row():
    with pytest.raises(FairfightError, match="3 feature rows but 2 labels"):
        Predictors(SimpleNamespace(seed=0)).linear(torch.zeros(3, 2), ["a", "b"])
