"""What an evaluation writes besides the runs: results.json (the run records in plan order,
counts, summary, tuning, and the verdicts and intervals the judgement gives) and provenance.json
(what it ran on). Functions of an Evaluation (runner.py), which keeps the run tables and
execution; the numbers come from judgement/ (verdicts.py, summary.py)."""
from __future__ import annotations

import platform
from datetime import datetime, timezone
from pathlib import Path

from ...data.transforms import transforms_of
from ...spec.ir import to_jsonable
from ..judgement.summary import contender_intervals, summarise
from . import runkey
from .bundle import RESULTS_FORMAT, RESULTS_VERSION


def results_of(ev, interrupted=False) -> dict:
    """results.json of an evaluation: its run records in plan order, counts, summary, tuning, rules."""
    runs = [ev.records[r.key] for r in ev.plan.runs if r.key in ev.records]
    counts = {s: sum(r["status"] == s for r in runs) for s in ("succeeded", "refused", "failed")}
    counts["pending"] = len(ev.plan.runs) - len(runs)
    counts["refused_at_plan"] = len(ev.plan.refusals)
    trials = [r for r in ev.records.values() if r.get("trial") is not None]
    counts["trials"] = {s: sum(r["status"] == s for r in trials) for s in ("succeeded", "refused", "failed")}
    spec = ev.spec
    return {
        "format": RESULTS_FORMAT, "version": RESULTS_VERSION, "isolation": ev.isolation_level(),
        "device": ev.device_summary(),
        "task": to_jsonable(spec.task), "spec_hash": spec.spec_hash,
        "spec": Path(spec.path).name if spec.path else "spec.yaml",  # relative to the spec's folder
        "evaluate": {"kind": spec.evaluate.kind, "scorer": spec.evaluate.scorer,
                     "split": spec.evaluate.split, "target": spec.evaluate.target, "metrics": list(spec.evaluate.metrics),
                     "primary": spec.evaluate.primary, "groups": list(spec.evaluate.groups),
                     "confidence": spec.evaluate.confidence, "examples": len(ev.gold),
                     "resample": str(spec.evaluate.resample)},
        "rules": {"grant": to_jsonable(spec.rules.grant), "selection": spec.rules.selection,
                  "budget": to_jsonable(spec.rules.budget), "knowledge": sorted(spec.rules.knowledge),
                  "judgement": {n: k.judgement for n, k in sorted(spec.rules.knowledge.items()) if k.judgement},
                  "transforms": transforms_of(spec)},
        "contenders": {"methods": list(spec.methods), "baselines": [b.name for b in spec.baselines],
                       "skylines": [s.name for s in spec.skylines], "controls": list(spec.controls)},
        "claims": [c.text for c in spec.judged_claims],
        "seeds": list(ev.plan.seeds), "interrupted": interrupted, "counts": counts,
        "summary": summarise(runs, spec.evaluate.primary),
        "refusals": [{"label": r.label, "role": r.role, "reason": r.reason} for r in ev.plan.refusals],
        "tuning": tuning_summary(ev),
        "runs": runs,
        **({"member": member_summary(spec.member)} if spec.member is not None else {}),
    }


def member_summary(member) -> dict:
    """Which member of a family an evaluation is (results.json, provenance.json, family.json)."""
    return {"name": member.name, "labels": dict(member.labels), "values": to_jsonable(member.values)}


def tuning_summary(ev) -> dict:
    from .tuning import choose

    trials = [r for r in ev.records.values() if r.get("trial") is not None]
    return {"trials_allowed": ev.spec.rules.budget.trials, "selection": ev.spec.rules.selection,
            "metric": ev.spec.tuning_metric, "contenders": choose(trials, ev.spec.tuning_metric),
            "notes": ev.tuning_notes}


def verdicts_of(ev, runs) -> dict:
    """Each claim's verdict, each contender's intervals, and notes, from the runs' predictions."""
    from ..judgement.stats import EvalSet
    from ..judgement.verdicts import Judge, common_baselines_missing

    evalset = EvalSet(ev.gold, ev.test.columns, ev.spec.evaluate.groups)
    judge = Judge(ev.spec, runs, ev.bundle.read_predictions, evalset)
    verdicts = [judge.judge(c) for c in ev.spec.judged_claims]
    intervals = contender_intervals(judge, ev.spec)
    notes = []
    if ev.spec.task.tier == "no-holds-barred":
        missing = common_baselines_missing(ev.spec)
        if missing:
            notes.append("no-holds-barred: these common baselines were not in the fight: " + ", ".join(missing))
    return {"verdicts": [v.to_dict() for v in verdicts], "notes": notes, "intervals": intervals}


def provenance_of(ev) -> dict:
    """provenance.json: what the evaluation ran on (files, code, packages, model, data, machine)."""
    spec = ev.spec
    return {
        # files by their names relative to the spec's folder, with their hashes: a published bundle
        # names nothing on the author's machine; the folder relative to the bundle lets audit find it
        "spec": {"file": Path(spec.path).name if spec.path else "spec.yaml",
                 "folder_from_bundle": _relative(spec.base_dir, ev.bundle.root), "sha256": spec.spec_hash,
                 "overrides": ev.overrides, "copy": "spec.yaml", "files": spec_file_hashes(spec),
                 **({"member": spec.member.name} if spec.member is not None else {})},
        "code": {r.label: r.code for r in ev.plan.runs},
        "packages": runkey.package_versions(),
        "model": runkey.model_identity(spec), "data": runkey.data_identity(spec),
        "knowledge": runkey.knowledge_identity(spec), "transforms": transforms_of(spec),
        "run_key": {"version": runkey.KEY_VERSION, "fields": list(runkey.KEY_FIELDS)},
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "processor": platform.machine(), "cpus": _cpus()},
        "isolation": ev.isolation_level()["level"], "isolation_why": ev.isolation_level()["why"],
        "device": ev.device_summary(),
        "model_access": ev.model_access(),
        "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _relative(folder: Path, bundle: Path) -> str:
    import os

    return Path(os.path.relpath(Path(folder).resolve(), Path(bundle).resolve())).as_posix()


def spec_file_hashes(spec) -> list:
    """[{path (relative to the spec's folder), what, sha256}] of the files the spec names (pack.py)."""
    from ...pack import spec_files

    base, out = spec.base_dir.resolve(), []
    for what, path in spec_files(spec):
        try:
            rel = path.resolve().relative_to(base).as_posix()
        except ValueError:
            rel = f"(outside the spec's folder) {path.name}"
        out.append({"path": rel, "what": what, "sha256": runkey._hash_file(path)})
    return out


def _cpus():
    import os

    return os.cpu_count()
