"""A fight whose model is a GGUF file: the file's sha256 in run keys and provenance, the
de-quantised copy kept in the user cache's weights area (never in the bundle) and read by the model
server (executor local) and by in-process workers (executor inline)."""
import hashlib
import json

import pytest

from testkit import bpe_tokenizer as _bpe_tokenizer
from fairfight.evaluator.orchestration import runkey
from fairfight.evaluator.orchestration.plan import compile_plan
from fairfight.spec.check import load_spec
from ggufkit import tiny_llama, write_gguf
from runner_fixtures import eval_here, write_fight

FIGHT = {"probe": "uses: {model: [activations], data: {train: [text, profession]}}",
         "peek_gguf": "uses: {model: [activations], data: {train: [text, profession]}}"}
PEEK = '''

@method
def peek_gguf(ctx):  # the model file lies beside this code, in the spec's folder, which stays readable
    import os
    with open(os.path.join(os.path.dirname(__file__), "tiny.gguf"), "rb") as f:
        f.read(4)
    return ctx.predictors.constant("nurse")
'''


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gguf-fight")
    tok = _bpe_tokenizer()
    write_gguf(folder / "tiny.gguf", tiny_llama(tok), tok, quantize=True)
    spec = write_fight(folder, folder, FIGHT, seeds=1)
    spec.write_text(spec.read_text().replace(f'"path:{folder}"', '"gguf:tiny.gguf"'))
    (folder / "methods.py").write_text((folder / "methods.py").read_text() + PEEK)
    return spec


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_run_keys_follow_the_file_content(spec_path, tmp_path):
    spec = load_spec(spec_path)
    ident = runkey.model_identity(spec)
    assert ident["sha256"] == _sha(spec_path.parent / "tiny.gguf") and "source" not in ident
    before = [r.key for r in compile_plan(spec).runs]
    # the same file elsewhere is the same model
    moved = tmp_path / "spec.yaml"
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "m.gguf").write_bytes((spec_path.parent / "tiny.gguf").read_bytes())
    for name in ("bios.jsonl", "methods.py"):
        (tmp_path / name).write_bytes((spec_path.parent / name).read_bytes())
    moved.write_text(spec_path.read_text().replace("gguf:tiny.gguf", "gguf:models/m.gguf"))
    assert [r.key for r in compile_plan(load_spec(moved)).runs] == before
    tok = _bpe_tokenizer()  # other weights: other keys
    write_gguf(tmp_path / "models" / "m.gguf", tiny_llama(tok, seed=1), tok, quantize=True)
    assert [r.key for r in compile_plan(load_spec(moved)).runs] != before


@pytest.mark.parametrize("executor", ["local", "inline"])
def test_an_eval_on_a_gguf_model_caches_its_floats(spec_path, tmp_path, executor):
    out, cache = tmp_path / "bundle", tmp_path / "cache"
    args = [str(spec_path), "--out", str(out), "--no-progress", "--executor", executor, "--seeds", "1", "--only", "probe"]
    args += ["--cache", str(cache)]
    r = eval_here(*args)
    assert r.returncode in (0, 1), r.stdout[-3000:] + r.stderr[-3000:]
    sha = _sha(spec_path.parent / "tiny.gguf")
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["model"]["sha256"] == sha
    weights = cache / "weights"  # in the user cache, never in the bundle
    assert not (out / ".weights").exists()
    (entry,) = [p for p in weights.iterdir() if p.is_dir()]
    assert entry.name.startswith(sha + "-") and (entry / "done").exists() and (entry / "model.safetensors").exists()
    results = json.loads((out / "results.json").read_text())
    assert [run["status"] for run in results["runs"]] == ["succeeded"]


def test_a_contender_cannot_read_the_gguf_file_beside_its_code(spec_path, tmp_path):
    out = tmp_path / "bundle"
    r = eval_here(str(spec_path), "--out", str(out), "--no-progress", "--seeds", "1", "--only", "peek_gguf")
    assert r.returncode == 2, r.stdout[-3000:] + r.stderr[-3000:]
    (run,) = json.loads((out / "results.json").read_text())["runs"]
    assert run["status"] == "refused" and "tiny.gguf" in " ".join(run["reasons"])
