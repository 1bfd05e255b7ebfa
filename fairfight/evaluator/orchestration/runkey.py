"""Run keys: a hash of everything that can change a run's result, and nothing else.

KEY_VERSION and KEY_FIELDS are the explicit, versioned list of what goes into a key. Change
either and every cached run is recomputed; that is the point.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
from importlib import metadata
from pathlib import Path

from ...data.files import file_sources, fixed_folder, is_pattern, matched_files
from ...spec.ir import Contender, Spec, to_jsonable
from ...spec.vocabulary import FILE_SOURCES

# 2: knowledge enters only the keys of the runs granted it ("knowledge")
# 3: splits and data enter only the keys of the runs that read them ("splits", "data": read_splits)
# 4: served greedy decoding runs its one-token passes on generation.DECODE_ROWS rows with the math
#    attention, and a prompt's own pass keeps only its last logits: texts may change in a near tie
# 5: a prompt's own pass is unpadded, and its one-token passes hold prompts of any lengths in slots,
#    with attention computed row by row (model_side/rows.py): texts may change in a near tie
KEY_VERSION = 5
KEY_FIELDS = ("key_version", "task", "evaluate", "rules", "splits", "data", "model", "contender", "code",
              "control", "seed", "params", "grant", "knowledge", "packages")
PACKAGES = ("fairfight", "torch", "transformers", "datasets", "tokenizers", "numpy")


def digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


@functools.lru_cache(maxsize=256)
def file_hash(path: str, mtime: float, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _hash_file(path) -> str:
    p = Path(path)
    st = p.stat()
    return file_hash(str(p.resolve()), st.st_mtime, st.st_size)


@functools.lru_cache(maxsize=1)
def package_versions() -> dict:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def code_identity(contender: Contender) -> str:
    """Method code: the source file's hash. Built-ins: their module's source hash."""
    if contender.run:
        target = contender.run.rsplit(":", 1)[0]
        if target.endswith(".py"):
            return "file:" + _hash_file(target)
        spec = importlib.util.find_spec(target.split(".")[0])
        origin = None
        try:
            full = importlib.util.find_spec(target)
            origin = full.origin if full else None
        except (ImportError, ValueError):
            origin = spec.origin if spec else None
        return f"module:{target}:" + (_hash_file(origin) if origin and Path(origin).is_file() else "unknown")
    from ...baselines import source_of

    return f"builtin:{contender.name}:" + hashlib.sha256(source_of(contender.name).encode()).hexdigest()


def data_identity(spec: Spec, splits=None) -> dict:
    """What the data is: file hashes for files, name + options for builtins, id + revision for hubs;
    a split that names a file itself (`from: jsonl:test.jsonl`) by that file's hashes too.
    `splits`: only the data those splits are drawn from (None: all of it)."""
    wanted = None if splits is None else {spec.splits[n].dataset for n in splits} | {f"splits.{n}" for n in splits}
    out = {}
    for name, ds in spec.datasets.items():
        if wanted is None or name in wanted:
            out[name] = {"what": _source_identity(ds.source, ds), "text": ds.text, "labels": to_jsonable(ds.labels),
                         "split_column": ds.split_column}
    for label, source in file_sources(spec).items():
        if label.startswith("splits.") and (wanted is None or label in wanted):
            out[label] = {"what": _source_identity(source, None)}
    return out


def read_splits(spec: Spec, grant, contender: Contender | None = None, *, tuning: bool = False) -> tuple:
    """The splits a run can read: the evaluation split (it predicts on it), the splits its grant
    names, a skyline's own split and, for a tuning trial, the selection split. A split is built
    from its own definition and data alone (data/splits.py), so a change to any other split (a
    family's data axis, a transform) cannot change the run, and does not rerun it."""
    names = {spec.evaluate.split, *grant.data}
    if contender is not None and contender.split:
        names.add(contender.split)
    if tuning and spec.rules.selection:
        names.add(spec.rules.selection)
    return tuple(sorted(n for n in names if n in spec.splits))


def data_parts(spec: Spec, splits: tuple) -> dict:
    """The "splits" and "data" fields of the key of a run that reads `splits`."""
    return {"splits": digest({n: to_jsonable(spec.splits[n]) for n in splits}),
            "data": digest(data_identity(spec, splits))}


def _source_identity(source: str, ds):
    kind, target = source.split(":", 1)
    if kind in FILE_SOURCES and is_pattern(target):
        top = fixed_folder(target)
        return {"pattern": f"{kind}:{Path(target).relative_to(top).as_posix()}",
                "files": [[f.relative_to(top).as_posix(), _hash_file(f)] for f in matched_files(target)]}
    if kind in FILE_SOURCES and Path(target).is_file():
        return f"{kind}:sha256={_hash_file(target)}"
    if ds is None:
        return {"source": source}
    return {"source": ds.source, "config": ds.config, "revision": ds.revision, "options": to_jsonable(ds.options)}


def knowledge_identity(spec: Spec) -> dict:
    """What every knowledge item is: its value as written, or its artifact's sha256 (a file's bytes;
    a folder's files, e.g. an SAE: fairfight.knowledge.artifact_sha256), None for a missing one."""
    from ...knowledge import artifact_sha256

    out = {}
    for name, item in sorted(spec.rules.knowledge.items()):
        if item.artifact is not None:
            path = Path(item.artifact)
            out[name] = {"artifact_sha256": artifact_sha256(path) if path.exists() else None}
        else:
            out[name] = {"value": to_jsonable(item.value)}
    return out


def evaluate_identity(spec: Spec) -> str:
    """evaluate: as written, plus the content of a spec-provided scorer file (FILE.py:NAME): a changed
    scorer is a changed rule of the fight. Without one, the digest is the section's alone."""
    from ...spec.scorer_syntax import ScorerSyntaxError, parse_scorer

    section = to_jsonable(spec.evaluate)
    try:
        scorer = parse_scorer(spec.evaluate.scorer) if spec.evaluate.scorer else None
    except ScorerSyntaxError:
        scorer = None
    if scorer is None or scorer.kind != "function":
        return digest(section)
    path = Path(spec.base_dir) / scorer.file
    return digest([section, hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None])


def granted_knowledge(identity: dict, grant) -> dict:
    """The slice of knowledge_identity(spec) a run is granted: a changed artifact (or word list)
    reruns the runs that may read it, and no other."""
    return {name: identity[name] for name in sorted(grant.knowledge) if name in identity}


def rules_identity(spec: Spec) -> str:
    """The rules as written, less their knowledge: which items exist and what they hold enter
    each run's key through its own grant (`granted_knowledge`), so a run not granted an item
    is not rerun when it changes, nor when an item is added."""
    rules = to_jsonable(spec.rules)
    # what tuning picks by changes which parameters the final runs get (their keys hold those), never a run
    rules.pop("selection_metric", None)
    rules.pop("knowledge", None)
    rules.get("grant", {}).pop("knowledge", None)
    return digest(rules)


def model_identity(spec: Spec) -> dict:
    """The model as its runs see it: its files, its dtype and the type of device it runs on.

    dtype changes every number a read gives; the device type (cpu, cuda, mps) changes them in
    float rounding (other kernels), and a record must say where it really ran, so a result from
    the CPU is not reused for a GPU eval. The GPU's number (cuda:0 or cuda:1) changes nothing.
    """
    from ..model_side.devices import device_type, planned_device

    kind = spec.model.source.split(":", 1)[0]
    ident = {"source": spec.model.source, "revision": spec.model.revision, "kind": spec.model.kind,
             "dtype": spec.model.dtype, "device": device_type(planned_device(spec.execution.device))}
    if kind in ("path", "package", "gguf"):
        from ..model_side.models import file_sha256, fingerprint, local_source

        from ...errors import FairfightError

        try:  # a package is resolved here, at plan time: validate imports no package (docs/spec-language.md)
            form, where = local_source(spec.model.source, spec.base_dir)
        except FairfightError as exc:
            raise spec.error("model.source", str(exc).removeprefix(f"{spec.model.source}: ")) from None
        if form == "gguf":  # the file's content is the model (its de-quantised copy is made from it)
            ident["sha256"] = file_sha256(where) if where.is_file() else None
        else:
            ident["fingerprint"] = fingerprint(where) if where.is_dir() else None
        ident.pop("source") if kind in ("path", "gguf") else None  # the same files elsewhere are the same model
    return ident


def run_key(parts: dict) -> str:
    missing = [f for f in KEY_FIELDS if f not in parts]
    extra = [f for f in parts if f not in KEY_FIELDS]
    if missing or extra:
        raise ValueError(f"run key fields: missing {missing}, unexpected {extra}")
    return digest(parts)[:24]
