"""AblateFeatures: equal to a hand computation (encode, set latents, decode, add the error
back) applied in a hook, on tiny BERT and tiny GPT-2; resumed from cached states equal to a
full pass; declarative (to_dict round trip, hashable, named by the SAE's sha256)."""
import pytest
import torch

from testkit import SENTENCES
from fairfight.errors import FairfightError
from fairfight.evaluator.model_side.edits import AblateFeatures, edit_from_dict
from fairfight.evaluator.model_side.hooks import install_edits, locate_layers
from fairfight.evaluator.model_side.forward_cache import ForwardCache, computations
from fairfight.sae import SAE

TEXTS = SENTENCES * 2


@pytest.fixture(params=["gpt2", "bert"])
def loaded(request):
    return request.getfixturevalue(request.param)


def _sae(d, activation="topk", seed=0):
    g = torch.Generator().manual_seed(seed)
    m = 3 * d
    extra = {"k": 6} if activation == "topk" else {"threshold": torch.full((m,), 0.05)} if activation == "jumprelu" \
        else {}
    return SAE(torch.randn(d, m, generator=g) / d ** 0.5, torch.randn(m, generator=g) * 0.1,
               torch.randn(m, d, generator=g) / d ** 0.5, torch.randn(d, generator=g) * 0.1, activation, **extra)


class ByHand:
    """The edit written out literally, as an auditor would check it."""

    def __init__(self, layer, sae, features, fill=None, keep_error=True):
        self.layer, self.sae, self.features, self.fill, self.keep_error = layer, sae, list(features), fill, keep_error

    def apply(self, h):
        z = self.sae.encode(h)
        edited = z.clone()
        edited[..., self.features] = 0.0 if self.fill is None else torch.tensor(self.fill)
        out = self.sae.decode(edited)
        if self.keep_error:
            out = out + (h - self.sae.decode(z))
        return out

    def to_dict(self):
        return {"type": "by_hand", "layer": self.layer}


def _tokens(loaded, edits, layers):
    """Token-level states of a full forward pass (no cache, no resume) with `edits` hooked in."""
    out = {lay: [] for lay in layers}
    from fairfight.evaluator.model_side.model_handle import ModelHandle  # noqa: F401  (the same tokenisation as a handle)

    tok = loaded.tokenizer
    for text in TEXTS:
        enc = tok([text], return_tensors="pt")
        enc = {k: v for k, v in enc.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
        with torch.no_grad(), install_edits(loaded.model, edits, capture={}, capture_layers=layers) as cap:
            loaded.model.base_model(**enc, **({"use_cache": False} if loaded.kind == "causal" else {}))
        for lay in layers:
            out[lay].append(cap[lay][0])
    return out


@pytest.mark.parametrize("activation", ["topk", "relu", "jumprelu"])
@pytest.mark.parametrize("mode,keep_error", [("zero", True), ("mean", True), ("zero", False)])
def test_equals_the_hand_computation(loaded, make_handle, activation, mode, keep_error):
    n, d = loaded.num_layers, loaded.hidden_size
    sae = _sae(d, activation)
    plain = _tokens(loaded, [], [1])
    fires = (sae.encode(torch.cat(plain[1])) > 0).sum(0)
    feats = fires.topk(5).indices.tolist()  # latents that do fire here, so the edit changes something
    fill = [0.3, 0.0, 1.0, 0.2, 0.5] if mode == "mean" else None
    edit = AblateFeatures(1, sae, feats, mode=mode, keep_error=keep_error, fill=fill)
    handle, ledger = make_handle(loaded, batch_size=4)
    got = handle.intervene([edit]).activations(TEXTS, layers=[1, n], pool="none")
    expected = _tokens(loaded, [ByHand(1, sae, feats, fill, keep_error)], [1, n])
    changed = 0.0
    for lay in (1, n):
        for g, e in zip(got[lay], expected[lay]):
            assert torch.allclose(g, e, atol=1e-4), lay
    for g, p in zip(got[1], plain[1]):
        changed = max(changed, float((g - p).abs().max()))
    assert changed > 1e-3  # the edit did something: the test could fail
    charged = [e.to_dict() for e in ledger.entries if e.op == "intervene"]
    assert charged[0]["edits"] == [edit.to_dict()] and charged[0]["edits"][0]["sae_sha256"] == sae.sha256


def test_resumed_edited_reads_equal_a_full_pass(loaded, make_handle, tmp_path):
    n, d = loaded.num_layers, loaded.hidden_size
    sae = _sae(d)
    edit = AblateFeatures(1, sae, [1, 2, 3, 4])
    plain, _ = make_handle(loaded, batch_size=4)
    tokens = plain.intervene([edit]).activations(TEXTS, layers=[0, 1, n], pool="none")
    cached, _ = make_handle(loaded, batch_size=4, forward_cache=ForwardCache(tmp_path, loaded.identity))
    blocks, _ = locate_layers(loaded.model)
    count = [0]
    hooks = [m.register_forward_hook(lambda *a: count.__setitem__(0, count[0] + 1)) for m in blocks[0].children()]
    try:
        for pool in ("mean", "last"):
            got = cached.intervene([edit]).activations(TEXTS, layers=[0, 1, n], pool=pool)
            pick = (lambda t: t.mean(0)) if pool == "mean" else (lambda t: t[-1])
            for lay in (0, 1, n):
                assert torch.allclose(got[lay], torch.stack([pick(t) for t in tokens[lay]]), atol=1e-4), (pool, lay)
        first = count[0]
        cached.intervene([AblateFeatures(1, sae, [9])]).embed(TEXTS)  # another edit at layer 1: resumes
    finally:
        for h in hooks:
            h.remove()
    assert first > 0 and count[0] == first  # block 0 ran for the states at layer 1, then never again
    log = computations(tmp_path)
    assert sum("states@1" in line for line in log) == 1


def test_declarative_named_by_sha256_and_checked(bert, make_handle):
    d = bert.hidden_size
    sae = _sae(d)
    edit = AblateFeatures(1, sae, [7, 3, 3], mode="mean", fill=[0.7, 0.3, 0.3])
    assert edit.sae == sae.sha256 and edit.features == (3, 7) and edit.fill == (0.3, 0.7)
    assert edit_from_dict(edit.to_dict()) == edit and hash(edit_from_dict(edit.to_dict())) == hash(edit)
    assert AblateFeatures(1, sae.sha256, [3, 7], mode="mean", fill=[0.3, 0.7]) == edit
    tampered = {**edit.to_dict(), "fill": [0.0, 0.0]}
    with pytest.raises(FairfightError, match="does not match its sha256"):
        edit_from_dict(tampered)
    handle, _ = make_handle(bert)
    with pytest.raises(FairfightError, match="no SAE with sha256"):
        handle.intervene([AblateFeatures(1, "a" * 64, [0])])
    with pytest.raises(FairfightError, match="model's hidden size is 32"):
        handle.intervene([AblateFeatures(1, _sae(d + 1), [0])])
    with pytest.raises(FairfightError, match="out of range"):
        AblateFeatures(1, sae, [3 * d])
    with pytest.raises(FairfightError, match="needs fill"):
        AblateFeatures(1, sae, [0], mode="mean")


def test_mean_ablation_fill_from_latent_means_on_granted_text(bert, make_handle, monkeypatch):
    """mode='mean' needs fill (the edit reads no data); latent_means gives it from a granted read:
    each latent's mean over every real token, chunk by chunk, equal to the mean of the encoded states."""
    import fairfight.sae.means as means
    from fairfight.sae import latent_means

    monkeypatch.setattr(means, "CHUNK_TEXTS", 3)  # several chunks of texts of different lengths
    sae = _sae(bert.hidden_size, "relu")
    handle, ledger = make_handle(bert)
    tokens = torch.cat(handle.activations(TEXTS, layers=[1], pool="none")[1])
    expected = sae.encode(tokens).mean(0)
    got = latent_means(handle, TEXTS, sae, layer=1)
    assert torch.allclose(got, expected, atol=1e-5)
    chosen = [9, 2, 40]
    fill = latent_means(handle, TEXTS, sae, layer=1, features=chosen)
    assert torch.allclose(fill, expected[chosen], atol=1e-5)
    edit = AblateFeatures(1, sae, chosen, mode="mean", fill=fill)
    assert edit.fill == pytest.approx([float(v) for v in expected[[2, 9, 40]]], abs=1e-5)  # in feature order
    with pytest.raises(FairfightError, match="latent_means"):
        AblateFeatures(1, sae, chosen, mode="mean")
    refused, _ = make_handle(bert, grant={"embed"})
    from fairfight import AffordanceError

    with pytest.raises(AffordanceError):
        latent_means(refused, TEXTS, sae, layer=1)
