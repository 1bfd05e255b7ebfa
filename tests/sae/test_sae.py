"""SAEs: both on-disk layouts load (files written here, in each package's own layout), the
three activations encode as their definitions say, the sha256 names the weights, and the
trainer is deterministic for a seed and actually learns."""
import json

import pytest
import torch
from safetensors.torch import save_file

from fairfight.errors import FairfightError
from fairfight.sae import SAE, load_sae, registered, train_topk

D, M = 8, 24


def _weights(seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(D, M, generator=g), torch.randn(M, generator=g) * 0.1, torch.randn(M, D, generator=g),
            torch.randn(D, generator=g) * 0.1)


def _x(n=5):
    return torch.randn(n, D, generator=torch.Generator().manual_seed(7))


def test_relu_topk_jumprelu_encode_by_definition():
    w_enc, b_enc, w_dec, b_dec = _weights()
    x = _x()
    pre = (x - b_dec) @ w_enc + b_enc
    relu = SAE(w_enc, b_enc, w_dec, b_dec, "relu")
    assert torch.allclose(relu.encode(x), torch.relu(pre), atol=1e-6)
    assert torch.allclose(relu.decode(relu.encode(x)), torch.relu(pre) @ w_dec + b_dec, atol=1e-5)

    topk = SAE(w_enc, b_enc, w_dec, b_dec, "topk", k=3)
    z = topk.encode(x)
    assert ((z > 0).sum(-1) <= 3).all() and ((z > 0).sum(-1) == 3).any()
    for row, p in zip(z, torch.relu(pre)):
        kept = p.topk(3).indices
        assert torch.allclose(row[kept], p[kept]) and float(row.sum()) == pytest.approx(float(p[kept].sum()), rel=1e-5)

    thr = torch.full((M,), 0.5)
    jump = SAE(w_enc, b_enc, w_dec, b_dec, "jumprelu", threshold=thr, subtract_b_dec=False)
    pre_plain = x @ w_enc + b_enc
    assert torch.allclose(jump.encode(x), pre_plain * (pre_plain > 0.5), atol=1e-6)


def test_shapes_and_activation_errors():
    w_enc, b_enc, w_dec, b_dec = _weights()
    with pytest.raises(FairfightError, match="W_dec has shape"):
        SAE(w_enc, b_enc, w_dec.T, b_dec)
    with pytest.raises(FairfightError, match="needs an int k"):
        SAE(w_enc, b_enc, w_dec, b_dec, "topk")
    with pytest.raises(FairfightError, match="needs a threshold"):
        SAE(w_enc, b_enc, w_dec, b_dec, "jumprelu")
    with pytest.raises(FairfightError, match="activation must be"):
        SAE(w_enc, b_enc, w_dec, b_dec, "gelu")
    with pytest.raises(FairfightError, match="reads vectors of size 8"):
        SAE(w_enc, b_enc, w_dec, b_dec).encode(torch.zeros(2, 9))


def test_sha256_names_the_weights_and_is_registered():
    a = SAE(*_weights(0), "topk", k=4)
    assert SAE(*_weights(0), "topk", k=4).sha256 == a.sha256
    assert SAE(*_weights(0), "topk", k=5).sha256 != a.sha256
    assert SAE(*_weights(1), "topk", k=4).sha256 != a.sha256
    assert registered(a.sha256).sha256 == a.sha256
    with pytest.raises(FairfightError, match="no SAE with sha256"):
        registered("0" * 64)


def _write_saelens(folder, w, cfg):
    folder.mkdir()
    save_file({k: v.contiguous() for k, v in w.items()}, str(folder / "sae_weights.safetensors"))
    (folder / "cfg.json").write_text(json.dumps(cfg))


@pytest.mark.parametrize("cfg,activation", [
    ({"architecture": "standard", "apply_b_dec_to_input": True}, "relu"),
    ({"activation_fn_str": "topk", "activation_fn_kwargs": {"k": 4}, "apply_b_dec_to_input": True}, "topk"),
    ({"architecture": "topk", "k": 4, "apply_b_dec_to_input": False}, "topk"),
    ({"architecture": "jumprelu", "apply_b_dec_to_input": False}, "jumprelu"),
])
def test_saelens_folder_loads(tmp_path, cfg, activation):
    w_enc, b_enc, w_dec, b_dec = _weights()
    w = {"W_enc": w_enc, "b_enc": b_enc, "W_dec": w_dec, "b_dec": b_dec}
    if activation == "jumprelu":
        w["log_threshold"] = torch.full((M,), -1.0)  # Gemma Scope's older layout
    _write_saelens(tmp_path / "sae", w, {"d_in": D, "d_sae": M, "normalize_activations": "none", **cfg})
    sae = load_sae(tmp_path / "sae")
    assert sae.activation == activation and sae.subtract_b_dec == cfg["apply_b_dec_to_input"]
    x = _x()
    pre = (x - b_dec * sae.subtract_b_dec) @ w_enc + b_enc
    if activation == "relu":
        expected = torch.relu(pre)
    elif activation == "jumprelu":
        expected = pre * (pre > torch.exp(torch.tensor(-1.0)))
    else:
        expected = SAE(w_enc, b_enc, w_dec, b_dec, "topk", k=4, subtract_b_dec=sae.subtract_b_dec).encode(x)
    assert torch.allclose(sae.encode(x), expected, atol=1e-6)


def test_saelens_refuses_what_it_cannot_compute(tmp_path):
    w_enc, b_enc, w_dec, b_dec = _weights()
    w = {"W_enc": w_enc, "b_enc": b_enc, "W_dec": w_dec, "b_dec": b_dec}
    _write_saelens(tmp_path / "a", w, {"d_in": D, "d_sae": M, "architecture": "gated"})
    with pytest.raises(FairfightError, match="architecture 'gated' is not supported"):
        load_sae(tmp_path / "a")
    _write_saelens(tmp_path / "b", w, {"d_in": D, "d_sae": M, "normalize_activations": "expected_average_only_in"})
    with pytest.raises(FairfightError, match="normalize_activations"):
        load_sae(tmp_path / "b")
    with pytest.raises(FairfightError, match="is not an SAE folder"):
        load_sae(tmp_path)


def _write_dictionary_learning(folder, state, trainer):
    folder.mkdir()
    torch.save(state, folder / "ae.pt")
    (folder / "config.json").write_text(json.dumps({"trainer": trainer}))


def test_dictionary_learning_folders_load(tmp_path):
    w_enc, b_enc, w_dec, b_dec = _weights()
    x = _x()
    pre = (x - b_dec) @ w_enc + b_enc
    # AutoEncoder: nn.Linear layers (weights transposed), the input shift is called `bias`
    _write_dictionary_learning(tmp_path / "relu", {"encoder.weight": w_enc.T.clone(), "encoder.bias": b_enc,
                                                   "decoder.weight": w_dec.T.clone(), "bias": b_dec},
                               {"dict_class": "AutoEncoder", "activation_dim": D, "dict_size": M})
    sae = load_sae(tmp_path / "relu")
    assert sae.activation == "relu" and torch.allclose(sae.encode(x), torch.relu(pre), atol=1e-6)
    assert torch.allclose(sae.decode(sae.encode(x)), torch.relu(pre) @ w_dec + b_dec, atol=1e-5)

    _write_dictionary_learning(tmp_path / "topk", {"encoder.weight": w_enc.T.clone(), "encoder.bias": b_enc,
                                                   "decoder.weight": w_dec.T.clone(), "b_dec": b_dec,
                                                   "k": torch.tensor(4, dtype=torch.int), "threshold": torch.tensor(-1.0)},
                               {"dict_class": "AutoEncoderTopK", "activation_dim": D, "dict_size": M, "k": 4})
    topk = load_sae(tmp_path / "topk")
    assert topk.activation == "topk" and topk.k == 4
    assert torch.allclose(topk.encode(x), SAE(w_enc, b_enc, w_dec, b_dec, "topk", k=4).encode(x), atol=1e-6)

    _write_dictionary_learning(tmp_path / "jump", {"W_enc": w_enc, "b_enc": b_enc, "W_dec": w_dec, "b_dec": b_dec,
                                                   "threshold": torch.full((M,), 0.3)},
                               {"dict_class": "JumpReluAutoEncoder", "activation_dim": D, "dict_size": M})
    jump = load_sae(tmp_path / "jump")
    pre_plain = x @ w_enc + b_enc
    assert torch.allclose(jump.encode(x), pre_plain * (pre_plain > 0.3), atol=1e-6)

    _write_dictionary_learning(tmp_path / "gated", {}, {"dict_class": "GatedAutoEncoder"})
    with pytest.raises(FairfightError, match="GatedAutoEncoder' is not supported"):
        load_sae(tmp_path / "gated")


@pytest.mark.parametrize("fmt", ["saelens", "dictionary_learning"])
@pytest.mark.parametrize("activation", ["relu", "topk", "jumprelu"])
def test_save_then_load_keeps_the_sha256(tmp_path, fmt, activation):
    extra = {"k": 4} if activation == "topk" else {"threshold": torch.rand(M)} if activation == "jumprelu" else {}
    sae = SAE(*_weights(3), activation, **extra)
    assert load_sae(sae.save(tmp_path / "s", fmt)).sha256 == sae.sha256


def test_trainer_is_deterministic_and_learns():
    g = torch.Generator().manual_seed(0)
    atoms = torch.randn(32, 16, generator=g)
    codes = torch.rand(3000, 32, generator=g) * (torch.rand(3000, 32, generator=g) < 0.1)
    acts = codes @ atoms + 3.0  # sparse combinations of 32 directions, off-centre
    a = train_topk(acts, width=64, k=4, seed=1, epochs=5, batch_size=300, lr=1e-2)
    b = train_topk(acts, width=64, k=4, seed=1, epochs=5, batch_size=300, lr=1e-2)
    c = train_topk(acts, width=64, k=4, seed=2, epochs=1, batch_size=300, lr=1e-2)
    assert a.sha256 == b.sha256 and a.sha256 != c.sha256
    assert a.activation == "topk" and a.k == 4 and (a.W_dec.norm(dim=1) - 1).abs().max() < 1e-4
    unexplained = (acts - a.reconstruct(acts)).pow(2).sum() / (acts - acts.mean(0)).pow(2).sum()
    assert unexplained < 0.3, unexplained  # most of the variance is explained with 4 of 64 latents
    with pytest.raises(FairfightError, match="k must be an int"):
        train_topk(acts, width=8, k=9)


# -- SAELens v6 conventions (sae_lens/saes/sae.py, topk_sae.py at v6.18.0) -------------------------
def test_saelens_apply_b_dec_to_input_defaults_to_true_for_every_architecture(tmp_path):
    """SAEConfig.apply_b_dec_to_input defaults to True, and JumpReLUSAEConfig keeps that default."""
    w_enc, b_enc, w_dec, b_dec = _weights()
    x = _x()
    for arch in ("standard", "topk", "jumprelu"):
        w = {"W_enc": w_enc, "b_enc": b_enc, "W_dec": w_dec, "b_dec": b_dec}
        extra = {"k": 4} if arch == "topk" else {}
        if arch == "jumprelu":
            w["threshold"] = torch.full((M,), 0.1)
        _write_saelens(tmp_path / arch, w, {"d_in": D, "d_sae": M, "architecture": arch, **extra})
        sae = load_sae(tmp_path / arch)
        assert sae.subtract_b_dec, arch
        pre = (x - b_dec) @ w_enc + b_enc
        if arch == "jumprelu":
            assert torch.allclose(sae.encode(x), pre * (pre > 0.1), atol=1e-6)
    _write_saelens(tmp_path / "bad", {"W_enc": w_enc, "b_enc": b_enc, "W_dec": w_dec, "b_dec": b_dec},
                   {"d_in": D, "d_sae": M, "apply_b_dec_to_input": "yes"})
    with pytest.raises(FairfightError, match="apply_b_dec_to_input must be true or false"):
        load_sae(tmp_path / "bad")


def test_saelens_rescale_acts_by_decoder_norm_is_honoured_as_saelens_computes_it(tmp_path):
    w_enc, b_enc, w_dec, b_dec = _weights()
    w_dec = w_dec * torch.linspace(0.2, 3.0, M)[:, None]  # rows of very different norms: the top k changes
    w = {"W_enc": w_enc, "b_enc": b_enc, "W_dec": w_dec, "b_dec": b_dec}
    _write_saelens(tmp_path / "sae", w, {"d_in": D, "d_sae": M, "architecture": "topk", "k": 4,
                                         "rescale_acts_by_decoder_norm": True})
    sae = load_sae(tmp_path / "sae")
    x = _x()
    # TopKSAE.encode / decode in SAELens v6, written out
    norms = w_dec.norm(dim=-1)
    hidden_pre = ((x - b_dec) @ w_enc + b_enc) * norms
    top = hidden_pre.topk(4, dim=-1)
    acts = torch.zeros_like(hidden_pre).scatter(-1, top.indices, torch.relu(top.values))
    recon = (acts / norms) @ w_dec + b_dec
    assert torch.allclose(sae.encode(x), acts, atol=1e-5)
    assert torch.allclose(sae.reconstruct(x), recon, atol=1e-5)
    plain = SAE(w_enc, b_enc, w_dec, b_dec, "topk", k=4)  # ignoring the key would pick other latents
    assert not torch.allclose(plain.encode(x), acts, atol=1e-3)
    _write_saelens(tmp_path / "relu", w, {"d_in": D, "d_sae": M, "architecture": "standard",
                                          "rescale_acts_by_decoder_norm": True})
    with pytest.raises(FairfightError, match="TopK SAEs only"):
        load_sae(tmp_path / "relu")


def test_a_loaded_sae_carries_its_folders_artifact_hash(tmp_path):
    from fairfight.knowledge import artifact_sha256

    sae = SAE(*_weights(), "topk", k=4)
    folder = sae.save(tmp_path / "sae")
    loaded = load_sae(folder)
    assert loaded.artifact_sha256 == artifact_sha256(folder) and loaded.sha256 == sae.sha256
    assert sae.artifact_sha256 is None


def test_a_float16_saelens_folder_loads_the_rounded_weights(tmp_path):
    sae = SAE(*_weights(), "topk", k=4)
    folder = sae.save(tmp_path / "half", dtype="float16")
    assert json.loads((folder / "cfg.json").read_text())["dtype"] == "float16"
    loaded = load_sae(folder)
    assert loaded.W_enc.dtype == torch.float32 and torch.equal(loaded.W_enc, sae.W_enc.half().float())
    assert (folder / "sae_weights.safetensors").stat().st_size < \
        (sae.save(tmp_path / "full") / "sae_weights.safetensors").stat().st_size * 0.6
    with pytest.raises(FairfightError, match="float16 in the SAELens layout only"):
        sae.save(tmp_path / "dl", "dictionary_learning", dtype="float16")
