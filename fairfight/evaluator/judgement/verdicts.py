"""Claims -> verdicts: supported, not-supported, inconclusive, or invalid.

A claim is judged from per-example predictions with a paired bootstrap (stats.py) at the
spec's confidence level. "X beats all baselines" is an intersection-union test: it holds only
if X beats each required baseline. Skylines are never baselines. No verdict without every
required baseline, and a claim about a method needs that method's listed controls.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..._format import signed
from ...spec.ir import Spec
from . import stats

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE, INVALID, NOT_JUDGED = (
    "supported", "not-supported", "inconclusive", "invalid", "not-judged")


@dataclass
class Verdict:
    claim: str
    verdict: str
    reason: str
    comparisons: list = field(default_factory=list)
    terms: dict = field(default_factory=dict)  # relation, subject, against, metric, amount
    unmatched: list | None = None  # "X beats all baselines" about a method: what no baseline uses (matching.py)

    def to_dict(self) -> dict:
        out = {"claim": self.claim, "verdict": self.verdict, "reason": self.reason, **self.terms,
               "comparisons": [c.to_dict() | {"verdict": v} for c, v in self.comparisons]}
        if self.unmatched is not None:
            out["unmatched"] = [u.to_dict() for u in self.unmatched]
        return out


def _label(arm) -> str:
    return f"{arm.control}({arm.name})" if arm.control else arm.name


def _beats(c: stats.Comparison, margin: float) -> str:
    if c.low > margin:
        return SUPPORTED
    if c.high < margin:
        return NOT_SUPPORTED
    return INCONCLUSIVE


def _matches(c: stats.Comparison, tolerance: float) -> str:
    if -tolerance < c.low and c.high < tolerance:
        return SUPPORTED
    if c.low > tolerance or c.high < -tolerance:
        return NOT_SUPPORTED
    return INCONCLUSIVE


class Judge:
    def __init__(self, spec: Spec, records: list, predictions_of, evalset: stats.EvalSet, *, seed: int = 0):
        """records: run records (results.json 'runs'); predictions_of(key) -> prediction rows."""
        self.spec, self.evalset = spec, evalset
        self.generation = spec.evaluate.kind == "generation"
        self.by_label: dict = {}
        for r in records:
            self.by_label.setdefault(r["label"], []).append(r)
        self.predictions_of = predictions_of
        n_seeds = max((len(v) for v in self.by_label.values()), default=1)
        self.rs = stats.resamples(evalset.n, n_seeds, spec.evaluate.bootstrap, seed)
        self._arms: dict = {}

    def problem(self, label: str, what: str) -> str | None:
        runs = self.by_label.get(label, [])
        if not runs:
            return f"{what} '{label}' has no runs"
        bad = sorted({r["status"] for r in runs if r["status"] != "succeeded"})
        if bad:
            return f"{what} '{label}' {'/'.join(bad)} ({sum(r['status'] != 'succeeded' for r in runs)} of {len(runs)} runs)"
        return None

    def arm(self, label: str) -> stats.Arm:
        if label not in self._arms:
            runs = sorted(self.by_label[label], key=lambda r: r["seed"])
            preds, scores, classes = [], [], []
            for r in runs:
                rows = self.predictions_of(r["key"])
                # generation: each text's score, written by the orchestrator beside the text
                preds.append([x["score"] if self.generation else x["prediction"] for x in rows])
                cls = tuple(sorted(rows[0]["scores"], key=str)) if rows and "scores" in rows[0] else ()
                scores.append([[x["scores"][c] for c in cls] for x in rows] if cls else None)
                classes.append(cls)
            self._arms[label] = stats.Arm(label, preds, scores, classes)
        return self._arms[label]

    def required_problems(self) -> list[str]:
        return [p for b in self.spec.baselines if (p := self.problem(b.name, "required baseline"))]

    def judge(self, claim) -> Verdict:
        verdict = self._judge(claim)
        verdict.terms = {"relation": claim.relation, "subject": _label(claim.subject),
                         "against": "all baselines" if claim.against is None else _label(claim.against),
                         "metric": claim.metric, "amount": claim.amount}
        if claim.relation == "beats" and claim.against is None and claim.subject.control is None \
                and claim.subject.name in self.spec.methods:
            verdict.unmatched = self.unmatched().get(claim.subject.name, [])
        elif claim.subject.name in self.spec.methods:  # human judgement is named on every claim about its method
            judged = [u for u in self.unmatched().get(claim.subject.name, []) if u.judgement]
            verdict.unmatched = judged or None
        return verdict

    def unmatched(self) -> dict:
        """Per method, the affordances no required baseline uses (prior matching, spec/matching.py)."""
        if not hasattr(self, "_unmatched"):
            from ...spec.matching import unmatched

            self._unmatched = unmatched(self.spec)
        return self._unmatched

    def _judge(self, claim) -> Verdict:
        if self.spec.task.tier == "in-the-wild":
            return Verdict(claim.text, NOT_JUDGED, "an in-the-wild report computes no verdicts")
        problems = self.required_problems()
        subject = _label(claim.subject)
        problems += [p for p in [self.problem(subject, "contender")] if p]
        if claim.subject.control is None and claim.subject.name in self.spec.methods:
            problems += [p for c in self.spec.controls if (p := self.problem(f"{c}({claim.subject.name})", "control"))]
        against = ([b.name for b in self.spec.baselines] if claim.against is None else [_label(claim.against)])
        if claim.against is not None:
            problems += [p for p in [self.problem(against[0], "contender")] if p]
        if problems:
            return Verdict(claim.text, INVALID, "; ".join(dict.fromkeys(problems)))
        comparisons = []
        for other in against:
            c = stats.compare(self.evalset, claim.metric, self.arm(subject), self.arm(other), self.rs,
                              self.spec.evaluate.confidence)
            rule = _beats(c, claim.amount) if claim.relation == "beats" else _matches(c, claim.amount)
            comparisons.append((c, rule))
        verdicts = {v for _, v in comparisons}
        if verdicts == {SUPPORTED}:
            verdict = SUPPORTED
        elif NOT_SUPPORTED in verdicts:
            verdict = NOT_SUPPORTED
        else:
            verdict = INCONCLUSIVE
        return Verdict(claim.text, verdict, _reason(claim, comparisons, verdict, self.spec.evaluate.confidence),
                       comparisons)


def _reason(claim, comparisons, verdict, confidence) -> str:
    pct = f"{confidence:.0%}"
    what = "margin" if claim.relation == "beats" else "tolerance"
    parts = [f"{c.against}: difference {signed(c.difference)} [{signed(c.low)}, {signed(c.high)}] ({v})"
             for c, v in comparisons]
    head = (f"{pct} paired-bootstrap intervals of how much better {claim.subject} is on {claim.metric}, "
            f"{what} {claim.amount:g}")
    if claim.against is None and len(comparisons) > 1:
        head += "; it must beat every baseline (intersection-union)"
    return f"{head}: " + "; ".join(parts)


def judge_all(spec: Spec, records, predictions_of, evalset) -> list:
    judge = Judge(spec, records, predictions_of, evalset)
    return [judge.judge(c) for c in spec.judged_claims]


def common_baselines_missing(spec: Spec) -> list[str]:
    """For no-holds-barred fights: the catalogue baselines a practitioner would try that are not in the spec."""
    from ...baselines import BASELINES
    from ...spec.vocabulary import BASELINES as NEEDS

    listed = {b.name for b in spec.baselines}
    return [name for name in BASELINES if name not in listed and NEEDS[name].task == spec.evaluate.kind]
