"""The audit: integrity, recomputed metrics and verdicts, declared vs used, required contenders,
tuning parity, and optional re-execution of a sample of runs."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import FairfightError
from .compare import TOLERANCE, _close, class_scores  # noqa: F401 (TOLERANCE: the audit's, for readers)
from .integrity import check_integrity


@dataclass
class Finding:
    kind: str  # integrity | metrics | verdicts | uses | required | tuning | refusal | failure | claim | incomplete
    #            | rerun | spec
    message: str


@dataclass
class Audit:
    bundle: str
    findings: list = field(default_factory=list)
    contenders: list = field(default_factory=list)  # per contender: declared vs used
    verdicts: list = field(default_factory=list)  # recomputed
    reruns: list = field(default_factory=list)
    isolation: str = "unknown"  # as the eval recorded it: os, tripwire or none (see docs/isolation.md)
    archive_sha256: str | None = None  # when the bundle came as an archive of `fairfight pack`
    left_out: list = field(default_factory=list)  # the archive's files too large to pack (with their sha256)

    @property
    def clean(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict:
        return {"bundle": self.bundle, "clean": self.clean, "findings": [asdict(f) for f in self.findings],
                "contenders": self.contenders, "verdicts": self.verdicts, "reruns": self.reruns, "isolation": self.isolation,
                "archive_sha256": self.archive_sha256, "left_out": self.left_out}


def _read_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def _read_json_or_empty(path: Path) -> dict:
    try:
        return _read_json(path)
    except (OSError, ValueError):
        return {}


class Auditor:
    def __init__(self, root: Path, spec_path=None):
        self.root = Path(root)
        self.audit = Audit(str(self.root))
        try:
            self.results = _read_json(self.root / "results.json")
        except (OSError, ValueError) as exc:
            raise FairfightError(f"{self.root} is not a fairfight bundle: cannot read results.json ({exc})") from None
        if not isinstance(self.results, dict) or self.results.get("format") != "fairfight-results":
            # as `fairfight report` says: other JSON crashed the audit (KeyError, AttributeError)
            raise FairfightError(f"{self.root} is not a fairfight bundle: its results.json is not a fairfight "
                                 "results file (format is not 'fairfight-results')")
        self.spec_path = spec_path
        self.overrides = []
        self.scoring = None  # a generation task's (scorer, load error), loaded once: audit/generations.py
        iso = self.results.get("isolation") or {}
        self.audit.isolation = f"{iso['level']} ({iso['why']})" if iso.get("why") else iso.get("level", "unknown")

    def finding(self, kind, message):
        self.audit.findings.append(Finding(kind, message))

    def run(self, rerun: int = 0) -> Audit:
        check_integrity(self.root, self.finding)
        self.check_run_folders()
        evaluation = self.evaluation()
        generation = self.results["evaluate"].get("kind") == "generation"
        if evaluation is not None and not generation:
            self.check_metrics(*evaluation)
        spec = self.spec()
        self.built = (spec, evaluation)  # a family audit judges its claims over members from these
        if evaluation is not None and generation:  # rescored with the spec's scorer (when the spec is at hand)
            from .generations import check_generation_metrics

            check_generation_metrics(self, spec, evaluation[1])
        self.check_uses()
        if spec is not None:
            self.check_required(spec)
            self.check_tuning(spec)
            if evaluation is not None:
                self.check_verdicts(spec, *evaluation)
        for refusal in self.results.get("refusals", []):
            self.finding("refusal", f"refused at plan time: {refusal['reason']}")
        self.check_outcomes()
        if rerun:
            from .rerun import missing_inputs, rerun_sample

            missing = missing_inputs(self.root, self.spec_folder())
            if missing:
                self.finding("rerun", "--rerun cannot re-execute runs without the model and data they read; not at "
                                      "hand: " + "; ".join(missing))
            elif spec is not None:
                rerun_sample(self, spec, rerun)
        return self.audit

    def spec_folder(self) -> Path:
        """Where the spec's files are: --spec's folder, else the folder provenance.json names."""
        if self.spec_path:
            return Path(self.spec_path).resolve().parent
        from ..pack import spec_folder_of

        return spec_folder_of(self.root)[0] or Path(".")

    def check_run_folders(self):
        """Run folders that no run or trial of results.json names: an eval that reused its --out
        after the spec changed leaves the old runs there (kept for reuse, sealed in the manifest),
        and a reader of the bundle should not take them for part of these results."""
        folder = self.root / "runs"
        if not folder.is_dir():
            return
        named = {r.get("key") for r in self.results.get("runs", [])}
        trials = [t for c in ((self.results.get("tuning") or {}).get("contenders") or {}).values()
                  for t in c.get("trials", [])]
        named |= {t.get("key") for t in trials}
        extra = sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name not in named)
        if any("key" not in t for t in trials):  # written before trials recorded their keys
            extra = [k for k in extra if "trial" not in _read_json_or_empty(folder / k / "record.json")]
        if extra:
            self.finding("integrity", f"{len(extra)} run folder(s) under runs/ belong to no run or trial of "
                                      f"results.json (left by an earlier eval into the same --out?): "
                                      f"{', '.join(extra[:5])}{' ...' if len(extra) > 5 else ''}; they are not "
                                      "part of these results; delete them, or eval into a fresh --out")

    # ------------------------------------------------------------------ evidence
    def evaluation(self):
        """(gold, columns) of the evaluation split, from evaluation.jsonl."""
        ev = self.results["evaluate"]
        try:
            rows = [json.loads(line) for line in (self.root / "evaluation.jsonl").read_text().splitlines() if line]
        except (OSError, ValueError) as exc:
            self.finding("metrics", f"cannot read evaluation.jsonl ({exc}): metrics cannot be recomputed")
            return None
        if ev.get("kind") == "generation":  # no labels: the prompt and references a scorer reads
            names = list(dict.fromkeys(c for r in rows for c in r if c != "index"))
            return [None] * len(rows), {c: [r.get(c) for r in rows] for c in names}
        columns = {c: [r.get(c) for r in rows] for c in [ev["target"], *ev["groups"]]}
        return columns[ev["target"]], columns

    def predictions(self, key) -> list:
        path = self.root / "runs" / key / "predictions.jsonl"
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def spec(self):
        from ..spec.check import check_file, check_text

        prov = _read_json(self.root / "provenance.json") if (self.root / "provenance.json").exists() else {}
        info = prov.get("spec", {})
        self.overrides = info.get("overrides", [])
        if self.spec_path:
            report = check_file(self.spec_path, info.get("overrides", []), refusals_ok=True, member=info.get("member"))
        else:
            from ..pack import spec_folder_of

            folder = spec_folder_of(self.root)[0] or Path(".")
            copy = self.root / "spec.yaml"
            if not copy.exists() or not folder.is_dir():
                where = (info.get("folder_from_bundle") and f" at {info['folder_from_bundle']} from the bundle") or ""
                self.finding("spec", f"cannot rebuild the spec (its copy, or its folder{where}, is missing: was the "
                                     "bundle moved without it?): pass --spec PATH, or audit the archive of `fairfight "
                                     "pack`, to recompute verdicts and check required contenders")
                return None
            report = check_text(copy.read_text(encoding="utf-8"), name=str(copy), base_dir=folder,
                                overrides=info.get("overrides", []), refusals_ok=True, member=info.get("member"))
        if not report.ok:
            self.finding("spec", "the bundle's spec does not validate: " + report.errors[0].headline())
            return None
        if report.spec.spec_hash != self.results.get("spec_hash"):
            self.finding("spec", "the spec differs from the one this bundle was made with (sha256 mismatch)")
        return report.spec

    # ------------------------------------------------------------------ checks
    def check_metrics(self, gold, columns):
        from ..evaluator.judgement import scoring

        ev = self.results["evaluate"]
        for run in self.results.get("runs", []):
            if run["status"] != "succeeded":
                continue
            where = f"{run['label']} seed {run['seed']}"
            rows = self.scored_rows("metrics", where, run["key"], len(gold), "evaluation examples")
            if rows is None:
                continue
            classes, scores = class_scores(rows)
            recomputed = scoring.score_all(ev["metrics"], [r["prediction"] for r in rows], gold, columns=columns,
                                           groups=ev["groups"], scores=scores, classes=classes)
            for metric, value in recomputed.items():
                if not _close(value, (run.get("metrics") or {}).get(metric)):
                    self.finding("metrics", f"{where}: {metric} is {run['metrics'].get(metric)} in results.json, "
                                            f"but {value} from its predictions")

    def scored_rows(self, kind: str, where: str, key: str, expected: int, of: str):
        """A run's (or trial's) prediction rows, or None with a finding: missing, unreadable, or not one
        per example."""
        try:
            rows = self.predictions(key)
        except (OSError, ValueError):
            self.finding(kind, f"{where}: predictions are missing or unreadable")
            return None
        if len(rows) != expected:
            self.finding(kind, f"{where}: {len(rows)} predictions for {expected} {of}")
            return None
        return rows

    def check_verdicts(self, spec, gold, columns):
        from ..evaluator.judgement.stats import EvalSet
        from ..evaluator.judgement.verdicts import Judge

        runs = self.results.get("runs", [])
        try:
            judge = Judge(spec, runs, self.predictions, EvalSet(gold, columns, spec.evaluate.groups))
            verdicts = [judge.judge(c).to_dict() for c in spec.judged_claims]
        except (OSError, ValueError, KeyError, IndexError) as exc:
            self.finding("verdicts", f"cannot recompute the verdicts: {exc!r}")
            return
        self.audit.verdicts = verdicts
        recorded = {v["claim"]: v for v in self.results.get("verdicts", [])}
        for v in verdicts:
            old = recorded.get(v["claim"])
            if old is None:
                self.finding("verdicts", f"claim '{v['claim']}' has no verdict in results.json (recomputed: {v['verdict']})")
            elif old["verdict"] != v["verdict"] or not _close(_numbers(old), _numbers(v)):
                self.finding("verdicts", f"claim '{v['claim']}': results.json says {old['verdict']}, recomputed "
                                         f"{v['verdict']} ({v['reason']})")
            elif "unmatched" in v and _affordances(old) != _affordances(v):
                self.finding("verdicts", f"claim '{v['claim']}': results.json lists unmatched affordances "
                                         f"{', '.join(_affordances(old)) or 'none'}, the spec gives "
                                         f"{', '.join(_affordances(v)) or 'none'}")

    def check_outcomes(self):
        """A refused or failed contender (run or tuning trial) and an invalid claim are findings,
        with their reasons: a bundle with them is not a clean fight."""
        from ..evaluator.contender_side.batching import flag as batch_flag
        from ..evaluator.orchestration.tuning import run_reason

        by_label = {}
        for run in self.results.get("runs", []):
            by_label.setdefault(run["label"], []).append(run)
        for label, runs in by_label.items():
            for status, kind in (("refused", "refusal"), ("failed", "failure")):
                bad = [r for r in runs if r["status"] == status]
                if bad:
                    reasons = "; ".join(dict.fromkeys(run_reason(r) for r in bad))
                    self.finding(kind, f"{label} {status} ({len(bad)} of {len(runs)} runs): {reasons}")
            kept = [r for r in runs if r["status"] == "succeeded" and batch_flag(r)]
            if kept:  # refused in the fair-fight tier (a refusal above); reported, not refused, in the others
                self.finding("batch-dependence", f"{label} kept ({len(kept)} of {len(runs)} runs) with "
                                                 f"{batch_flag(kept[0])}")
        for label, entry in ((self.results.get("tuning") or {}).get("contenders") or {}).items():
            for trial in entry.get("trials", []):
                if trial.get("status") in ("refused", "failed"):
                    self.finding("refusal" if trial["status"] == "refused" else "failure",
                                 f"{label} tuning trial {trial['trial']} {trial['status']}: "
                                 f"{trial.get('reason', 'no reason recorded')}")
        for v in self.results.get("verdicts", []):
            if v.get("verdict") == "invalid":
                self.finding("claim", f"claim '{v['claim']}' is invalid: {v.get('reason', '')}")
        if self.results.get("interrupted"):
            self.finding("incomplete", f"the eval was interrupted: {self.results['counts'].get('pending', '?')} "
                                       "run(s) did not finish")

    def check_uses(self):
        by_label = {}
        for run in self.results.get("runs", []):
            by_label.setdefault(run["label"], []).append(run)
        for label, runs in by_label.items():
            grant = runs[0]["grant"]
            ops, reads, refused = set(), set(), []
            for r in runs:
                ledger = r.get("ledger") or {}
                ops |= set(ledger.get("ops", {}))
                reads |= set(ledger.get("reads", {}))
                refused += [x.get("reason") for x in ledger.get("refused", [])] + list(r.get("reasons", []))
            granted_data = {f"{s}.{c}" for s, cols in grant["data"].items() for c in cols}
            # one name per knowledge item (older bundles appended " sha256=..." to an artifact's read)
            used_knowledge = {r[len("knowledge."):].split(" sha256=")[0] for r in reads if r.startswith("knowledge.")}
            used_data = {r for r in reads if not r.startswith("knowledge.")}
            from fairfight.evaluator.model_side.ledger import grant_of  # tokens, train_sae need activations

            extra_ops = sorted({grant_of(o) for o in ops} - set(grant["model"]))
            extra_reads = sorted(used_data - granted_data) + sorted(f"knowledge.{k}" for k in
                                                                    used_knowledge - set(grant["knowledge"]))
            if extra_ops or extra_reads:
                self.finding("uses", f"{label} used more than it was granted: {', '.join(extra_ops + extra_reads)}")
            self.audit.contenders.append({
                "label": label, "role": runs[0]["role"], "declared": runs[0]["declared"],
                "granted": {"model": grant["model"], "data": sorted(granted_data), "knowledge": grant["knowledge"]},
                "used": {"model": sorted(ops), "data": sorted(used_data), "knowledge": sorted(used_knowledge)},
                "refused": sorted(set(x for x in refused if x)),
                "statuses": sorted({r["status"] for r in runs})})

    def check_required(self, spec):
        by_label = {}
        for run in self.results.get("runs", []):
            by_label.setdefault(run["label"], []).append(run)
        required = [("baseline", b.name) for b in spec.baselines]
        required += [("control", f"{c}({m})") for m in spec.methods for c in spec.controls]
        for what, label in required:
            runs = by_label.get(label, [])
            if not runs:
                self.finding("required", f"required {what} '{label}' is missing from the bundle")
                continue
            bad = sorted({r["status"] for r in runs if r["status"] != "succeeded"})
            if bad:
                self.finding("required", f"required {what} '{label}' {'/'.join(bad)}")
            if len(runs) < len(self.results.get("seeds", [])):
                self.finding("required", f"required {what} '{label}' ran {len(runs)} of "
                                         f"{len(self.results['seeds'])} seeds")

    def check_tuning(self, spec):
        from ..evaluator.orchestration.tuning import candidates, search_space

        from .trials import check_draws, check_run_params, check_trials_allowed

        tuning = self.results.get("tuning") or {}
        allowed = check_trials_allowed(self, spec, tuning)
        tuned = tuning.get("contenders", {})
        check_run_params(self, spec, tuning)
        if allowed <= 1 or spec.rules.selection is None:
            for label, entry in tuned.items():
                self.finding("tuning", f"{label} was tuned ({len(entry['trials'])} trials) although the rules allow none")
            return
        for contender in spec.contenders():
            space = search_space(spec, contender)
            expected = len(candidates(space, allowed)) if space else 0
            got = len(tuned.get(contender.name, {}).get("trials", []))
            if got > allowed:
                self.finding("tuning", f"{contender.name} was tuned with {got} trials; the rules allow {allowed}")
            elif got != expected and contender.name in {r["label"] for r in self.results.get("runs", [])}:
                granted = any(spec.rules.selection in r["grant"]["data"] for r in self.results["runs"]
                              if r["label"] == contender.name)
                if granted:
                    self.finding("tuning", f"{contender.name} had {got} tuning trials, where parity gives it {expected}")
            elif got:
                check_draws(self, contender.name, tuned[contender.name]["trials"], candidates(space, allowed))
        self.check_choices(spec, tuning)

    def check_choices(self, spec, tuning):
        """Each contender's chosen parameters are its best trial's by the tuning metric (that its final runs
        ran with them is check_run_params'): parameters picked any other way (on the evaluation split, say)
        are not tuning."""
        from ..evaluator.orchestration.tuning import choose

        from .trials import check_trial_scores

        metric = tuning.get("metric") or spec.evaluate.primary
        if metric != spec.tuning_metric:
            self.finding("tuning", f"the trials were scored by {metric}; the spec tunes by {spec.tuning_metric}")
        check_trial_scores(self, spec, tuning, metric)
        for label, entry in (tuning.get("contenders") or {}).items():
            records = [{"label": label, "trial": t.get("trial"), "params": t.get("params"), "status": t.get("status"),
                        "metrics": {metric: t.get(metric)}} for t in entry.get("trials", [])]
            best = choose(records, metric).get(label, {}).get("chosen") if records else None
            if entry.get("chosen") != best:
                self.finding("tuning", f"{label}: the chosen parameters {entry.get('chosen')} are not its best trial's "
                                       f"by held-out {metric} ({best})")


def _affordances(verdict: dict) -> list:
    return [u["affordance"] for u in verdict.get("unmatched") or []]


def _numbers(verdict: dict) -> dict:
    return {f"{c['against']}.{k}": c[k] for c in verdict.get("comparisons", []) for k in ("difference", "low", "high")}


def run_audit(bundle, *, rerun: int = 0, spec_path=None) -> Audit:
    return audit_bundle(Path(bundle), spec_path, rerun)


def audit_bundle(root: Path, spec_path=None, rerun: int = 0) -> Audit:
    """The audit of a bundle folder; a sealed bundle (it has a manifest) whose results.json cannot be
    read is a bundle that was damaged or edited: its integrity findings, not "not a bundle"."""
    from ..evaluator.orchestration.bundle import MANIFEST

    try:
        auditor = Auditor(root, spec_path)
    except FairfightError as exc:
        if not (root / MANIFEST).is_file():
            raise
        audit = Audit(str(root))
        audit.findings.append(Finding("integrity", f"the sealed bundle's results.json is damaged ({exc})"))
        check_integrity(root, lambda kind, message: audit.findings.append(Finding(kind, message)))
        return audit
    return auditor.run(rerun)
