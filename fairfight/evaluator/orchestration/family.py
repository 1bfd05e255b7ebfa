"""A family eval: one Evaluation per member, run together over one executor (so one model server
per model) and one cache; a run two members share (the same key) is computed once.

Bundle: FAMILY/members/NAME/ is each member's own bundle (results.json, report.html, ...);
FAMILY/family.json holds the axes, the members and the verdicts of the claims that range over
them; FAMILY/report.{md,html} the family report.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...spec.ir import to_jsonable
from . import runkey
from .bundle import write_json
from .results import member_summary
from .runner import Evaluation

FAMILY_FORMAT, FAMILY_VERSION = "fairfight-family", 1


@dataclass
class MemberRun:
    member: object  # spec.ir.Member
    evaluation: Evaluation


class FamilyEvaluation:
    def __init__(self, members, out: Path, *, overrides=(), cache=None, forward=None, spec_text=None, plans=None):
        """`members`: [(Member, Spec, SplitLoader)] as `check_file` found them; `plans`: member name -> Plan."""
        self.root = Path(out)
        self.spec = members[0][1]
        self.members = [MemberRun(m, Evaluation(spec, plans[m.name], self.root / "members" / m.name,
                                                overrides=overrides, cache=cache, forward=forward,
                                                spec_text=spec_text, loader=loader))
                        for m, spec, loader in members]
        self.shared = 0  # runs computed once for several members

    @property
    def evaluations(self) -> list[Evaluation]:
        return [m.evaluation for m in self.members]

    def model_groups(self) -> list[list[Evaluation]]:
        """Members by model (an executor's server loads one model): a model axis makes several groups."""
        groups: dict = {}
        for ev in self.evaluations:
            groups.setdefault(runkey.digest(runkey.model_identity(ev.spec)), []).append(ev)
        return list(groups.values())

    def count_trials(self) -> int:
        return sum(ev.count_trials() for ev in self.evaluations)

    def execute(self, make_executor, on_start, on_done, *, seeds=None, only=()) -> None:
        """Per model: every member's tuning trials in one executor run, then every member's final runs."""
        from .plan import compile_plan
        from .tuning import choose, tuning_runs

        for group in self.model_groups():
            executor = make_executor(group[0])
            for ev in group:
                ev.isolation = executor.isolation
            trials = {id(ev): tuning_runs(ev.spec, ev.plan) for ev in group}
            self._run_shared(executor, [(ev, trials[id(ev)][0]) for ev in group], on_start, on_done)
            for ev in group:
                runs, ev.tuning_notes = trials[id(ev)]
                picked = choose([ev.records[r.key] for r in runs if r.key in ev.records], ev.spec.tuning_metric)
                chosen = {label: e["chosen"] for label, e in picked.items() if e["chosen"] is not None}
                if chosen:
                    ev.plan = compile_plan(ev.spec, seeds=seeds, only=only, chosen=chosen)
            self._run_shared(executor, [(ev, None) for ev in group], on_start, on_done)

    def _run_shared(self, executor, work, on_start, on_done) -> None:
        """One executor run over the members' pending jobs; a key pending in several members runs once
        and every member that planned it records the result (its bundle gets its own copy)."""
        owners, jobs = {}, []
        for ev, runs in work:
            for job in ev.pending_jobs(runs):
                if job.key in owners:
                    self.shared += 1
                else:
                    jobs.append(job)
                owners.setdefault(job.key, []).append(ev)

        def done(job, result):
            records = [ev.finish(job, result) for ev in owners[job.key]]
            on_done(job, records[0])

        executor.run(jobs, on_start, done)

    def write(self, interrupted=False) -> dict:
        """Every member's bundle, then family.json (and the manifest) from them."""
        from .bundle import write_atomic, write_manifest

        results = {m.member.name: m.evaluation.write(interrupted) for m in self.members}
        family = self.family_results(results, interrupted)
        write_atomic(self.root / "spec.yaml", self.members[0].evaluation.spec_text)
        write_json(self.root / "family.json", family)
        write_manifest(self.root)
        return family

    def family_results(self, results: dict, interrupted: bool) -> dict:
        from ..judgement.family import MemberView, judge_family_claim
        from ..judgement.stats import EvalSet
        from ..judgement.verdicts import Judge

        spec = self.spec
        ranged = [c for c in spec.claims if c.ranged]
        verdicts = []
        if not interrupted and ranged:
            views = []
            for m in self.members:
                ev = m.evaluation
                evalset = EvalSet(ev.gold, ev.test.columns, ev.spec.evaluate.groups)
                views.append(MemberView(m.member.name, dict(m.member.values),
                                        Judge(ev.spec, results[m.member.name]["runs"], ev.bundle.read_predictions,
                                              evalset)))
            alpha = 1.0 - min(ev.spec.evaluate.confidence for ev in self.evaluations)
            verdicts = [judge_family_claim(c, views, alpha) for c in ranged]
        return family_record(spec, [(m.member, results[m.member.name]) for m in self.members], verdicts,
                             interrupted, shared=self.shared)


def family_record(spec, members, verdicts, interrupted, shared=0) -> dict:
    """family.json: the axes, each member (its bundle, counts and per-contender primary metric), the verdicts."""
    return {
        "format": FAMILY_FORMAT, "version": FAMILY_VERSION,
        "task": to_jsonable(spec.task), "spec": Path(spec.path).name if spec.path else "spec.yaml",
        "combine": spec.family.combine,
        "axes": [{"name": a.name, "path": a.path, "values": to_jsonable(a.values), "labels": list(a.labels)}
                 for a in spec.family.axes],
        "members": [{**member_summary(member), "bundle": f"members/{member.name}",
                     "counts": r["counts"], "primary": r["evaluate"]["primary"],
                     "intervals": r.get("intervals", {}), "roles": {run["label"]: run["role"] for run in r["runs"]},
                     "verdicts": [{"claim": v["claim"], "verdict": v["verdict"]} for v in r.get("verdicts", [])]}
                    for member, r in members],
        "claims": [c.text for c in spec.claims if c.ranged],
        "verdicts": verdicts, "interrupted": interrupted, "shared_runs": shared,
    }
