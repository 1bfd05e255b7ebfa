"""Loading a model named by a spec source (`hf:ID`, `path:DIR`, `package:MODULE`, `gguf:FILE`).

A GGUF file (`gguf:FILE`, or a package that ships one) is identified by its sha256 and read
through the weights cache (gguf_models.py): de-quantised once, then loaded as a saved float model.

torch and transformers are imported inside the functions: importing this module must stay
cheap (the CLI and the planner read sources without loading any model).
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.util
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fairfight.errors import FairfightError

KINDS = ("auto", "encoder", "causal")
DTYPES = ("float32", "float16", "bfloat16", "float64")
# model_types whose bare model is a decoder-only LM even when the config does not say so
CAUSAL_MODEL_TYPES = frozenset({
    "gpt2", "gpt_neo", "gpt_neox", "gpt_neox_japanese", "gptj", "gpt_bigcode", "llama", "mistral",
    "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "phi", "phi3", "gemma", "gemma2",
    "gemma3_text", "opt", "bloom", "falcon", "olmo", "olmo2", "codegen", "stablelm", "starcoder2",
    "mpt", "granite", "smollm3", "cohere", "ctrl", "openai-gpt", "xglm", "biogpt", "rwkv", "mamba",
})
# what a fingerprint covers: everything that decides the model's behaviour
_FINGERPRINT_SUFFIXES = (".json", ".safetensors", ".bin", ".pt", ".pth", ".txt", ".model")


@dataclass(frozen=True, eq=False)
class LoadedModel:
    model: Any = field(repr=False)
    tokenizer: Any = field(repr=False)
    kind: str  # "encoder" | "causal"
    identity: dict
    num_layers: int
    hidden_size: int
    files: tuple[Path, ...]
    device: str = "cpu"  # where the weights are: "cpu", "cuda", "cuda:N" or "mps" (devices.py)
    dtype: str = "float32"


def load_model(source: str, *, revision: str = "main", kind: str = "auto", dtype: str = "float32",
               base_dir: Path = Path("."), device: str = "cpu", weights_cache=None) -> LoadedModel:
    """The model on `device` ("auto", "cpu", "cuda", "cuda:N", "mps": devices.resolve_device) in `dtype`.

    Its identity names the dtype and the device's type: both change the numbers a read gives
    (the forward cache and run keys must not mix them). `weights_cache`: the folder where GGUF
    files are kept de-quantised (None: read the file itself, de-quantising every time).
    """
    if kind not in KINDS:
        raise FairfightError(f"model kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if dtype not in DTYPES:
        raise FairfightError(f"model dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    from .devices import device_type, resolve_device

    device = resolve_device(device)
    loaded = _load(source, revision, kind, dtype, base_dir, weights_cache)
    loaded.model.to(device)
    identity = {**loaded.identity, "dtype": dtype, "device": device_type(device)}
    return dataclasses.replace(loaded, identity=identity, device=device, dtype=dtype)


SCHEMES = ("hf", "path", "package", "gguf")


def _load(source, revision, kind, dtype, base_dir, weights_cache=None) -> LoadedModel:
    scheme, sep, rest = str(source).partition(":")
    if not sep or not rest or scheme not in SCHEMES:
        raise FairfightError(f"model source {source!r} must be hf:ID, path:DIR, package:MODULE or gguf:FILE")
    if scheme == "hf":
        return _load_hf(source, rest, revision, kind, dtype)
    form, where = local_source(source, base_dir)
    if form == "gguf":
        return _load_gguf(source, where, kind, dtype, weights_cache)
    return _load_dir(source, where, revision, kind, dtype)


# -- sources -------------------------------------------------------------------------------
def local_source(source: str, base_dir: Path = Path(".")) -> tuple[str, Path]:
    """("dir", model folder) or ("gguf", .gguf file) of a path:, package: or gguf: source.

    A package that ships a .gguf file at its top is that file, found without importing the package;
    any other package names its model folder (get_model_path(), else model/).
    """
    scheme, _, rest = str(source).partition(":")
    if scheme == "package":
        from .gguf_models import package_gguf

        found = package_gguf(rest)
        return ("gguf", found) if found is not None else ("dir", package_model_dir(rest))
    if scheme not in ("path", "gguf"):
        raise FairfightError(f"model source {source!r} is not a local file or folder")
    where = Path(rest).expanduser()
    where = (where if where.is_absolute() else Path(base_dir) / where).resolve()
    return ("gguf" if scheme == "gguf" else "dir"), where


def package_model_dir(module: str) -> Path:
    """The model folder of an installed model package: its get_model_path(), else model/."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or spec.origin is None:
        raise FairfightError(f"package:{module}: no installed Python package named {module!r} "
                             f"(pip install it, or use path:DIR)")
    # Model packages keep their heavy imports (sentence-transformers, torch) inside functions;
    # importing the package runs only its light top level, and we call nothing else.
    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # a broken package is a bad source, not a crash
        raise FairfightError(f"package:{module}: importing it failed: {exc}") from exc
    getter = getattr(mod, "get_model_path", None)
    directory = Path(getter()) if callable(getter) else Path(spec.origin).parent / "model"
    if not directory.is_dir():
        raise FairfightError(f"package:{module}: model folder {directory} does not exist")
    return directory.resolve()


def _load_dir(source, directory: Path, revision, kind, dtype) -> LoadedModel:
    if not directory.is_dir():
        raise FairfightError(f"{source}: model folder {directory} does not exist")
    if not (directory / "config.json").is_file():
        raise FairfightError(f"{source}: {directory} has no config.json; is it a saved transformers model "
                             "(model.save_pretrained(DIR))?")
    files = _files_under(directory)
    identity = {"source": source, "revision": None, "commit": None,
                "fingerprint": fingerprint(directory), "path": str(directory)}
    return _instantiate(source, str(directory), {}, kind, dtype, identity, files)


def _load_gguf(source, path: Path, kind, dtype, weights_cache) -> LoadedModel:
    """A GGUF file: read from the weights cache's float copy (made on first use), else from the file."""
    from .gguf_models import dequantised_folder, is_gguf_file, read_gguf

    if not path.is_file():
        raise FairfightError(f"{source}: GGUF file {path} does not exist")
    if not is_gguf_file(path):
        raise FairfightError(f"{source}: {path} is not a GGUF file (it does not start with the bytes 'GGUF')")
    sha = file_sha256(path)
    identity = {"source": source, "revision": None, "commit": None, "fingerprint": None, "sha256": sha,
                "path": str(path)}
    if weights_cache is None:  # no cache to keep floats in: de-quantise in this process
        model, tokenizer = read_gguf(path, source=source)
        return _ready(source, model, tokenizer, "causal" if kind == "auto" else kind, dtype, identity, (path,))
    folder = dequantised_folder(path, sha, weights_cache, source=source)
    return _instantiate(source, str(folder), {}, kind, dtype, identity, (path,) + _files_under(folder))


def _load_hf(source, repo_id, revision, kind, dtype) -> LoadedModel:
    from ...hub import unreachable

    down = unreachable()  # one quick probe: an unreachable hub goes offline now, not after ~70 s of retries
    try:
        from huggingface_hub import try_to_load_from_cache
        loaded = _instantiate(source, repo_id, {"revision": revision}, kind, dtype,
                              {"source": source, "revision": revision}, ())
    except FairfightError as exc:
        if isinstance(exc.__cause__, OSError):
            raise FairfightError(
                f"{source}: could not fetch model {repo_id!r} at revision {revision!r} "
                f"({down + '; not in the local cache' if down else str(exc.__cause__).strip().splitlines()[0]}). "
                f"Download it first while online (e.g. `hf download {repo_id} --revision {revision}`), "
                "or save it to a folder and use path:DIR"
            ) from exc.__cause__
        raise
    cached = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    snapshot = Path(cached).parent if isinstance(cached, str) else None
    commit = snapshot.name if snapshot is not None else None
    files = _files_under(snapshot) if snapshot is not None else ()
    identity = {**loaded.identity, "commit": commit, "fingerprint": None}
    if commit is None or len(commit) != 40:  # not a hub cache layout: fall back to the content
        identity["fingerprint"] = fingerprint(snapshot) if snapshot is not None else None
    return LoadedModel(loaded.model, loaded.tokenizer, loaded.kind, identity, loaded.num_layers,
                       loaded.hidden_size, files)


def _instantiate(source, where: str, extra: dict, kind, dtype, identity, files) -> LoadedModel:
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from .devices import torch_dtype

    hf_logging.disable_progress_bar()  # fairfight shows its own progress; keep run logs clean

    try:
        config = AutoConfig.from_pretrained(where, **extra)
    except OSError as exc:
        raise FairfightError(f"{source}: cannot read the model config: {exc}") from exc
    except (ValueError, KeyError) as exc:
        raise FairfightError(f"{source}: unknown or unsupported architecture "
                             f"(model_type {_model_type(where)!r}): {exc}") from exc
    resolved = detect_kind(config) if kind == "auto" else kind
    auto = AutoModelForCausalLM if resolved == "causal" else AutoModel
    try:
        model = auto.from_pretrained(where, dtype=torch_dtype(dtype), **extra)
        tokenizer = AutoTokenizer.from_pretrained(where, **extra)
    except OSError as exc:
        raise FairfightError(f"{source}: cannot load the model or its tokenizer: {exc}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise FairfightError(f"{source}: cannot build a {resolved} model from {where}: {exc}") from exc
    return _ready(source, model, tokenizer, resolved, dtype, identity, files)


def _ready(source, model, tokenizer, resolved, dtype, identity, files) -> LoadedModel:
    """An instantiated model, in eval mode and dtype, with a pad token, as a LoadedModel."""
    from .devices import torch_dtype

    model.to(torch_dtype(dtype)).eval()
    config = model.config
    if tokenizer.pad_token is None:  # batching needs a pad token; GPT-2-like tokenizers have none
        fallback = tokenizer.eos_token or tokenizer.unk_token
        if fallback is None:
            raise FairfightError(f"{source}: the tokenizer has no pad, eos or unk token to pad batches with")
        tokenizer.pad_token = fallback
    num_layers = getattr(config, "num_hidden_layers", None)
    hidden_size = getattr(config, "hidden_size", None)
    if not num_layers or not hidden_size:
        raise FairfightError(f"{source}: the config does not say num_hidden_layers / hidden_size")
    return LoadedModel(model, tokenizer, resolved, identity, int(num_layers), int(hidden_size), files)


def private_paths(loaded: LoadedModel) -> list[str]:
    """What a contender must not read of a model: its files' folders, but a GGUF file by itself
    (it may lie in the spec's folder, beside the contender's own code, which must stay readable)."""
    return sorted({str(f) if Path(f).suffix == ".gguf" else str(Path(f).parent) for f in loaded.files})


def detect_kind(config) -> str:
    archs = getattr(config, "architectures", None) or ()
    if getattr(config, "is_decoder", False) or any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in archs):
        return "causal"
    return "causal" if getattr(config, "model_type", None) in CAUSAL_MODEL_TYPES else "encoder"


def local_model_type(source: str, base_dir: Path = Path(".")) -> str | None:
    """The config's model_type of a path:/package:/gguf: model, without loading it (None if unknown)."""
    if source.split(":", 1)[0] not in ("path", "package", "gguf"):
        return None
    try:
        form, where = local_source(source, base_dir)
    except FairfightError:
        return None
    if form == "gguf":
        from .gguf_models import architecture

        return architecture(where)
    return _model_type(str(where))


def _model_type(directory: str):
    try:
        return json.loads((Path(directory) / "config.json").read_text()).get("model_type")
    except (OSError, ValueError, AttributeError):
        return None


# -- files and fingerprints -------------------------------------------------------------------
def _files_under(directory: Path) -> tuple[Path, ...]:
    """Every model file, with symlinks (the hub cache) listed both as link and as target."""
    out: set[Path] = set()
    for p in sorted(directory.rglob("*")):
        if p.is_file():
            out.add(p.absolute())
            out.add(p.resolve())
    return tuple(sorted(out))


_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    st = os.stat(path)
    key = (str(Path(path).resolve()), st.st_mtime_ns, st.st_size)
    if key not in _HASH_CACHE:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _HASH_CACHE[key] = h.hexdigest()
    return _HASH_CACHE[key]


def fingerprint(directory: Path) -> str:
    """sha256 over (relative name, content hash) of config, weight and tokenizer files."""
    h = hashlib.sha256()
    for p in sorted(directory.rglob("*")):
        if p.is_file() and p.suffix in _FINGERPRINT_SUFFIXES and not p.name.startswith("."):
            h.update(f"{p.relative_to(directory).as_posix()}\0{file_sha256(p)}\n".encode())
    return h.hexdigest()


def spec_model_kind(spec) -> str:
    """encoder or causal: the spec's `model.kind`, else what the model's config.json says, else a guess from the grant."""
    if spec.model.kind != "auto":
        return spec.model.kind
    kind = spec.model.source.split(":", 1)[0]
    try:
        if kind in ("path", "package", "gguf"):
            form, where = local_source(spec.model.source, spec.base_dir)
            if form == "gguf":  # transformers reads GGUF files as causal LMs only
                return "causal"
            from types import SimpleNamespace

            return detect_kind(SimpleNamespace(**json.loads((Path(where) / "config.json").read_text())))
    except Exception:  # an unreadable config is reported when the model loads
        pass
    return "causal" if {"logprobs", "generate"} & spec.rules.grant.model else "encoder"


__all__ = ["LoadedModel", "load_model", "local_source", "private_paths", "package_model_dir", "detect_kind", "spec_model_kind", "fingerprint", "file_sha256"]
