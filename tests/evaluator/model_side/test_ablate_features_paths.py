"""AblateFeatures' cheap paths on tiny BERT and tiny GPT-2, against a full pass with the edit
written out literally (encode, set latents, decode, add the error back) in a hook:
- ReLU and JumpReLU with keep_error=True (only the chosen latents' pre-activations), resumed
  from cached states and run from the input, zero and mean modes;
- TopK: an edited read after features() of the same texts and layer, or after another
  ablation, reads the kept TopK code instead of encoding, and gives bit for bit what the read
  that encoded gave."""
import pytest
import torch

from testkit import SENTENCES
from fairfight.evaluator.model_side.edits import AblateFeatures, AddVector
from fairfight.evaluator.model_side.forward_cache import ForwardCache
from fairfight.evaluator.model_side.hooks import install_edits
from fairfight.sae import SAE
from fairfight.sae.codes import codes_stats, forget_codes

TEXTS = SENTENCES * 3  # more than one batch at batch_size=4, with different lengths


@pytest.fixture(params=["gpt2", "bert"])
def loaded(request):
    return request.getfixturevalue(request.param)


@pytest.fixture(autouse=True)
def _no_kept_codes():
    forget_codes()
    yield
    forget_codes()


def _sae(d, activation, seed=0, subtract_b_dec=True):
    g = torch.Generator().manual_seed(seed)
    m = 3 * d
    extra = {"k": 6} if activation == "topk" else {"threshold": torch.full((m,), 0.05)} if activation == "jumprelu" \
        else {}
    return SAE(torch.randn(d, m, generator=g) / d ** 0.5, torch.randn(m, generator=g) * 0.1,
               torch.randn(m, d, generator=g) / d ** 0.5, torch.randn(d, generator=g) * 0.3, activation,
               subtract_b_dec=subtract_b_dec, **extra)


class ByHand:
    """The edit written out literally, as an auditor would check it."""

    def __init__(self, layer, sae, features, fill=None):
        self.layer, self.sae, self.features, self.fill = layer, sae, list(features), fill

    def apply(self, h):
        z = self.sae.encode(h)
        edited = z.clone()
        edited[..., self.features] = 0.0 if self.fill is None else torch.tensor(self.fill)
        return self.sae.decode(edited) + (h - self.sae.decode(z))


def _full_pass(loaded, edits, layer, pool):
    """Pooled states at `layer` of a full forward pass per text (no cache, no resume) with `edits` hooked in."""
    rows = []
    for text in TEXTS:
        enc = loaded.tokenizer([text], return_tensors="pt")
        enc = {k: v for k, v in enc.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
        with torch.no_grad(), install_edits(loaded.model, edits, capture={}, capture_layers=[layer]) as cap:
            loaded.model.base_model(**enc, **({"use_cache": False} if loaded.kind == "causal" else {}))
        h = cap[layer][0]
        rows.append(h.mean(0) if pool == "mean" else h[-1])
    return torch.stack(rows)


def _firing(loaded, make_handle, sae, layer, n=5):
    plain, _ = make_handle(loaded, batch_size=4)
    tokens = torch.cat(plain.activations(TEXTS, layers=[layer], pool="none")[layer])
    return (sae.encode(tokens) > 0).sum(0).topk(n).indices.tolist()  # latents that fire: the edit does something


@pytest.mark.parametrize("activation", ["relu", "jumprelu"])
@pytest.mark.parametrize("mode", ["zero", "mean"])
def test_relu_and_jumprelu_fast_path_equals_the_hand_computation(loaded, make_handle, tmp_path, monkeypatch,
                                                                 activation, mode):
    n, d = loaded.num_layers, loaded.hidden_size
    for shifted in (True, False):
        sae = _sae(d, activation, subtract_b_dec=shifted)
        feats = _firing(loaded, make_handle, sae, 1)
        fill = [0.3, 0.0, 1.0, 0.2, 0.5] if mode == "mean" else None
        edit = AblateFeatures(1, sae, feats, mode=mode, fill=fill)
        expected = _full_pass(loaded, [ByHand(1, sae, feats, fill)], n, "mean")
        plain = _full_pass(loaded, [], n, "mean")
        cached, _ = make_handle(loaded, batch_size=4, forward_cache=ForwardCache(tmp_path / str(shifted), loaded.identity))
        uncached, _ = make_handle(loaded, batch_size=4)
        with monkeypatch.context() as m:  # neither path runs the SAE's dense encode
            m.setattr(SAE, "encode", lambda *a: pytest.fail("dense encode on the fast path"))
            resumed = cached.intervene([edit]).activations(TEXTS, layers=[n], pool="mean")[n]
            from_input = uncached.intervene([edit]).activations(TEXTS, layers=[n], pool="mean")[n]
        assert torch.allclose(resumed, expected, atol=1e-4)
        assert torch.allclose(from_input, expected, atol=1e-4)
        assert float((expected - plain).abs().max()) > 1e-3  # the edit changed the read: the test could fail


@pytest.mark.parametrize("pool", ["mean", "last"])
def test_topk_reads_after_features_use_the_kept_code_and_equal_encoding(loaded, make_handle, tmp_path, monkeypatch,
                                                                        pool):
    n, d = loaded.num_layers, loaded.hidden_size
    sae = _sae(d, "topk")
    feats = _firing(loaded, make_handle, sae, 1)
    other = _firing(loaded, make_handle, sae, 1, n=9)[5:]
    edit, retuned = AblateFeatures(1, sae, feats), AblateFeatures(1, sae, other, mode="mean", fill=[0.5] * 4)

    # cold: nothing kept, the edited read encodes every token at layer 1
    cold_handle, _ = make_handle(loaded, batch_size=4, forward_cache=ForwardCache(tmp_path / "cold", loaded.identity))
    start = codes_stats()
    cold = cold_handle.intervene([edit]).activations(TEXTS, layers=[n], pool=pool)[n]
    assert codes_stats()["computed"] == start["computed"] + 1
    forget_codes()

    # SHIFT's order: read the features, then ablate some; then tune: ablate others
    handle, _ = make_handle(loaded, batch_size=4, forward_cache=ForwardCache(tmp_path / "warm", loaded.identity))
    handle.features(TEXTS, sae, layer=1)
    assert codes_stats()["computed"] == start["computed"] + 2
    with monkeypatch.context() as m:
        m.setattr(SAE, "encode", lambda *a: pytest.fail("dense encode with a kept code"))
        m.setattr(SAE, "codes", lambda *a: pytest.fail("TopK code computed again"))
        warm = handle.intervene([edit]).activations(TEXTS, layers=[n], pool=pool)[n]
        tuned = handle.intervene([retuned]).activations(TEXTS, layers=[n], pool=pool)[n]
    assert codes_stats()["computed"] == start["computed"] + 2 and codes_stats()["reused"] >= start["reused"] + 2
    assert torch.equal(warm, cold)  # bit for bit what the encoding read gave

    assert torch.allclose(warm, _full_pass(loaded, [ByHand(1, sae, feats)], n, pool), atol=1e-4)
    assert torch.allclose(tuned, _full_pass(loaded, [ByHand(1, sae, other, [0.5] * 4)], n, pool), atol=1e-4)
    uncached, _ = make_handle(loaded, batch_size=4)  # no cache: runs from the input, encodes in the hook
    assert torch.allclose(uncached.intervene([edit]).activations(TEXTS, layers=[n], pool=pool)[n], warm, atol=1e-4)
    assert float((warm - _full_pass(loaded, [], n, pool)).abs().max()) > 1e-3


def test_other_edits_at_the_resumed_layer_keep_their_order(loaded, make_handle, tmp_path):
    n, d = loaded.num_layers, loaded.hidden_size
    sae = _sae(d, "topk")
    feats = _firing(loaded, make_handle, sae, 1)
    shift = AddVector(1, torch.randn(d, generator=torch.Generator().manual_seed(5)), scale=0.7)
    relu = _sae(d, "relu", seed=1)
    for edits, by_hand in (([AblateFeatures(1, sae, feats), shift], [ByHand(1, sae, feats), shift]),
                           ([shift, AblateFeatures(1, sae, feats)], [shift, ByHand(1, sae, feats)]),
                           ([AblateFeatures(1, sae, feats), AblateFeatures(1, relu, [0, 1, 2]), AddVector(2, shift.vector)],
                            [ByHand(1, sae, feats), ByHand(1, relu, [0, 1, 2]), AddVector(2, shift.vector)])):
        handle, _ = make_handle(loaded, batch_size=4, forward_cache=ForwardCache(tmp_path / str(len(edits)),
                                                                                  loaded.identity))
        got = handle.intervene(edits).activations(TEXTS, layers=[1, n], pool="mean")
        for lay in (1, n):
            assert torch.allclose(got[lay], _full_pass(loaded, by_hand, lay, "mean"), atol=1e-4), (edits, lay)
