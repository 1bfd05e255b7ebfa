"""Screening a TopK SAE's chosen latents (fairfight.sae.screen) against the dense code: the same
numbers bit for bit, on random and trained SAEs, with chosen latents active on some tokens,
exact ties, mean mode and several edits, in a resumed edited read on tiny BERT; and screening
declined where it would not pay (frequent latents)."""
import numpy as np
import pytest
import torch

from testkit import SENTENCES
from fairfight.evaluator.model_side.edits import AblateFeatures, AddVector
from fairfight.evaluator.model_side.forward_cache import ForwardCache
from fairfight.sae import SAE, screen, train_topk
from fairfight.sae.codes import _compute, codes_stats, forget_codes
from fairfight.sae.screen import chosen_from_code, screen_stats, screened_latents

D = 16


@pytest.fixture
def small_screen(monkeypatch):
    """Screen with a small set G and always (tiny SAEs: the default set would be most latents)."""
    monkeypatch.setattr(screen, "SCREEN_LATENTS", 32)
    monkeypatch.setattr(screen, "MAX_COST", 1.0)
    monkeypatch.setattr(screen, "MIN_TOKENS", 0)
    forget_codes()
    yield
    forget_codes()


def _random_sae(m=256, k=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return SAE(torch.randn(D, m, generator=g) / D ** 0.5, torch.randn(m, generator=g) * 0.3,
               torch.randn(m, D, generator=g) / D ** 0.5, torch.randn(D, generator=g) * 0.5, "topk", k=k)


def _trained():
    g = torch.Generator().manual_seed(0)
    atoms = torch.randn(40, D, generator=g)
    acts = (torch.rand(3000, 40, generator=g) * (torch.rand(3000, 40, generator=g) < 0.1)) @ atoms + 1.0
    return train_topk(acts, width=192, k=4, seed=1, epochs=2, batch_size=300, lr=1e-2), acts[:2000]


def _rare(sae, x, n=6):
    """n latents active on a few percent of the tokens: SHIFT's kind of choice."""
    indices, values = sae.codes(x)
    freq = torch.zeros(sae.d_sae).index_add_(0, indices[values > 0], torch.ones(int((values > 0).sum()))) / len(x)
    pool = torch.nonzero((freq > 0.003) & (freq < 0.05)).flatten()
    assert len(pool) >= n
    return sorted(pool[torch.randperm(len(pool), generator=torch.Generator().manual_seed(0))[:n]].tolist())


def _dense(sae, flat, features):
    return chosen_from_code(sae.d_sae, features, *_compute(sae, flat))


@pytest.mark.parametrize("which", ["random", "trained"])
def test_screened_latents_equal_the_dense_code(small_screen, which):
    sae, x = (_random_sae(), torch.randn(2000, D, generator=torch.Generator().manual_seed(5))) \
        if which == "random" else _trained()
    flat = x.numpy().astype(np.float32)
    features = _rare(sae, x)
    before = screen_stats()
    got = screened_latents(sae, flat, features)
    after = screen_stats()
    want = _dense(sae, flat, features)
    assert got is not None and torch.equal(got, want)
    assert int((want > 0).sum()) > 10  # chosen latents are active on some tokens (those went dense)
    proved = after["proved_tokens"] - before["proved_tokens"]
    dense = after["dense_tokens"] - before["dense_tokens"]
    assert proved + dense == len(flat) and proved > len(flat) // 3 and dense > 0
    # the edit read off the screened values: the same numbers as off the code, zero and mean mode
    code = _compute(sae, flat)
    for edit in (AblateFeatures(1, sae, features), AblateFeatures(1, sae, features, mode="mean", fill=[0.5] * 6)):
        assert torch.equal(edit.apply_chosen(x, got), edit.apply_coded(x, *code))
        assert torch.allclose(edit.apply_chosen(x, got), edit.apply(x), atol=1e-5)


def test_exact_ties_go_to_the_dense_code(small_screen):
    """Latents 0..5 are copies of one (equal pre-activations, bit for bit), often in the top k: a
    chosen copy can never be proved out by the others, its tokens take the dense code's choice."""
    sae0 = _random_sae(seed=2)
    w_enc, b_enc = sae0.W_enc.clone(), sae0.b_enc.clone()
    w_enc[:, :6] = w_enc[:, :1]
    b_enc[:6] = b_enc[0] + 1.0
    sae = SAE(w_enc, b_enc, sae0.W_dec, sae0.b_dec, "topk", k=4)
    x = torch.randn(1500, D, generator=torch.Generator().manual_seed(9))
    flat = x.numpy()
    indices, values = sae.codes(x)
    tied = ((indices < 6) & (values > 0)).sum(1)
    assert ((tied > 0) & (tied < 6)).any()  # the copies split at the k-th place somewhere
    features = [3] + _rare(sae, x, n=3)
    got = screened_latents(sae, flat, features)
    assert got is not None and torch.equal(got, _dense(sae, flat, features))
    assert int((got[:, 0] > 0).sum()) > 0


def test_screening_is_declined_where_it_would_not_pay(monkeypatch):
    sae = _random_sae(m=1024, k=8, seed=4)
    x = torch.randn(3000, D, generator=torch.Generator().manual_seed(1))
    indices, values = sae.codes(x)
    freq = torch.zeros(sae.d_sae).index_add_(0, indices[values > 0], torch.ones(int((values > 0).sum())))
    before = screen_stats()
    assert screened_latents(sae, x.numpy(), freq.topk(16).indices.tolist()) is None  # frequent latents
    assert screened_latents(_random_sae(m=64), x.numpy(), [1, 2]) is None  # G would be most of the latents
    assert screen_stats()["declined_reads"] == before["declined_reads"] + 2
    rare = sorted(freq.masked_fill(freq == 0, 1e9).argsort()[:4].tolist())  # rarely active: pays on these many tokens
    assert torch.equal(screened_latents(sae, x.numpy(), rare), _dense(sae, x.numpy(), rare))
    assert screen_stats()["screened_reads"] == before["screened_reads"] + 1
    monkeypatch.setattr(screen, "MIN_TOKENS", 4000)
    assert screened_latents(sae, x.numpy(), rare) is None  # too few tokens for the sample to be worth it


def test_a_screened_cold_read_equals_the_kept_code_read(bert, make_handle, tmp_path, monkeypatch, small_screen):
    """Tiny BERT, layer 1: a cold AblateFeatures read that screens, with a second edit after it at
    the same layer, gives bit for bit what the same read off a kept code gives."""
    loaded, n, texts = bert, bert.num_layers, SENTENCES * 3
    g = torch.Generator().manual_seed(3)
    d, m = loaded.hidden_size, 256
    sae = SAE(torch.randn(d, m, generator=g) / d ** 0.5, torch.randn(m, generator=g) * 0.3,
              torch.randn(m, d, generator=g) / d ** 0.5, torch.randn(d, generator=g) * 0.3, "topk", k=4)
    plain, _ = make_handle(loaded, batch_size=4)
    tokens = torch.cat(plain.activations(texts, layers=[1], pool="none")[1])
    indices, values = sae.codes(tokens)
    freq = torch.zeros(m).index_add_(0, indices[values > 0], torch.ones(int((values > 0).sum())))
    features = sorted(torch.nonzero((freq > 0) & (freq < 0.1 * len(tokens))).flatten()[:5].tolist())
    edits = [AblateFeatures(1, sae, features, mode="mean", fill=[0.4] * len(features)),
             AddVector(1, torch.linspace(-1, 1, d), 0.5)]

    cold_handle, _ = make_handle(loaded, batch_size=4, forward_cache=ForwardCache(tmp_path / "cold", loaded.identity))
    start, seen = codes_stats(), screen_stats()
    cold = cold_handle.intervene(edits).activations(texts, layers=[n], pool="mean")[n]
    assert screen_stats()["screened_reads"] == seen["screened_reads"] + 1
    assert screen_stats()["proved_tokens"] > seen["proved_tokens"]
    assert codes_stats()["computed"] == start["computed"]  # no full code: screened

    warm_handle, _ = make_handle(loaded, batch_size=4, forward_cache=ForwardCache(tmp_path / "warm", loaded.identity))
    warm_handle.features(texts, sae, layer=1)  # computes and keeps the code
    warm = warm_handle.intervene(edits).activations(texts, layers=[n], pool="mean")[n]
    assert codes_stats()["reused"] > start["reused"]
    assert torch.equal(cold, warm)
    assert float((cold - plain.intervene(edits[1:]).activations(texts, layers=[n], pool="mean")[n]).abs().max()) > 1e-4
