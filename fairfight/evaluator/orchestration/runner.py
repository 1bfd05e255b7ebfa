"""An eval: plan -> (skip finished) -> execute -> score in the parent -> bundle."""
from __future__ import annotations

import json
import platform
import random
import statistics
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ...errors import FairfightError
from ...spec.ir import Spec, to_jsonable
from . import runkey
from ..judgement import scoring
from .bundle import RESULTS_FORMAT, RESULTS_VERSION, Bundle, Cache, write_json
from .jobs import Job
from .plan import Plan


@dataclass
class Outcome:
    results: dict
    bundle: Path
    interrupted: bool = False
    counts: dict = field(default_factory=dict)


class Evaluation:
    def __init__(self, spec: Spec, plan: Plan, out: Path, *, overrides=(), cache=None, forward: Path | None = None,
                 spec_text: str | None = None, loader=None):
        """`cache`: the user cache (a UserCache or its folder) whose finished runs and forward passes this
        eval shares; `forward`: where the forward passes go without one (default: BUNDLE/.forward)."""
        if spec.path is None and spec_text is None:
            raise FairfightError("eval needs the spec's file or text (the workers read it)")
        self.spec_text = spec_text if spec_text is not None else Path(spec.path).read_text(encoding="utf-8")
        from ...data.splits import SplitLoader

        self.spec, self.plan, self.overrides = spec, plan, list(overrides)
        self.bundle = Bundle(out)
        from ...cache import UserCache

        self.user_cache = cache if isinstance(cache, UserCache) or cache is None else UserCache(cache)
        self.cache = Cache(self.user_cache.area("runs")) if self.user_cache else None
        if self.user_cache:
            self.forward = self.user_cache.area("forward")
            # GGUF models kept de-quantised, by the file's sha256 (model_side/gguf_models.py)
            self.weights = self.user_cache.area("weights")
        else:
            self.forward = Path(forward) if forward is not None else self.bundle.root / ".forward"
            self.weights = self.forward / "weights"  # with the passes: a scratch folder under --no-cache
        self.loader = loader or SplitLoader(spec)  # `eval` passes the one its data checks loaded
        self.test = self.loader.split(spec.evaluate.split)
        self.generation = spec.evaluate.kind == "generation"
        self.scoring = None  # generation: the rules' scorer, loaded here (trusted side) and never in a worker
        if self.generation:
            from ..judgement.generations import GenerationScoring

            self.scoring = GenerationScoring(spec)
            needed = [("evaluate.split", "text"), *[("evaluate.scorer", c) for c in self.scoring.reference_columns()]]
        else:
            needed = [("evaluate.target", spec.evaluate.target)]
        for where, column in needed + [("evaluate.groups", g) for g in spec.evaluate.groups]:
            if column not in self.test.columns:
                raise spec.error(where, f"the evaluation split has no column '{column}'")
        if self.generation:  # no labels: the scorer reads the evaluation rows; None: no label check in workers
            self.gold, self.classes = [None] * len(self.test.columns["text"]), None
        else:
            self.gold = self.test.columns[spec.evaluate.target]
            self.classes = sorted(set(self.gold), key=str)
        self.records: dict = {}
        self.runs: dict = {}  # key -> Run (final runs and tuning trials)
        self.on_reused = lambda record: None
        self.tuning_notes: dict = {}
        self._device: str | None = None  # resolved on first use (auto imports torch)
        self.isolation = ("tripwire", "")  # what the executor promises; eval sets it, the runs may lower it
        self._parts = None

    def selection_parts(self):
        """(training part, held-out part) of the selection split, for tuning trials."""
        if self._parts is None:
            from .tuning import carve

            table = self.loader.split(self.spec.rules.selection)
            train, held = carve(len(table))
            self._parts = (table.take(train), table.take(held))
        return self._parts

    def target_of(self, run):
        """(texts, gold labels, columns) the run's predictions are scored against."""
        if getattr(run, "trial", None) is not None:
            held = self.selection_parts()[1]
            gold = [None] * len(held.columns["text"]) if self.generation else held.columns[self.spec.evaluate.target]
            return held.columns["text"], gold, held.columns
        return self.test.columns["text"], self.gold, self.test.columns

    # ------------------------------------------------------------------ jobs
    def pending_jobs(self, runs=None) -> list:
        jobs = []
        for run in _first_of_each_contender_first(self.plan.runs if runs is None else runs):
            self.runs[run.key] = run
            record = self.bundle.finished(run.key) or (
                self.cache.fetch(run.key, self.bundle, accept=self.walls_hold) if self.cache else None)
            if record is not None:
                self.records[run.key] = {**record, "reused": True}
                self.on_reused(self.records[run.key])
            else:
                jobs.append(Job(self.describe(run), list(self.target_of(run)[0]), self.timeout()))
        return jobs

    def execute(self, executor, on_start, on_done, *, seeds=None, only=()) -> None:
        """Tuning trials first (if any contender has a search space), then the final runs with
        the chosen parameters. Finished runs of either phase are reused."""
        from .plan import compile_plan
        from .tuning import choose, tuning_runs

        trials, self.tuning_notes = tuning_runs(self.spec, self.plan)
        executor.run(self.pending_jobs(trials), on_start, on_done)
        picked = choose([self.records[r.key] for r in trials if r.key in self.records], self.spec.tuning_metric)
        chosen = {label: entry["chosen"] for label, entry in picked.items() if entry["chosen"] is not None}
        if chosen:
            self.plan = compile_plan(self.spec, seeds=seeds, only=only, chosen=chosen)
        executor.run(self.pending_jobs(), on_start, on_done)

    def count_trials(self) -> int:
        from .tuning import tuning_runs

        return len(tuning_runs(self.spec, self.plan)[0])

    def timeout(self):
        wall = self.spec.rules.budget.wall_time
        return None if wall is None else wall + 5  # the ledger stops model calls at wall_time; this stops the rest

    @property
    def device(self) -> str:
        """Where the runs load the model: execution.device, with auto resolved once here (devices.py)."""
        if self._device is None:
            from ..model_side.devices import planned_device

            self._device = planned_device(self.spec.execution.device)
        return self._device

    def device_summary(self) -> dict:
        """What was asked for and what the runs report they used (provenance.json, results.json, report)."""
        used = sorted({r["device"]["device"] for r in self.records.values() if r.get("device")})
        return {"requested": self.spec.execution.device, "planned": self.device, "dtype": self.spec.model.dtype,
                "used": used}

    def describe(self, run) -> dict:
        return {"run": run.describe(), "tables": self.tables_for(run), "classes": self.classes,
                "device": self.device,
                "tier": self.spec.task.tier,  # judged by the orchestrator (batch check), never by the worker
                "forward_cache": str(self.forward.resolve()), "universes": self.universes_for(run),
                "weights_cache": str(self.weights.resolve()),
                "spec": {"text": self.spec_text, "name": str(self.spec.path or "spec.yaml"),
                         "base_dir": str(self.spec.base_dir), "overrides": self.overrides, "hash": self.spec.spec_hash},
                # out of a sandboxed contender's reach (the forward cache inside stays writable for the worker)
                "private": [str(self.bundle.root.resolve())] + ([str(self.user_cache.root.resolve())]
                                                                if self.user_cache else [])}

    def tables_for(self, run) -> dict:
        """Granted splits, granted columns only; label columns permuted for shuffled_labels."""
        out = {}
        for split, columns in run.grant.data.items():
            table = self.loader.split(split)
            if getattr(run, "trial", None) is not None:
                if split == self.spec.rules.selection:
                    table = self.selection_parts()[0]  # tuning sees the training part only
            else:
                table = self.resampled(split, run.seed)
            cols = {c: list(table.columns[c]) for c in sorted(columns) if c in table.columns}
            if run.control == "shuffled_labels":
                order = list(range(len(table)))
                random.Random(f"shuffled_labels:{run.seed}:{split}").shuffle(order)
                cols = {c: (v if c == "text" else [v[i] for i in order]) for c, v in cols.items()}
            out[split] = cols
        return out

    def universes_for(self, run) -> list:
        """The whole text column of each split this run sees resampled: pooled reads of a sample are
        computed (and shared) over the whole split, so every seed's sample takes its rows of one pass."""
        if getattr(run, "trial", None) is not None or self.spec.evaluate.resample.kind == "none":
            return []
        return [list(self.loader.split(split).columns["text"]) for split, columns in sorted(run.grant.data.items())
                if "text" in columns and "text" in self.loader.split(split).columns]

    def resampled(self, split: str, seed: int):
        """The split as seed `seed` trains on it (evaluate.resample): the same rows for every
        contender at that seed. Tuning trials are not resampled: they pick parameters once, for
        every seed, and the held-out part they are scored on must not share a row with what they train on."""
        from ...data.splits import resample_rows

        table = self.loader.split(split)
        rows = resample_rows(table, self.spec.evaluate.resample, split, seed, self.spec.splits[split].balance)
        return table if rows == list(range(len(table))) else table.take(rows)

    # ------------------------------------------------------------------ results
    def finish(self, job, result: dict) -> dict:
        run = self.runs[job.key]
        record = {**run.describe(), "status": result["status"], "error": result.get("error"),
                  "reasons": result.get("reasons", []), "elapsed": round(result.get("elapsed", 0.0), 3),
                  "timings": result.get("timings", {}), "metrics": None,
                  "ledger": (result.get("ledger") or {}).get("totals"), "isolation": result.get("isolation"),
                  "device": result.get("device"),
                  "model_access": result.get("model_access")}
        if result.get("batch_check") is not None:
            record["batch_check"] = result["batch_check"]
        predictions = result.get("predictions")
        if record["status"] == "succeeded" and run.control == "random_direction" and not adds_vectors(result):
            record.update(status="failed", error="random_direction: the method added no vector (AddVector) through "
                          "its model handle, so this control would be the method rerun unchanged")
            predictions = None
        if record["status"] == "succeeded" and self.generation:  # hostile texts: checked, then scored here
            predictions = self.scored_generations(run, record, predictions)
        elif record["status"] == "succeeded":  # every executor's: a cluster node's report was made beside contender code
            from ..contender_side.batching import rows_problem

            problem = ("it reported no predictions" if not isinstance(predictions, list)
                       else rows_problem(predictions, result.get("classes") or [], self.classes))
            if problem is None and len(predictions) != len(self.target_of(run)[1]):
                problem = f"{len(predictions)} predictions for {len(self.target_of(run)[1])} evaluation inputs"
            if problem:
                record.update(status="failed", error=f"the predictor's output is invalid: {problem}")
                predictions = None
        if record["status"] == "succeeded" and not self.generation:
            record["metrics"] = self.score(run, predictions, result.get("classes") or [])
        rows = [{"index": i, **p} for i, p in enumerate(predictions or [])]
        log = "\n".join(result.get("log", []))
        if result.get("traceback"):
            log += ("\n" if log else "") + result["traceback"]
        elif result.get("error"):
            log += ("\n" if log else "") + str(result["error"])
        self.bundle.write_run(job.key, record, rows, result.get("ledger"), log + "\n")
        if self.cache is not None:
            self.cache.store(job.key, self.bundle)
        self.records[job.key] = record
        return record

    def scored_generations(self, run, record: dict, predictions):
        """A generation run's rows with each text's score (None, and the run failed, when the texts are
        invalid or the scorer fails on them); its metrics in `record`."""
        from ..judgement.generations import texts_problem

        _, gold, columns = self.target_of(run)
        problem = texts_problem(predictions, len(gold))
        if problem:
            record.update(status="failed", error=f"the predictor's output is invalid: {problem}")
            return None
        texts = [p["prediction"] for p in predictions]
        try:
            scores = self.scoring.scores(texts, columns)
        except FairfightError as exc:  # the rules' scorer, not the contender: said as such
            record.update(status="failed", error=f"the scorer failed: {exc}")
            return None
        record["metrics"] = self.scoring.metrics(scores, columns, self.spec.evaluate.metrics)
        if "group_scores" in record["metrics"]:
            record["group_scores"] = record["metrics"].pop("group_scores")
        return [{"prediction": t, "score": s} for t, s in zip(texts, scores)]

    def score(self, run, predictions, classes) -> dict:
        ev = self.spec.evaluate
        _, gold, columns = self.target_of(run)
        labels = [p["prediction"] for p in predictions]
        scores = [[p["scores"][c] for c in classes] for p in predictions] if classes and all(
            "scores" in p for p in predictions) else None
        return scoring.score_all(ev.metrics, labels, gold, columns=columns, groups=ev.groups,
                                 scores=scores, classes=classes)

    def walls_hold(self, record: dict) -> bool:
        """A run from the shared cache is reused only if it ran inside walls at least as strong as
        this eval's: a tripwire run must not stand in an eval that promises the OS walls."""
        from ..contender_side.sandbox import weakest

        level = record.get("isolation")
        return bool(level) and weakest(self.isolation[0], level) == self.isolation[0]

    def isolation_level(self) -> dict:
        """The weakest isolation any run of this eval had (a record reused from before says nothing)."""
        from ..contender_side.sandbox import weakest

        level, why = self.isolation
        for record in self.records.values():
            if record.get("isolation") and weakest(level, record["isolation"]) != level:
                level, why = record["isolation"], f"run {record.get('label')} seed {record.get('seed')} ran with it"
        return {"level": level, "why": why}

    def model_access(self) -> str | None:
        """"server" when every run of this eval reached the model only through the model server;
        "in-process" when any run had the model in its own process (inline and cluster executors)."""
        seen = {r.get("model_access") for r in self.records.values() if r.get("model_access")}
        return "in-process" if "in-process" in seen else ("server" if seen else None)

    def results(self, interrupted=False) -> dict:
        runs = [self.records[r.key] for r in self.plan.runs if r.key in self.records]
        counts = {s: sum(r["status"] == s for r in runs) for s in ("succeeded", "refused", "failed")}
        counts["pending"] = len(self.plan.runs) - len(runs)
        counts["refused_at_plan"] = len(self.plan.refusals)
        trials = [r for r in self.records.values() if r.get("trial") is not None]
        counts["trials"] = {s: sum(r["status"] == s for r in trials) for s in ("succeeded", "refused", "failed")}
        spec = self.spec
        return {
            "format": RESULTS_FORMAT, "version": RESULTS_VERSION, "isolation": self.isolation_level(),
            "device": self.device_summary(),
            "task": to_jsonable(spec.task), "spec_hash": spec.spec_hash,
            "spec": Path(spec.path).name if spec.path else "spec.yaml",  # relative to the spec's folder
            "evaluate": {"kind": spec.evaluate.kind, "scorer": spec.evaluate.scorer,
                         "split": spec.evaluate.split, "target": spec.evaluate.target, "metrics": list(spec.evaluate.metrics),
                         "primary": spec.evaluate.primary, "groups": list(spec.evaluate.groups),
                         "confidence": spec.evaluate.confidence, "examples": len(self.gold),
                         "resample": str(spec.evaluate.resample)},
            "rules": {"grant": to_jsonable(spec.rules.grant), "selection": spec.rules.selection,
                      "budget": to_jsonable(spec.rules.budget), "knowledge": sorted(spec.rules.knowledge),
                      "judgement": {n: k.judgement for n, k in sorted(spec.rules.knowledge.items()) if k.judgement}},
            "contenders": {"methods": list(spec.methods), "baselines": [b.name for b in spec.baselines],
                           "skylines": [s.name for s in spec.skylines], "controls": list(spec.controls)},
            "claims": [c.text for c in spec.claims],
            "seeds": list(self.plan.seeds), "interrupted": interrupted, "counts": counts,
            "summary": summarise(runs, spec.evaluate.primary),
            "refusals": [{"label": r.label, "role": r.role, "reason": r.reason} for r in self.plan.refusals],
            "tuning": self.tuning_summary(),
            "runs": runs,
        }

    def tuning_summary(self) -> dict:
        from .tuning import choose

        trials = [r for r in self.records.values() if r.get("trial") is not None]
        return {"trials_allowed": self.spec.rules.budget.trials, "selection": self.spec.rules.selection,
                "metric": self.spec.tuning_metric, "contenders": choose(trials, self.spec.tuning_metric),
                "notes": self.tuning_notes}

    def write(self, interrupted=False) -> dict:
        results = self.results(interrupted)
        if not interrupted:
            results.update(self.verdicts(results["runs"]))
        self.write_evaluation()
        from .bundle import write_atomic, write_manifest

        write_atomic(self.bundle.root / "spec.yaml", self.spec_text)
        write_json(self.bundle.root / "provenance.json", self.provenance())
        write_json(self.bundle.root / "results.json", results)
        write_manifest(self.bundle.root)
        return results

    def verdicts(self, runs) -> dict:
        from ..judgement.stats import EvalSet
        from ..judgement.verdicts import Judge, common_baselines_missing

        evalset = EvalSet(self.gold, self.test.columns, self.spec.evaluate.groups)
        judge = Judge(self.spec, runs, self.bundle.read_predictions, evalset)
        verdicts = [judge.judge(c) for c in self.spec.claims]
        intervals = contender_intervals(judge, self.spec)
        notes = []
        if self.spec.task.tier == "no-holds-barred":
            missing = common_baselines_missing(self.spec)
            if missing:
                notes.append("no-holds-barred: these common baselines were not in the fight: " + ", ".join(missing))
        return {"verdicts": [v.to_dict() for v in verdicts], "notes": notes, "intervals": intervals}

    def write_evaluation(self) -> None:
        """The evaluation split for reviewers: each example's input beside its index, label and groups,
        in the order every run's predictions.jsonl follows (row `index` there is row `index` here). The
        labels are never sent to a worker; this file is written by the orchestrator, out of their reach."""
        from .bundle import write_atomic

        ev = self.spec.evaluate
        cols = [ev.target, *[g for g in ev.groups if g != ev.target]]
        if self.generation:  # the rows a scorer reads (the prompt and every reference): an audit rescores them
            cols = [c for c in self.test.columns if c != "text"]
        texts = self.test.columns["text"]
        rows = [{"index": i, "text": texts[i], **{c: self.test.columns[c][i] for c in cols if c != "text"}}
                for i in range(len(self.gold))]
        write_atomic(self.bundle.root / "evaluation.jsonl", "".join(json.dumps(r) + "\n" for r in rows))

    def provenance(self) -> dict:
        spec = self.spec
        return {
            # files by their names relative to the spec's folder, with their hashes: a published bundle
            # names nothing on the author's machine; the folder relative to the bundle lets audit find it
            "spec": {"file": Path(spec.path).name if spec.path else "spec.yaml",
                     "folder_from_bundle": _relative(spec.base_dir, self.bundle.root), "sha256": spec.spec_hash,
                     "overrides": self.overrides, "copy": "spec.yaml", "files": spec_file_hashes(spec)},
            "code": {r.label: r.code for r in self.plan.runs},
            "packages": runkey.package_versions(),
            "model": runkey.model_identity(spec), "data": runkey.data_identity(spec),
            "knowledge": runkey.knowledge_identity(spec),
            "run_key": {"version": runkey.KEY_VERSION, "fields": list(runkey.KEY_FIELDS)},
            "machine": {"platform": platform.platform(), "python": platform.python_version(),
                        "processor": platform.machine(), "cpus": _cpus()},
            "isolation": self.isolation_level()["level"], "isolation_why": self.isolation_level()["why"],
            "device": self.device_summary(),
            "model_access": self.model_access(),
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


def contender_intervals(judge, spec) -> dict:
    """Per contender whose runs all succeeded: each scalar metric's mean over seeds with its
    bootstrap interval (examples and seeds resampled), and per-group accuracies."""
    import numpy as np

    from ..judgement.generations import group_means
    from ..judgement.scoring import group_accuracies, group_keys

    alpha = (1 - spec.evaluate.confidence) / 2
    keys = group_keys(judge.evalset.columns, spec.evaluate.groups)
    out = {}
    for label, runs in judge.by_label.items():
        if any(r["status"] != "succeeded" for r in runs):
            continue
        arm = judge.arm(label)
        entry = {}
        for metric in spec.evaluate.metrics:
            if metric == "group_accuracy":
                continue
            values = arm.resampled(judge.evalset, metric, judge.rs)
            values = values[np.isfinite(values)]
            low, high = np.quantile(values, [alpha, 1 - alpha]) if len(values) else (np.nan, np.nan)
            entry[metric] = {"mean": round(arm.point(judge.evalset, metric), 6), "low": round(float(low), 6),
                             "high": round(float(high), 6),
                             "seeds": [round(float(judge.evalset.values(metric, p, s, c)[0]), 6)
                                       for p, s, c in zip(arm.predictions, arm.scores, arm.classes)]}
        per_group = [group_means(p, keys) if spec.evaluate.kind == "generation"  # p: per-example scores
                     else group_accuracies(p, judge.evalset.gold, keys) for p in arm.predictions]
        entry["groups"] = {"/".join(k): round(float(np.mean([g[k] for g in per_group])), 6) for k in sorted(per_group[0])}
        out[label] = entry
    return out


def summarise(runs: list, primary: str) -> list:
    """Per contender: status and the primary metric's mean and spread over seeds."""
    out, by_label = [], {}
    for r in runs:
        by_label.setdefault(r["label"], []).append(r)
    for label, group in by_label.items():
        values = [r["metrics"][primary] for r in group if r.get("metrics") and isinstance(r["metrics"].get(primary), (int, float))]
        statuses = sorted({r["status"] for r in group})
        out.append({"label": label, "role": group[0]["role"], "status": "/".join(statuses), "runs": len(group),
                    "mean": statistics.fmean(values) if values else None,
                    "std": statistics.stdev(values) if len(values) > 1 else (0.0 if values else None)})
    return out


def default_out(spec: Spec) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{spec.task.name}-{stamp}"


def _first_of_each_contender_first(runs) -> list:
    """Run order only (keys and results do not depend on it): one run of every contender first.

    Those runs compute the passes the others share; started early, a worker blocked on one
    contender's pass leaves the other workers free for runs whose passes are already there.
    """
    seen, first, rest = set(), [], []
    for run in runs:
        (rest if run.label in seen else first).append(run)
        seen.add(run.label)
    return first + rest


def adds_vectors(result: dict) -> bool:
    """Whether a run's ledger (the model server's) records an AddVector among its edits."""
    entries = (result.get("ledger") or {}).get("entries") or []
    return any(e.get("type") == "add_vector" for entry in entries for e in entry.get("edits") or ())
