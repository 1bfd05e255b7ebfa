"""The one worker entry point: run a contender from a serialised run description.

Order matters: load the spec and the model, install the guard, build the context (granted
tables only, sent by the parent), call the contender, and only after it returned a predictor
ask the parent for the evaluation inputs (texts, never labels), predict (in shuffled chunks, with
a sample predicted again in another composition: batching.py), and report.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import time
import traceback
from pathlib import Path

from ...errors import AffordanceError, BudgetExceeded, FairfightError
from ...spec.ir import FrozenMap, Uses


class Tables:
    """The granted split tables the parent sent, served by name like a SplitLoader."""

    def __init__(self, tables: dict):
        from ...data.sources import Table

        self._tables = {name: Table(cols) for name, cols in tables.items()}

    def split(self, name):
        return self._tables[name]


class PipeChannel:
    """The local executor's pipe. What goes to the orchestrator is plain data (wire.py), never a
    pickle: the orchestrator must not run code a contender slipped into a message."""

    def __init__(self, conn):
        self.conn = conn

    def send(self, kind: str, payload) -> None:
        from ..model_side import wire

        self.conn.send_bytes(wire.encode([kind, payload]))

    def started(self) -> None:
        """The contender's code starts now: its wall-time budget runs from here."""
        self.send("started", None)

    def evaluation_inputs(self) -> list:
        self.send("ready", None)
        return self.conn.recv()

    def evaluation_chunks(self) -> list:
        """The evaluation inputs as the orchestrator chose to group them (texts only, never labels)."""
        return self.evaluation_inputs()


class DirectChannel:
    def __init__(self, texts):
        self.texts = texts

    def started(self) -> None:
        pass

    def evaluation_inputs(self) -> list:
        return list(self.texts)


def _uses(d: dict) -> Uses:
    return Uses(frozenset(d["model"]), FrozenMap((k, frozenset(v)) for k, v in d["data"].items()),
                frozenset(d["knowledge"]))


def _function(spec, run: dict):
    if run["role"] in ("baseline", "skyline"):
        from ...baselines import builtin

        return builtin(run["name"]).function
    contender = spec.methods[run["name"]]
    target, name = contender.run.rsplit(":", 1)
    if target.endswith(".py"):
        mod_spec = importlib.util.spec_from_file_location(f"fairfight_method_{Path(target).stem}", target)
        module = importlib.util.module_from_spec(mod_spec)
        mod_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(target)
    fn = getattr(module, name, None)
    if not callable(fn):
        raise FairfightError(f"{contender.run}: no function '{name}'")
    return fn


def trained_predictor(spec, run: dict, ctx, channel):
    """Start the contender's clock, import its code (only now: inside the walls), call it, and
    check that what it returned can predict."""
    channel.started()
    predictor = _function(spec, run)(ctx)
    if not callable(getattr(predictor, "predict", None)):
        raise FairfightError(f"{run['label']} returned {type(predictor).__name__}, not a predictor "
                             "(an object with predict(texts, model))")
    return predictor


def _contender(spec, run):
    if run["role"] in ("method", "control"):
        return spec.methods[run["name"]]
    pool = spec.baselines if run["role"] == "baseline" else spec.skylines
    return next(c for c in pool if c.name == run["name"])


def _spec(info: dict):
    """The IR from the spec text the parent planned with (so an edit to the file mid-eval changes
    nothing): sent as `ir` by the local executor, which checked it once; checked here otherwise."""
    if info.get("ir") is not None:
        return info["ir"]
    from ...errors import SpecError
    from ...spec.check import check_text

    report = check_text(info["text"], name=info["name"], base_dir=info["base_dir"], overrides=info["overrides"],
                        refusals_ok=True, member=info.get("member"))
    if not report.ok:
        raise SpecError(report.diagnostics)
    return report.spec


def denied_paths(spec, loaded, granted_knowledge=None) -> list:
    """`loaded`: the loaded model, or the folders of its files (what the model server reports)."""
    from ...data.files import source_files, spec_sources
    from ...spec.vocabulary import FILE_SOURCES
    from ..model_side.models import private_paths
    from .guard import hub_caches

    base = Path(spec.base_dir)  # a spec's relative paths are relative to its folder, not the worker's cwd
    folders = private_paths(loaded) if hasattr(loaded, "files") else list(loaded)
    paths = folders + hub_caches()
    if granted_knowledge is not None:  # artifacts (files, SAE folders) the contender was not granted
        paths += [str(base / k.artifact) for n, k in spec.rules.knowledge.items()
                  if k.artifact is not None and n not in granted_knowledge]
    for source in spec_sources(spec).values():  # datasets' and splits' own
        kind, target = source.split(":", 1)
        if kind in FILE_SOURCES:  # a pattern: each file it matches
            paths += [str(base / f) for f in source_files(source)]
        elif kind == "hf":  # `hf:` also loads a local folder (datasets.load_dataset(path)): every split's labels
            paths += [p for p in (str(base / target), os.path.abspath(target)) if os.path.exists(p)]
    return paths + scorer_files(spec) + results_beside(base)


def scorer_files(spec) -> list[str]:
    """A spec-provided scorer (evaluate.scorer: FILE.py:NAME) is part of the rules: never readable,
    importable or runnable in a contender's process, though it lies in the spec's folder."""
    from ...spec.scorer_syntax import ScorerSyntaxError, parse_scorer

    text = getattr(spec.evaluate, "scorer", None)
    try:
        scorer = parse_scorer(text) if text else None
    except ScorerSyntaxError:
        return []
    return [str((Path(spec.base_dir) / scorer.file).resolve())] if scorer and scorer.kind == "function" else []


_SKIPPED = {"node_modules", "__pycache__", "site-packages", "venv"}


def results_beside(root, depth: int = 4, limit: int = 20_000) -> list[str]:
    """Other evals' bundles and run folders under `root` (the spec's folder, which stays readable): an
    earlier bundle's evaluation.jsonl holds the evaluation labels, and a skyline's predictions nearly
    do. Found by their files, at most `depth` folders down and `limit` entries in all (hidden folders
    and environments skipped): a best effort, for the usual layout (docs/trust-boundary.md)."""
    root = os.path.realpath(root)
    found, seen, todo = [], 0, [(root, 0)]
    while todo and seen < limit:
        folder, level = todo.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        seen += len(entries)
        names = {e.name for e in entries}
        if folder != root and ("evaluation.jsonl" in names or {"provenance.json", "results.json"} <= names
                               or {"record.json", "predictions.jsonl"} <= names):
            found.append(folder)
            continue
        if level < depth:
            todo += [(e.path, level + 1) for e in entries if not e.name.startswith(".") and e.name not in _SKIPPED
                     and e.is_dir(follow_symlinks=False)]
    return found


def results_in_other_roots(readable, base_dir) -> list[str]:
    """Other evals' results in the folders granted besides the spec's (searched by denied_paths): the
    method's folder when it lies elsewhere, and folders on sys.path, where `python -m fairfight.cli`
    puts its working folder (an earlier bundle there held the evaluation labels, readable).
    The Python environment and fairfight's own package are not searched."""
    import sys

    from .sandbox import _within, shared_folders

    skip = [os.path.realpath(p) for p in (base_dir, sys.prefix, sys.base_prefix, Path(__file__).parents[2])]
    shared, roots = shared_folders(), []
    for path in [*readable, *sys.path]:
        real = os.path.realpath(path) if path else ""
        if (real and os.path.isdir(real) and real not in shared and not any(_within(real, s) for s in skip)
                and real not in roots):
            roots.append(real)
    granted = [os.path.realpath(p) for p in (base_dir, *readable)]  # the spec's folder may look like a bundle
    return [found for root in roots for found in results_beside(root)
            if not any(_within(g, found) for g in granted)]


def _grants(spec, contender, granted) -> tuple[list[str], list[str]]:
    """(readable, listable) paths of the spec's and the method's own: each folder, unless it is a
    shared one (home, the temp folder: sandbox.shared_folders), where only the method's own files and
    the granted artifacts are readable (a method at /tmp/methods.py must not open all of /tmp). A
    method named as a module (`pkg.mod:fn`) also needs its folder's names listed, to be found, unless
    _pin_top_module found it before the lockdown (all but namespace packages)."""
    from .sandbox import shared_folders

    base = Path(spec.base_dir)
    artifacts = [str(base / k.artifact) for n, k in spec.rules.knowledge.items()
                 if k.artifact is not None and n in granted]
    target = contender.run.rsplit(":", 1)[0] if contender is not None else ""
    is_file = target.endswith(".py")
    own = [str(base / target)] if is_file else _module_files(target)
    folders = [base, (base / target).parent] if is_file else [base]
    shared = shared_folders()
    readable = [str(f) for f in folders if os.path.realpath(f) not in shared] + own + artifacts
    return readable, ([] if is_file else [str(Path(p).parent) for p in own])


def _module_files(target) -> list[str]:
    """Where a method named as a module (`pkg.mod:fn`) lies: its top-level module or package,
    found without importing it (its code runs only inside the walls)."""
    import importlib.machinery

    found = importlib.machinery.PathFinder.find_spec(target.split(".")[0]) if target else None
    if found is None:
        return []
    return list(found.submodule_search_locations or []) or [found.origin]


class _FoundBefore:
    """A meta path finder for the method's top-level module (`pkg` of `pkg.mod:fn`), found before the
    lockdown: importing it inside the walls then lists no folder. Where it lies in a shared folder
    (home, /tmp), listing that folder would have let the contender list all of it, every folder down."""

    def __init__(self, name: str, origin: str, locations):
        self.name, self.origin, self.locations = name, origin, locations

    def find_spec(self, name, path=None, target=None):
        if name != self.name or path is not None:
            return None
        return importlib.util.spec_from_file_location(name, self.origin, submodule_search_locations=self.locations)


def _pin_top_module(target: str) -> bool:
    """Install _FoundBefore for a method named as a module; False where there is nothing to pin (a file
    target, a module not found, a namespace package: no file), and the folder must be listable."""
    import importlib.machinery
    import sys

    if not target or target.endswith(".py"):
        return False
    top = target.split(".")[0]
    found = importlib.machinery.PathFinder.find_spec(top)
    if found is None or not found.has_location or not found.origin:
        return False
    locations = list(found.submodule_search_locations) if found.submodule_search_locations is not None else None
    sys.meta_path.insert(0, _FoundBefore(top, found.origin, locations))
    return True


def walls_of(spec, loaded, desc) -> dict:
    """What the OS walls (sandbox.py) of this run's contender processes allow and deny, found once
    (and the run's secrets made unreachable in this process: the dataset generators forgotten, the
    resource tracker detached) before the processes that apply them are forked. The model is in the
    model server, so the forward cache is out of reach too; the audit hook refuses the same paths."""
    import fairfight
    from fairfight.data import GENERATORS, generator_files

    import gc

    from .guard import detach_resource_tracker, forget_modules

    # Knowledge artifacts the run was not granted lie in the spec's folder, which stays readable:
    # leaving them to the audit hook let native code (or a contender that switched the hook off) read them.
    granted = frozenset(desc["run"]["grant"]["knowledge"])
    denied = denied_paths(spec, loaded, granted) + desc.get("private", []) + [desc.get("forward_cache")]
    denied += [desc["weights_cache"]] if desc.get("weights_cache") else []
    denied += generator_files()  # with the spec's options, a builtin dataset's generator gives its labels
    forget_modules(GENERATORS)  # loaded while the spec was checked: out of reach, and not importable again
    gc.collect()  # and out of memory: uncollected, a contender with the guard off found `generate` by gc.get_objects()
    detach_resource_tracker()
    contender = spec.methods.get(desc["run"]["name"]) if desc["run"]["role"] in ("method", "control") else None
    readable, listable = _grants(spec, contender, granted)
    if contender is not None and _pin_top_module(contender.run.rsplit(":", 1)[0]):
        listable = []  # found without listing its folder
    denied += results_in_other_roots(readable, spec.base_dir)
    return {"read": [str(Path(fairfight.__file__).parent), *readable], "write": [], "denied": denied,
            "listable": listable}


def execute(desc: dict, channel) -> dict:
    """Run one contender in this process, model and all (executor inline: debugging, no isolation);
    return the result record (status, predictions, ledger, log). Every other executor runs the
    contender in a sandboxed process beside a model server (served_worker.py)."""
    from . import batching
    from .context import build_context
    from ..model_side.ledger import Budget, Ledger
    from ..model_side import devices
    from ..model_side.models import load_model
    from ..model_side.server import randomized, redirect_seed, rule_of

    started, backoffs_before = time.time(), len(devices.BACKOFFS)
    run, logs, ledger = desc["run"], [], None
    result = {"key": run["key"], "status": "failed", "predictions": None, "ledger": None, "reasons": []}
    try:
        spec = _spec(desc["spec"])
        if spec.spec_hash != desc["spec"]["hash"]:
            raise FairfightError("the spec changed after the plan was made; run eval again")
        contender = _contender(spec, run)
        m = spec.model
        loaded = load_model(m.source, revision=m.revision, kind=m.kind, dtype=m.dtype, base_dir=spec.base_dir,
                            device=desc.get("device") or spec.execution.device, weights_cache=desc.get("weights_cache"))
        result["device"] = devices.used(loaded)
        poor_dtype = devices.dtype_warning(loaded.device, loaded.dtype)  # float16 where auto chose the CPU
        if poor_dtype:
            logs.append("warning: " + poor_dtype)
        if run["control"] == "random_model":
            loaded = randomized(loaded, run["seed"])
        budget = spec.rules.budget
        ledger = Ledger(Budget.of(budget))
        rule = rule_of(run)
        loaded_at = time.time()
        forward = None
        if desc.get("forward_cache"):
            from ..model_side.forward_cache import ForwardCache

            forward = ForwardCache(desc["forward_cache"], loaded.identity, pass_threads=desc.get("pass_threads"),
                                   universes=desc.get("universes") or ())
        result["isolation"] = "none"
        result["model_access"] = "in-process"
        ctx = build_context(spec, contender, run["seed"], loaded_model=loaded, splits=Tables(desc["tables"]),
                            params=run["params"], ledger=ledger, grant=_uses(run["grant"]), rule=rule,
                            classes=desc["classes"], forward_cache=forward, redirect_seed=redirect_seed(run))
        try:
            predictor = trained_predictor(spec, run, ctx, channel)
            trained_at = time.time()
            texts = channel.evaluation_inputs()
            ledger.begin_evaluation(texts)
            if forward is not None:  # chunks of the inputs take their rows of one shared pass over all of them
                forward.add_universe(texts)
            rows, classes, check = batching.predict_in_chunks(predictor, texts, ctx.model, run["key"],
                                                                 task_classes=desc.get("classes"))
            result.update(status="succeeded", predictions=rows, classes=classes, batch_check=check)
            if check["differing"] and spec.task.tier == "fair-fight":
                result.update(status="refused", error=batching.describe(check), reasons=[batching.describe(check)],
                              predictions=None)
            result["timings"] = {"load": loaded_at - started, "train": trained_at - loaded_at,
                                 "predict": time.time() - trained_at}
        except (AffordanceError, BudgetExceeded) as exc:
            result.update(status="refused", error=str(exc))
        finally:
            logs += ctx.logs
        result["ledger"] = ledger.to_dict()
        refused = [e["refused"] for e in result["ledger"]["entries"] if e["refused"]]
        if refused:  # a refusal the contender caught still ends the run refused
            result.update(status="refused", reasons=refused + result["reasons"], predictions=None)
    except Exception as exc:
        result.update(status="failed", error=str(exc) if isinstance(exc, FairfightError) else repr(exc),
                      traceback=traceback.format_exc())
        if ledger is not None:
            result["ledger"] = ledger.to_dict()
    result["log"] = logs + devices.BACKOFFS[backoffs_before:]  # batches halved on out-of-memory
    result["elapsed"] = time.time() - started
    return result
