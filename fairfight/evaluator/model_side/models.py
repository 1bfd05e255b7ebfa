"""Loading a model named by a spec source (`hf:ID`, `path:DIR`, `package:MODULE`).

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
               base_dir: Path = Path("."), device: str = "cpu") -> LoadedModel:
    """The model on `device` ("auto", "cpu", "cuda", "cuda:N", "mps": devices.resolve_device) in `dtype`.

    Its identity names the dtype and the device's type: both change the numbers a read gives
    (the forward cache and run keys must not mix them).
    """
    if kind not in KINDS:
        raise FairfightError(f"model kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if dtype not in DTYPES:
        raise FairfightError(f"model dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    from .devices import device_type, resolve_device

    device = resolve_device(device)
    loaded = _load(source, revision, kind, dtype, base_dir)
    loaded.model.to(device)
    identity = {**loaded.identity, "dtype": dtype, "device": device_type(device)}
    return dataclasses.replace(loaded, identity=identity, device=device, dtype=dtype)


def _load(source, revision, kind, dtype, base_dir) -> LoadedModel:
    scheme, sep, rest = str(source).partition(":")
    if not sep or not rest or scheme not in ("hf", "path", "package"):
        raise FairfightError(f"model source {source!r} must be hf:ID, path:DIR or package:MODULE")
    if scheme == "hf":
        return _load_hf(source, rest, revision, kind, dtype)
    if scheme == "path":
        directory = Path(rest).expanduser()
        directory = (directory if directory.is_absolute() else Path(base_dir) / directory).resolve()
    else:
        directory = package_model_dir(rest)
    return _load_dir(source, directory, revision, kind, dtype)


# -- sources -------------------------------------------------------------------------------
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
    model.eval()
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


def detect_kind(config) -> str:
    archs = getattr(config, "architectures", None) or ()
    if getattr(config, "is_decoder", False) or any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in archs):
        return "causal"
    return "causal" if getattr(config, "model_type", None) in CAUSAL_MODEL_TYPES else "encoder"


def local_model_type(source: str, base_dir: Path = Path(".")) -> str | None:
    """The config's model_type of a path:/package: model, without loading it (None if unknown)."""
    kind, target = source.split(":", 1)
    try:
        folder = Path(base_dir) / target if kind == "path" else package_model_dir(target) if kind == "package" else None
    except FairfightError:
        return None
    return _model_type(str(folder)) if folder is not None else None


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
    kind, target = spec.model.source.split(":", 1)
    try:
        folder = Path(spec.base_dir) / target if kind == "path" else package_model_dir(target) if kind == "package" else None
        if folder is not None:
            from types import SimpleNamespace

            return detect_kind(SimpleNamespace(**json.loads((Path(folder) / "config.json").read_text())))
    except Exception:  # an unreadable config is reported when the model loads
        pass
    return "causal" if {"logprobs", "generate"} & spec.rules.grant.model else "encoder"


__all__ = ["LoadedModel", "load_model", "package_model_dir", "detect_kind", "spec_model_kind", "fingerprint", "file_sha256"]
