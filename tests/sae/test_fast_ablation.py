"""The cheap paths of AblateFeatures, checked against the literal computation (encode, set the
chosen latents, decode, add the reconstruction error back):
- ReLU and JumpReLU with keep_error=True compute only the chosen latents' pre-activations,
  for SAEs loaded from every layout (each with its own input-shift convention);
- a TopK SAE's code of token states is computed once and kept by the states' sha256, and an
  ablation read off a kept code equals one that encoded."""
import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from fairfight.errors import FairfightError
from fairfight.evaluator.model_side.edits import AblateFeatures
from fairfight.sae import SAE, load_sae
from fairfight.sae.codes import codes_stats, forget_codes, states_digest, topk_codes
from fairfight.sae.pooling import pooled_latents

D, M = 16, 48


def _weights(seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(D, M, generator=g) / D ** 0.5, torch.randn(M, generator=g) * 0.2,
            torch.randn(M, D, generator=g) / D ** 0.5, torch.randn(D, generator=g) * 0.5)


def _x(n=40, seed=7):
    return torch.randn(n, D, generator=torch.Generator().manual_seed(seed))


def _by_hand(sae, x, features, fill=None):
    z = sae.encode(x)
    edited = z.clone()
    edited[..., features] = 0.0 if fill is None else torch.tensor(fill)
    return sae.decode(edited) + (x - sae.decode(z))


def _saes(tmp_path):
    """SAEs of each activation, with and without the input shift, and as each layout loads them."""
    w_enc, b_enc, w_dec, b_dec = _weights()
    thr = torch.rand(M, generator=torch.Generator().manual_seed(3)) * 0.3
    made = {"relu": SAE(w_enc, b_enc, w_dec, b_dec, "relu"),
            "relu unshifted": SAE(w_enc, b_enc, w_dec, b_dec, "relu", subtract_b_dec=False),
            "jumprelu": SAE(w_enc, b_enc, w_dec, b_dec, "jumprelu", threshold=thr),
            "jumprelu unshifted": SAE(w_enc, b_enc, w_dec, b_dec, "jumprelu", threshold=thr, subtract_b_dec=False)}
    for name in list(made):
        for fmt in ("saelens", "dictionary_learning"):
            if fmt == "dictionary_learning" and name == "relu unshifted":
                continue  # that layout has no ReLU SAE without the shift
            made[f"{name} via {fmt}"] = load_sae(made[name].save(tmp_path / f"{name}-{fmt}", fmt))
    # SAELens JumpReLU folders: log_threshold; without apply_b_dec_to_input (SAELens v6's default: the
    # input is shifted) and with it false (as SAELens's Gemma Scope loader writes it)
    for name, extra in (("jumprelu saelens native", {}),
                        ("jumprelu saelens unshifted", {"apply_b_dec_to_input": False})):
        folder = tmp_path / name.replace(" ", "-")
        folder.mkdir()
        save_file({"W_enc": w_enc, "b_enc": b_enc, "W_dec": w_dec, "b_dec": b_dec, "log_threshold": thr.log()},
                  str(folder / "sae_weights.safetensors"))
        (folder / "cfg.json").write_text(json.dumps({"architecture": "jumprelu", "d_in": D, "d_sae": M, **extra}))
        made[name] = load_sae(folder)
    # dictionary_learning BatchTopKSAE: inference is a JumpReLU with one global threshold, input shifted
    folder = tmp_path / "batchtopk"
    folder.mkdir()
    torch.save({"encoder.weight": w_enc.T.contiguous(), "encoder.bias": b_enc, "decoder.weight": w_dec.T.contiguous(),
                "b_dec": b_dec, "k": torch.tensor(4), "threshold": torch.tensor(0.1)}, folder / "ae.pt")
    (folder / "config.json").write_text(json.dumps({"trainer": {"dict_class": "BatchTopKSAE", "k": 4}}))
    made["batchtopk via dictionary_learning"] = load_sae(folder)
    assert made["jumprelu saelens native"].subtract_b_dec is True
    assert made["jumprelu saelens unshifted"].subtract_b_dec is False
    assert made["batchtopk via dictionary_learning"].subtract_b_dec is True
    return made


@pytest.mark.parametrize("mode", ["zero", "mean"])
def test_relu_and_jumprelu_ablation_computes_only_the_chosen_latents(tmp_path, monkeypatch, mode):
    saes = _saes(tmp_path)
    x = _x()
    for name, sae in saes.items():
        z = sae.encode(x)
        features = (z > 0).sum(0).topk(5).indices.tolist()  # latents that fire, so the edit does something
        fill = [0.5, 0.0, 1.5, 0.25, 2.0] if mode == "mean" else None
        expected = _by_hand(sae, x, features, fill)
        assert torch.allclose(sae.chosen_latents(x, torch.tensor(features)), z[:, features], atol=1e-6), name
        edit = AblateFeatures(1, sae, features, mode=mode, fill=fill)
        with monkeypatch.context() as m:  # the fast path never runs the dense encode
            m.setattr(SAE, "encode", lambda *a: pytest.fail("dense encode on the fast path"))
            m.setattr(SAE, "pre_activations", lambda *a: pytest.fail("dense pre-activations on the fast path"))
            got = edit.apply(x)
        assert torch.allclose(got, expected, atol=1e-5), name
        assert float((got - x).abs().max()) > 1e-2, name  # the ablation changed the states


def test_keep_error_false_and_topk_still_encode_densely(monkeypatch):
    w_enc, b_enc, w_dec, b_dec = _weights()
    x = _x()
    relu = SAE(w_enc, b_enc, w_dec, b_dec, "relu")
    topk = SAE(w_enc, b_enc, w_dec, b_dec, "topk", k=5)
    calls = []
    real = SAE.encode
    monkeypatch.setattr(SAE, "encode", lambda self, h: calls.append(self.activation) or real(self, h))
    dropped = AblateFeatures(1, relu, [1, 2], keep_error=False).apply(x)
    z = real(relu, x)
    z[:, [1, 2]] = 0
    assert torch.allclose(dropped, relu.decode(z), atol=1e-5)
    features = (real(topk, x) > 0).sum(0).topk(3).indices.tolist()
    got = AblateFeatures(1, topk, features).apply(x)
    assert calls == ["relu", "topk"]
    assert torch.allclose(got, _by_hand(topk, x, features), atol=1e-5)


def test_topk_codes_are_kept_by_the_states_content(monkeypatch):
    forget_codes()
    w_enc, b_enc, w_dec, b_dec = _weights()
    sae = SAE(w_enc, b_enc, w_dec, b_dec, "topk", k=5)
    flat = _x(9000).numpy()  # more than one 4096-token chunk
    indices, values = topk_codes(sae, flat)
    assert torch.equal(torch.zeros((9000, M)).scatter(-1, indices, values), sae.encode(torch.from_numpy(flat)))
    before = codes_stats()
    again = topk_codes(sae, flat.copy())  # the same numbers in another array: kept
    assert torch.equal(again[0], indices) and torch.equal(again[1], values)
    assert codes_stats()["reused"] == before["reused"] + 1 and codes_stats()["computed"] == before["computed"]
    changed = flat.copy()
    changed[8999, 0] += 1e-3  # one number differs: a new code
    assert states_digest(changed) != states_digest(flat)
    topk_codes(sae, changed)
    assert codes_stats()["computed"] == before["computed"] + 1
    other = SAE(w_enc, b_enc * 2, w_dec, b_dec, "topk", k=5)  # another SAE: a new code
    topk_codes(other, flat)
    assert codes_stats()["computed"] == before["computed"] + 2
    with pytest.raises(FairfightError, match="codes are for TopK"):
        SAE(w_enc, b_enc, w_dec, b_dec, "relu").codes(torch.from_numpy(flat))
    forget_codes()


def test_kept_codes_are_bounded_in_bytes(monkeypatch):
    forget_codes()
    w_enc, b_enc, w_dec, b_dec = _weights()
    sae = SAE(w_enc, b_enc, w_dec, b_dec, "topk", k=5)
    a, b = _x(100, seed=1).numpy(), _x(100, seed=2).numpy()
    monkeypatch.setenv("FAIRFIGHT_MAX_CODES_BYTES", str(100 * 5 * 8))  # room for one code
    topk_codes(sae, a)
    topk_codes(sae, b)  # evicts a's
    assert codes_stats()["kept"] == 1
    n = codes_stats()["computed"]
    topk_codes(sae, b)
    topk_codes(sae, a)
    assert codes_stats()["computed"] == n + 1
    monkeypatch.setenv("FAIRFIGHT_MAX_CODES_BYTES", "10")  # too small for any: computed, never kept
    forget_codes()
    first = topk_codes(sae, a)
    assert codes_stats()["kept"] == 0 and torch.equal(topk_codes(sae, a)[1], first[1])
    forget_codes()


def test_ablation_read_off_a_kept_code_equals_the_encoded_one():
    forget_codes()
    w_enc, b_enc, w_dec, b_dec = _weights()
    sae = SAE(w_enc, b_enc, w_dec, b_dec, "topk", k=5)
    flat = _x(300).numpy()
    latents = pooled_latents(sae, flat, np.array([0, 100, 300]), "none")  # a features() read keeps the code
    assert torch.equal(torch.cat(latents), sae.encode(torch.from_numpy(flat)))
    indices, values = topk_codes(sae, flat)
    assert codes_stats()["reused"] >= 1
    x = torch.from_numpy(flat)
    for mode, fill in (("zero", None), ("mean", [0.3, 0.0, 1.0])):
        features = (sae.encode(x) > 0).sum(0).topk(3).indices.tolist()
        edit = AblateFeatures(1, sae, features, mode=mode, fill=fill)
        assert edit.uses_codes()
        coded = edit.apply_coded(x, indices, values)
        assert torch.allclose(coded, _by_hand(sae, x, features, fill), atol=1e-5)
        assert torch.allclose(coded, edit.apply(x), atol=1e-6)
        assert float((coded - x).abs().max()) > 1e-2
    assert not AblateFeatures(1, sae, [0], keep_error=False).uses_codes()
    forget_codes()
