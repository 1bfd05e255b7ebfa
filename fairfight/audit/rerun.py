"""--rerun K: re-execute K randomly chosen runs from the spec and data, and compare predictions."""
from __future__ import annotations

import random
import tempfile
from pathlib import Path


def rerun_sample(auditor, spec, k: int, seed: int = 0) -> None:
    from ..evaluator.orchestration.executors import LocalExecutor
    from ..evaluator.orchestration.plan import compile_plan
    from ..evaluator.orchestration.runner import Evaluation

    recorded = [r for r in auditor.results.get("runs", []) if r["status"] == "succeeded"]
    if not recorded:
        auditor.finding("rerun", "no succeeded run to re-execute")
        return
    picked = random.Random(seed).sample(recorded, min(k, len(recorded)))
    chosen = {label: e["chosen"] for label, e in (auditor.results.get("tuning") or {}).get("contenders", {}).items()
              if e.get("chosen")}
    plan = compile_plan(spec, seeds=len(auditor.results.get("seeds", [])) or None, chosen=chosen)
    wanted = {(r["label"], r["seed"]): r for r in picked}
    plan.runs = [run for run in plan.runs if (run.label, run.seed) in wanted]
    with tempfile.TemporaryDirectory(prefix="fairfight-rerun-") as tmp:
        evaluation = Evaluation(spec, plan, Path(tmp), overrides=auditor.overrides,
                                spec_text=Path(auditor.spec_path or auditor.root / "spec.yaml").read_text(encoding="utf-8"))
        fresh = {}
        LocalExecutor(2).run(evaluation.pending_jobs(), lambda job: None,
                             lambda job, result: fresh.__setitem__(job.key, evaluation.finish(job, result)))
        for run in plan.runs:
            old = wanted[(run.label, run.seed)]
            new = fresh.get(run.key, {})
            entry = {"label": run.label, "seed": run.seed, "status": new.get("status")}
            if new.get("status") != "succeeded":
                entry["result"] = "failed to rerun"
                auditor.finding("rerun", f"{run.label} seed {run.seed} could not be re-executed: {new.get('error')}")
            else:
                before = [r["prediction"] for r in auditor.predictions(old["key"])]
                after = [r["prediction"] for r in evaluation.bundle.read_predictions(run.key)]
                differ = sum(a != b for a, b in zip(before, after)) + abs(len(before) - len(after))
                entry["result"] = "reproduced" if differ == 0 else f"{differ} of {len(before)} predictions differ"
                if differ:
                    auditor.finding("rerun", f"{run.label} seed {run.seed} does not reproduce: {entry['result']}")
            auditor.audit.reruns.append(entry)
