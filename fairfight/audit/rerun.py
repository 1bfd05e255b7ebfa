"""--rerun K: re-execute K randomly chosen runs (final runs and tuning trials) from the spec and data,
and compare predictions."""
from __future__ import annotations

import random
import tempfile
from pathlib import Path


def missing_inputs(root: Path, folder: Path) -> list[str]:
    """What --rerun needs and cannot find, each with what identifies it (from provenance.json): the
    model (its source; its files' fingerprint) and the spec's data and knowledge files (their sha256,
    paths relative to the spec's folder). [] when everything is at hand (hub datasets are not checked
    here: the loader says when one is missing)."""
    import json

    import yaml

    try:
        provenance = json.loads((root / "provenance.json").read_text(encoding="utf-8"))
        source = (yaml.safe_load((root / "spec.yaml").read_text(encoding="utf-8")) or {})["model"]["source"]
    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError):
        return []  # no provenance or spec copy: other findings say so
    out = []
    files = (provenance.get("spec") or {}).get("files") or []
    for item in files:
        if item.get("what") in ("data", "knowledge") and not (folder / item["path"]).is_file():
            out.append(f"{item['what']} file {item['path']} (relative to the spec's folder {folder}), "
                       f"sha256 {item['sha256']}")
    if not _model_at_hand(str(source), folder):
        fingerprint = (provenance.get("model") or {}).get("fingerprint")
        commit = (provenance.get("model") or {}).get("commit")
        ident = f", files' fingerprint {fingerprint}" if fingerprint else (f", commit {commit}" if commit else "")
        out.append(f"model {source}{ident}")
    return out


def _model_at_hand(source: str, folder: Path) -> bool:
    kind, _, target = source.partition(":")
    if kind == "path":
        path = Path(target) if Path(target).is_absolute() else folder / target
        return (path / "config.json").is_file()
    if kind == "package":
        import importlib.util

        try:
            return importlib.util.find_spec(target.split(".")[0]) is not None
        except (ImportError, ValueError):
            return False
    if kind == "hf":
        try:
            from huggingface_hub import try_to_load_from_cache

            return isinstance(try_to_load_from_cache(target, "config.json"), str)
        except Exception:  # noqa: BLE001 - no hub library or cache: the loader will say what is wrong
            return True
    return True


def rerun_sample(auditor, spec, k: int, seed: int = 0) -> None:
    from ..evaluator.orchestration.executors import LocalExecutor
    from ..evaluator.orchestration.plan import compile_plan
    from ..evaluator.orchestration.runner import Evaluation
    from ..evaluator.orchestration.tuning import tuning_runs

    recorded = [r for r in auditor.results.get("runs", []) if r["status"] == "succeeded"]
    tuned = (auditor.results.get("tuning") or {}).get("contenders", {})
    # a trial's predictions bind its parameters to its score: only re-executing one shows that they belong together
    trials = [{"label": f"{label} tuning trial {t['trial']}", "name": label, "trial": t["trial"], "seed": 0,
               "key": t["key"]} for label, e in tuned.items() for t in e.get("trials", [])
              if t.get("status") == "succeeded" and t.get("key")]
    if not recorded and not trials:
        auditor.finding("rerun", "no succeeded run to re-execute")
        return
    picked = random.Random(seed).sample(recorded + trials, min(k, len(recorded) + len(trials)))
    chosen = {label: e["chosen"] for label, e in tuned.items() if e.get("chosen")}
    seeds = len(auditor.results.get("seeds", [])) or None
    plan = compile_plan(spec, seeds=seeds, chosen=chosen)
    wanted = {(r["label"], r["seed"]): r for r in picked if "trial" not in r}
    plan.runs = [run for run in plan.runs if (run.label, run.seed) in wanted]
    wanted_trials = {(r["name"], r["trial"]): r for r in picked if "trial" in r}
    # trials draw from the untuned parameters, as the eval did before it chose
    trial_runs = [t for t in tuning_runs(spec, compile_plan(spec, seeds=seeds))[0] if (t.name, t.trial) in wanted_trials]
    with tempfile.TemporaryDirectory(prefix="fairfight-rerun-") as tmp:
        evaluation = Evaluation(spec, plan, Path(tmp), overrides=auditor.overrides,
                                spec_text=Path(auditor.spec_path or auditor.root / "spec.yaml").read_text(encoding="utf-8"))
        fresh = {}
        LocalExecutor(2).run(evaluation.pending_jobs() + evaluation.pending_jobs(trial_runs), lambda job: None,
                             lambda job, result: fresh.__setitem__(job.key, evaluation.finish(job, result)))
        pairs = [(run, wanted[(run.label, run.seed)]) for run in plan.runs]
        pairs += [(run, wanted_trials[(run.name, run.trial)]) for run in trial_runs]
        for run, old in pairs:
            new = fresh.get(run.key, {})
            entry = {"label": old["label"], "seed": old["seed"], "status": new.get("status")}
            if new.get("status") != "succeeded":
                entry["result"] = "failed to rerun"
                auditor.finding("rerun", f"{old['label']} seed {old['seed']} could not be re-executed: {new.get('error')}")
            else:
                try:
                    before = [r["prediction"] for r in auditor.predictions(old["key"])]
                except (OSError, ValueError):
                    entry["result"] = "no recorded predictions"
                    auditor.finding("rerun", f"{old['label']} seed {old['seed']}: its recorded predictions are missing "
                                             "or unreadable")
                    auditor.audit.reruns.append(entry)
                    continue
                after = [r["prediction"] for r in evaluation.bundle.read_predictions(run.key)]
                differ = sum(a != b for a, b in zip(before, after)) + abs(len(before) - len(after))
                entry["result"] = "reproduced" if differ == 0 else f"{differ} of {len(before)} predictions differ"
                if differ:
                    auditor.finding("rerun", f"{old['label']} seed {old['seed']} does not reproduce: {entry['result']}")
            auditor.audit.reruns.append(entry)
