"""train_topk by steps: its history, its time limit (a warning, never silent), the sparse
encoder gradient (the same numbers autograd gives through the dense product), and sparse
token-level latents from ctx.model.features(pool="sparse")."""
import warnings

import pytest
import torch

from fairfight.errors import FairfightError
from fairfight.sae import SAE, train_topk
from fairfight.sae.pooling import sparse_latents
from fairfight.sae.train import _selected, fraction_of_variance_explained


def _acts(n=3000, seed=0):
    g = torch.Generator().manual_seed(seed)
    atoms = torch.randn(32, 16, generator=g)
    codes = torch.rand(n, 32, generator=g) * (torch.rand(n, 32, generator=g) < 0.1)
    return codes @ atoms + 3.0


def test_steps_are_counted_and_the_history_shows_learning():
    acts = _acts()
    sae = train_topk(acts[:2500], width=64, k=4, seed=1, steps=300, batch_size=256, lr=1e-2, log_every=50)
    t = sae.training
    assert t["steps"] == t["planned_steps"] == 300 and t["batch_size"] == 256 and t["stopped"] is None
    assert [h["step"] for h in t["history"]] == [50, 100, 150, 200, 250, 300]
    assert t["history"][-1]["loss"] < t["history"][0]["loss"]
    assert t["history"][-1]["fve"] > t["history"][0]["fve"] and t["fve"] == t["history"][-1]["fve"]
    assert 0 <= t["dead"] <= 64
    held_out = fraction_of_variance_explained(sae, acts[2500:])
    assert held_out > 0.7, held_out
    assert abs(held_out - t["fve"]) < 0.15  # the training FVE is close to the held-out one here
    with pytest.raises(FairfightError, match="steps or epochs"):
        train_topk(acts, width=8, k=2, steps=3, epochs=1)


def test_a_time_limit_that_cuts_training_warns():
    acts = _acts(500)
    with pytest.warns(RuntimeWarning, match=r"stopped by max_seconds=0 after 1 of 40 steps"):
        sae = train_topk(acts, width=32, k=4, steps=40, batch_size=100, max_seconds=0)
    assert sae.training["steps"] == 1 and "undertrained" in sae.training["stopped"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a limit that is not reached says nothing
        done = train_topk(acts, width=32, k=4, steps=5, batch_size=100, max_seconds=600)
    assert done.training["steps"] == 5 and done.training["stopped"] is None


def test_the_sparse_encoder_gradient_is_the_dense_one():
    g = torch.Generator().manual_seed(3)
    xc = torch.randn(40, 12, generator=g, requires_grad=True)
    w = torch.randn(12, 30, generator=g, requires_grad=True)
    b = torch.randn(30, generator=g, requires_grad=True)
    weight = torch.randn(40, 5, generator=g)
    with torch.no_grad():
        pre = torch.addmm(b, xc, w)
        idx = pre.topk(5, dim=-1).indices
    (torch.relu(_selected(xc, w, b, pre, idx)) * weight).sum().backward()
    sparse = [t.grad.clone() for t in (xc, w, b)]
    for t in (xc, w, b):
        t.grad = None
    (torch.relu(torch.addmm(b, xc, w).gather(1, idx)) * weight).sum().backward()
    for got, want in zip(sparse, (xc.grad, w.grad, b.grad)):
        assert torch.allclose(got, want, atol=1e-5)


def _relu_sae(d=16, m=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    return SAE(torch.randn(d, m, generator=g), torch.randn(m, generator=g) - 2.0, torch.randn(m, d, generator=g),
               torch.zeros(d), "relu")


@pytest.mark.parametrize("kind", ["topk", "relu"])
def test_sparse_latents_scatter_back_to_the_dense_ones(kind):
    acts = _acts(300)
    sae = train_topk(acts, width=48, k=4, steps=20, batch_size=100) if kind == "topk" else _relu_sae()
    offsets = [0, 100, 100, 250, 300]  # an empty text too
    pieces = sparse_latents(sae, acts.numpy(), offsets)
    assert len(pieces) == 4 and pieces[1][0].shape[0] == 0
    for (idx, val), (a, b) in zip(pieces, zip(offsets, offsets[1:])):
        dense = torch.zeros((b - a, sae.d_sae)).scatter_add(1, idx, val)
        assert torch.allclose(dense, sae.encode(acts[a:b]), atol=1e-5)
        if kind == "topk":
            assert idx.shape[1] == 4
