"""Claims over a family's members: a paired-bootstrap test per member, Holm across the members.

Each member's test is the one a single eval uses (verdicts.py): `p` is twice the share of the
bootstrap differences on the wrong side of the margin, so `p < alpha` exactly when the member's
interval clears it. Over members:

- "in some member": supported when some member passes after Holm's step-down correction over
  every member in range (trying many tasks and keeping the best is the garden of forking paths);
  not supported when the claim fails in every member in range (an intersection-union test, each
  member at alpha); inconclusive otherwise.
- "in every member" / "in members where ...": supported when it passes in every member in range
  (intersection-union: no correction needed); not supported when it fails in some member after Holm
  over the members; inconclusive otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import stats
from .verdicts import INCONCLUSIVE, INVALID, NOT_SUPPORTED, SUPPORTED, Judge


@dataclass
class MemberView:
    """What the family judgement reads of one member: its axis values and its judge."""

    name: str
    values: dict  # axis -> value (a `where` condition reads these)
    judge: Judge


def holm(ps: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given."""
    order = sorted(range(len(ps)), key=lambda i: ps[i])
    adjusted, running = [1.0] * len(ps), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(ps) - rank) * ps[i]))
        adjusted[i] = running
    return adjusted


def tail_p(diff: np.ndarray, relation: str, amount: float) -> tuple[float, float]:
    """(p that the claim holds, p that it fails) from one comparison's bootstrap differences."""
    if len(diff) == 0:
        return 1.0, 1.0
    below, above = (lambda x: float(np.mean(diff <= x))), (lambda x: float(np.mean(diff >= x)))
    if relation == "beats":
        return min(1.0, 2 * below(amount)), min(1.0, 2 * above(amount))
    return (min(1.0, 2 * max(below(-amount), above(amount))),
            min(1.0, 2 * min(below(amount), above(-amount))))


def member_test(claim, view: MemberView) -> dict:
    """One member's verdict on the claim (as its own eval would judge it) with its two p-values."""
    verdict = view.judge.judge(claim)
    out = {"member": view.name, "verdict": verdict.verdict, "reason": verdict.reason}
    if verdict.verdict == INVALID or not verdict.comparisons:
        return {**out, "p_support": None, "p_fail": None}
    judge = view.judge
    subject = str(claim.subject)
    against = [b.name for b in judge.spec.baselines] if claim.against is None else [str(claim.against)]
    pairs = [tail_p(stats.differences(judge.evalset, claim.metric, judge.arm(subject), judge.arm(o), judge.rs),
                    claim.relation, claim.amount) for o in against]
    # "beats all baselines": it must beat each (the weakest test decides), and fails if it fails against one
    worst = max(range(len(pairs)), key=lambda i: pairs[i][0])
    c = verdict.comparisons[worst][0]
    return {**out, "p_support": max(p for p, _ in pairs), "p_fail": min(f for _, f in pairs),
            "against": c.against, "difference": c.difference, "low": c.low, "high": c.high}


def in_range(claim, view: MemberView) -> bool:
    where = claim.members.where
    return where is None or bool(where(view.values))


def judge_family_claim(claim, views: list[MemberView], alpha: float) -> dict:
    """A ranged claim's family verdict, with every member's test and the Holm arithmetic."""
    members = claim.members
    tests = [dict(member_test(claim, v), in_range=in_range(claim, v)) for v in views]
    chosen = [t for t in tests if t["in_range"]]
    head = {"claim": claim.text, "quantifier": members.quantifier,
            "where": members.where.text if members.where is not None else None, "alpha": alpha,
            "correction": "holm", "members": tests}
    if not chosen:
        return {**head, "verdict": INVALID, "reason": "no member of the family is in the claim's range"}
    bad = [t["member"] for t in chosen if t["p_support"] is None]
    if bad:
        reasons = dict.fromkeys(part for t in chosen if t["p_support"] is None for part in t["reason"].split("; "))
        return {**head, "verdict": INVALID, "reason": "no verdict in member(s) " + ", ".join(bad) + ": "
                + "; ".join(reasons)}
    side = "p_support" if members.quantifier == "some" else "p_fail"
    head["holm_of"] = side  # "some": Holm over the p that it holds; "every": over the p that it fails
    for t, adjusted in zip(chosen, holm([t[side] for t in chosen])):
        t["p_holm"] = adjusted
    verdict, reason = (_some if members.quantifier == "some" else _every)(chosen, alpha)
    n = len(chosen)
    head["reason"] = (f"{members.quantifier} member of {n} in range; Holm over the {n} at alpha {alpha:g}: "
                      + reason)
    return {**head, "verdict": verdict, "reason": head["reason"]}


def _some(tests, alpha) -> tuple[str, str]:
    won = [t for t in tests if t["p_holm"] < alpha]
    if won:
        return SUPPORTED, "holds in " + ", ".join(f"{t['member']} (Holm p {t['p_holm']:.3g})" for t in won)
    if all(t["p_fail"] < alpha for t in tests):
        return NOT_SUPPORTED, "fails in every member in range"
    best = min(tests, key=lambda t: t["p_holm"])
    return INCONCLUSIVE, f"no member passes after the correction (best: {best['member']}, Holm p {best['p_holm']:.3g})"


def _every(tests, alpha) -> tuple[str, str]:
    if all(t["p_support"] < alpha for t in tests):
        return SUPPORTED, "holds in every member in range (each at alpha: intersection-union)"
    lost = [t for t in tests if t["p_holm"] < alpha]
    if lost:
        return NOT_SUPPORTED, "fails in " + ", ".join(f"{t['member']} (Holm p {t['p_holm']:.3g})" for t in lost)
    return INCONCLUSIVE, "neither holds in every member nor fails in one after the correction"
