"""A TopK SAE's code (SAE.codes: topk of the pre-activations, relu of the k kept values) against
its definition written out (relu of every pre-activation, then the k largest), on random SAEs
and one trained with train_topk: where latents are active, where fewer than k are positive,
and with exact ties; and the dense encode and the code agreeing bit for bit (the chosen columns
of a ReLU SAE within rounding), so an ablation read off a kept code equals one that encoded."""
import numpy as np
import pytest
import torch

from fairfight.evaluator.model_side.edits import AblateFeatures
from fairfight.sae import SAE, train_topk
from fairfight.sae.codes import forget_codes, topk_codes

D, M, K = 16, 64, 6


def _random(seed=0, bias=0.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(D, M, generator=g) / D ** 0.5, torch.randn(M, generator=g) * 0.2 + bias,
            torch.randn(M, D, generator=g) / D ** 0.5, torch.randn(D, generator=g) * 0.5)


def _x(n=300, seed=7):
    return torch.randn(n, D, generator=torch.Generator().manual_seed(seed))


def _trained():
    g = torch.Generator().manual_seed(0)
    atoms = torch.randn(24, D, generator=g)
    acts = (torch.rand(2000, 24, generator=g) * (torch.rand(2000, 24, generator=g) < 0.15)) @ atoms + 1.0
    return train_topk(acts, width=M, k=K, seed=3, epochs=2, batch_size=250, lr=1e-2), acts[:300]


def _definition(sae, x):
    """The code by definition, in float64: relu every pre-activation, keep the k largest."""
    pre = (x.double() - sae.b_dec.double()) @ sae.W_enc.double() + sae.b_enc.double()
    top = torch.relu(pre).topk(sae.k, dim=-1)
    return top.indices, top.values, pre


def _check_against_definition(sae, x):
    indices, values = sae.codes(x)
    want_idx, want_val, pre = _definition(sae, x)
    assert indices.shape == values.shape == (len(x), sae.k)
    assert torch.allclose(values.double(), want_val, atol=1e-5)  # same values, in the same (descending) order
    # the same active latents wherever the k-th place is not a near-tie of positive values
    gap = want_val[:, -1] - torch.relu(pre).topk(sae.k + 1, dim=-1).values[:, -1]
    clear = (gap > 1e-4) | (want_val[:, -1] == 0)
    assert clear.float().mean() > 0.9
    for row in torch.nonzero(clear).flatten().tolist():
        active = want_val[row] > 0
        assert set(indices[row][active].tolist()) == set(want_idx[row][active].tolist())
    assert (values >= 0).all() and len(set(map(tuple, indices.sort(-1).values.tolist()))) > 1
    # encode() scatters exactly this code
    z = sae.encode(x)
    assert torch.equal(z.gather(-1, indices), values)
    assert int((z > 0).sum()) == int((values > 0).sum())
    return indices, values


@pytest.mark.parametrize("which", ["random", "trained"])
def test_codes_are_the_k_largest_relud_pre_activations(which):
    if which == "random":
        sae, x = SAE(*_random(), "topk", k=K), _x()
    else:
        sae, x = _trained()
    indices, values = _check_against_definition(sae, x)
    assert (values > 0).float().mean() > 0.9  # active latents: the case that matters


def test_fewer_than_k_positive_pre_activations_give_zeros_and_the_same_encode():
    sae = SAE(*_random(bias=-1.2), "topk", k=K)  # most pre-activations negative
    x = _x()
    indices, values = _check_against_definition(sae, x)
    short = (values == 0).any(1)
    assert 0.2 < short.float().mean() < 1.0  # many rows with fewer than k positive, some with k
    assert len(set(indices[0].tolist())) == K  # still k distinct latents named (the extra ones with value 0)
    assert torch.allclose(sae.encode(x).double(), torch.zeros(len(x), M, dtype=torch.float64).scatter(
        -1, *_definition(sae, x)[:2]), atol=1e-5)


def test_exact_ties_keep_k_distinct_latents_and_every_path_agrees():
    """Latents 0..7 are copies of one latent (equal pre-activations, bit for bit): at the k-th place
    which copies are kept is torch.topk's choice; the code, encode() and an ablation read
    off the kept code all make the same one."""
    w_enc, b_enc, w_dec, b_dec = _random(1)
    w_enc[:, :8] = w_enc[:, :1]
    b_enc[:8] = b_enc[0] + 3.0  # strongly positive: the copies fill the top
    sae = SAE(w_enc, b_enc, w_dec, b_dec, "topk", k=K)
    x = _x(50)
    indices, values = sae.codes(x)
    pre = sae.pre_activations(x)
    assert torch.equal(pre[:, :8], pre[:, :1].expand(-1, 8))  # exact ties
    assert all(len(set(r)) == K for r in indices.tolist())
    tied = (indices < 8).sum(1)
    assert (tied > 0).any() and (tied < 8).any()  # the tie is split at the k-th place somewhere
    z = sae.encode(x)
    assert torch.equal(z.gather(-1, indices), values)
    for features, mode, fill in (([0, 3, 9], "zero", None), ([2, 5, 7, 20], "mean", [0.5, -1.0, 2.0, 0.25])):
        edit = AblateFeatures(1, sae, features, mode=mode, fill=fill)
        assert torch.equal(edit.apply(x), edit.apply_coded(x, indices, values))


@pytest.mark.parametrize("which", ["random", "trained"])
def test_every_pre_activation_path_agrees_bit_for_bit(which):
    if which == "random":
        weights, x = _random(2), _x(200, seed=11)
    else:
        trained, x = _trained()
        weights = (trained.W_enc, trained.b_enc, trained.W_dec, trained.b_dec)
    topk, relu = SAE(*weights, "topk", k=K), SAE(*weights, "relu")
    pre = topk.pre_activations(x)
    features = torch.tensor([1, 4, 9, 33, 60])
    # the chosen columns alone: a narrower matmul may take another kernel, so within rounding
    assert torch.allclose(relu.chosen_latents(x, features), torch.relu(pre[:, features]), atol=1e-6)
    assert torch.equal(relu.encode(x), torch.relu(pre))
    assert torch.equal(topk.pre_activations(x.reshape(10, -1, D)).reshape(len(x), M), pre)  # any leading shape
    indices, values = topk.codes(x)
    assert torch.equal(values, torch.relu(pre.gather(-1, indices)))


def test_cold_and_kept_code_ablations_are_the_same_numbers_as_encoding():
    """Several edits, zero and mean, on a trained SAE: the code computed cold (in fixed chunks),
    the code kept, and apply() (dense encode) give bit for bit the same edited states."""
    sae, x = _trained()
    flat = x.numpy().astype(np.float32)
    forget_codes()
    cold = topk_codes(sae, flat)
    kept = topk_codes(sae, flat.copy())
    forget_codes()
    assert torch.equal(cold[0], kept[0]) and torch.equal(cold[1], kept[1])
    fires = (sae.encode(x) > 0).sum(0)
    busy = fires.topk(6).indices.tolist()
    edits = [AblateFeatures(1, sae, busy[:3]), AblateFeatures(1, sae, busy, mode="mean", fill=[0.1 * i for i in range(6)]),
             AblateFeatures(1, sae, [int(fires.argmin())])]
    for edit in edits:
        by_code = edit.apply_coded(x, *cold)
        assert torch.equal(by_code, edit.apply(x))
        z = sae.encode(x)
        edited = z.clone()
        edited[:, list(edit.features)] = edit._target("cpu")
        by_hand = sae.decode(edited) + (x - sae.decode(z))
        assert torch.allclose(by_code, by_hand, atol=1e-5)
    assert float((edits[0].apply_coded(x, *cold) - x).abs().max()) > 1e-2  # the ablation did something
