"""An eval: plan -> (skip finished) -> execute -> score in the parent -> bundle."""
from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import FairfightError
from ...spec.ir import Spec, to_jsonable
from .bundle import Bundle, Cache, write_json
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
        self._copies: dict = {}  # a seed-free run's twin key -> the runs waiting for its result (copy_twin)
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
        """Jobs for the runs not finished before (this bundle, the cache). A seed-free run (plan.seed_free)
        whose first-seed twin is among `runs` gets no job: the twin's result is copied to it once the
        twin is finished (`finish`), or now if it already is."""
        runs = list(self.plan.runs if runs is None else runs)
        planned = {run.key for run in runs}
        jobs = []
        for run in _first_of_each_contender_first(runs):
            self.runs[run.key] = run
            record = self.bundle.finished(run.key) or (
                self.cache.fetch(run.key, self.bundle, accept=self.walls_hold) if self.cache else None)
            if record is not None:
                self.records[run.key] = {**record, "reused": True}
                self.on_reused(self.records[run.key])
            elif run.twin in planned:
                self._copies.setdefault(run.twin, []).append(run)
            else:
                jobs.append(Job(self.describe(run), list(self.target_of(run)[0]), self.timeout()))
        pending = {job.key for job in jobs}
        for twin in [t for t in self._copies if t not in pending and t in self.records]:
            self.copy_twin(twin)
        return jobs

    def copy_twin(self, key: str) -> None:
        """Give the seed-free runs waiting on run `key` its result (records.copy_run)."""
        from .records import copy_run

        for run in self._copies.pop(key, []):
            self.on_reused(copy_run(self, run, self.records[key]))

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
                # the server's limits for this run (one server may serve the runs of several members)
                "budget": to_jsonable(self.spec.rules.budget), "rules_model": sorted(self.spec.rules.grant.model),
                "spec": {"text": self.spec_text, "name": str(self.spec.path or "spec.yaml"),
                         "base_dir": str(self.spec.base_dir), "overrides": self.overrides, "hash": self.spec.spec_hash,
                         "member": self.spec.member.name if self.spec.member is not None else None},
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
        """A finished job's record: validated, scored on this side, written to the bundle and the cache."""
        from .records import finish_run

        record = finish_run(self, job, result)
        self.copy_twin(job.key)
        return record

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
        from .results import results_of

        return results_of(self, interrupted)

    def tuning_summary(self) -> dict:
        from .results import tuning_summary

        return tuning_summary(self)

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
        from .results import verdicts_of

        return verdicts_of(self, runs)

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
        from .results import provenance_of

        return provenance_of(self)


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
