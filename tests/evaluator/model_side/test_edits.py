import json
import pickle

import numpy as np
import pytest
import torch

from fairfight.errors import FairfightError
from fairfight.evaluator.model_side.edits import Ablate, AddVector, ProjectOut, apply_edits, edit_from_dict

D = 8


def _edits():
    g = torch.Generator().manual_seed(0)
    v = torch.randn(D, generator=g)
    return [
        ProjectOut(1, v),
        ProjectOut(2, np.random.default_rng(0).normal(size=(2, D))),
        Ablate(0, dims=[3, 1]),
        Ablate(1, directions=[v.tolist()], mode="mean", mean=torch.ones(D)),
        AddVector(-1, list(range(D)), scale=0.5),
    ]


@pytest.mark.parametrize("edit", _edits(), ids=lambda e: type(e).__name__)
def test_round_trip_through_json(edit):
    d = json.loads(json.dumps(edit.to_dict()))
    assert edit_from_dict(d) == edit
    assert type(edit).from_dict(d) == edit
    assert pickle.loads(pickle.dumps(edit)) == edit
    hash(edit)


def test_vectors_from_tensor_numpy_and_list_are_equal():
    v = [0.5, -1.0, 2.0, 0.0]
    assert AddVector(1, torch.tensor(v)) == AddVector(1, np.array(v)) == AddVector(1, v)
    assert isinstance(AddVector(1, v).vector, tuple)


def test_tampered_vector_is_rejected():
    d = AddVector(1, [1.0, 2.0]).to_dict()
    d["vector"][0] = 1.5
    with pytest.raises(FairfightError, match="sha256"):
        edit_from_dict(d)


@pytest.mark.parametrize("bad", [
    lambda: Ablate(1),
    lambda: Ablate(1, dims=[1], directions=[[1.0, 0.0]]),
    lambda: Ablate(1, dims=[1], mode="mean"),
    lambda: Ablate(1, dims=[1], mode="median"),
    lambda: ProjectOut(1, [[0.0, 0.0]]),
    lambda: AddVector(1, [float("nan")]),
    lambda: AddVector("1", [1.0]),
    lambda: edit_from_dict({"type": "rotate", "layer": 1}),
])
def test_invalid_edits(bad):
    with pytest.raises(FairfightError):
        bad()


def test_apply_edits_math():
    g = torch.Generator().manual_seed(1)
    h = torch.randn(3, 5, D, generator=g)
    a, b = torch.randn(D, generator=g), torch.randn(D, generator=g)
    out = apply_edits(h, [ProjectOut(1, torch.stack([a, b, a + b]))])  # dependent directions are fine
    assert (out @ a).abs().max() < 1e-4 and (out @ b).abs().max() < 1e-4
    z = apply_edits(h, [Ablate(1, dims=[0, 4])])
    assert (z[..., [0, 4]] == 0).all() and torch.equal(z[..., 1], h[..., 1])
    mean = torch.arange(D, dtype=torch.float32)
    m = apply_edits(h, [Ablate(1, dims=[2], mode="mean", mean=mean)])
    assert torch.allclose(m[..., 2], torch.full_like(m[..., 2], 2.0))
    u = a / a.norm()
    md = apply_edits(h, [Ablate(1, directions=a, mode="mean", mean=mean)])
    assert torch.allclose(md @ u, torch.full((3, 5), float(mean @ u)), atol=1e-5)
    s = apply_edits(h, [AddVector(1, a, scale=2.0)])
    assert torch.allclose(s - h, (2 * a).expand_as(h), atol=1e-6)


def test_width_mismatch_is_a_clear_error():
    with pytest.raises(FairfightError, match="hidden state has size"):
        apply_edits(torch.zeros(1, 2, D), [AddVector(1, [1.0, 2.0])])
