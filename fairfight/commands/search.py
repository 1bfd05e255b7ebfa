"""`fairfight search`: the two-stage protocol for "... in some member" claims.

1. Discovery: the family is run with each member drawn at every discovery data seed
   (`family.search.discovery`, set at `family.search.path`): OUT/discovery/, a family bundle.
2. Pick: for each "some member" claim, the `pick` members where it looks best on discovery
   (the smallest p that it holds on every discovery seed).
3. Confirmation: only the picked members, drawn at the confirmation seeds, which the search never
   saw: OUT/confirmation/. A member holds when the claim holds on every confirmation seed (its p:
   the largest over those seeds); the claim is supported when a picked member holds after Holm
   over the picked members. Only the confirmation counts; OUT/search.json records both stages.
"""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from .eval import EXIT_INVALID, EXIT_NOT_SUPPORTED, EXIT_OK, EvalOptions, run_eval

from ..spec.family import SEED_AXIS
STAGES = ("discovery", "confirmation")


def _seed_override(path: str, seeds) -> str:
    return f"family.axes.{SEED_AXIS}=" + json.dumps({"path": path, "values": list(seeds)})


def _base(name: str) -> str:
    """A member's name without its data seed: the member of the family as written."""
    return ",".join(part for part in name.split(",") if not part.startswith(SEED_AXIS + "="))


def run_search(opts: EvalOptions) -> int:
    from .eval import _check

    report = _check(opts, refusals_ok=opts.allow_refused)
    if report is None:
        return EXIT_INVALID
    spec = report.family[0][1].spec if report.family else report.spec
    problem = _problem(spec)
    if problem:
        print(f"error: search: {problem}", file=sys.stderr)
        return EXIT_INVALID
    search = spec.family.search
    claims = [c for c in spec.claims if c.ranged and c.members.quantifier == "some"]
    out = Path(opts.out) if opts.out else Path("runs") / f"{spec.task.name}-search"
    discovery = dataclasses.replace(opts, out=str(out / "discovery"), members=_seeded(opts, search.path, search.discovery, opts.members),
                                    overrides=[*opts.overrides, _seed_override(search.path, search.discovery)])
    print(f"search: discovery on data seeds {', '.join(map(str, search.discovery))} -> {discovery.out}",
          file=sys.stderr)
    code = run_eval(discovery)
    if not _ran(code, out / "discovery"):
        print(f"search: the discovery eval did not finish cleanly (exit {code}); no confirmation", file=sys.stderr)
        return code
    found = json.loads((out / "discovery" / "family.json").read_text(encoding="utf-8"))
    picks = {c.text: pick(found, c.text, search.pick) for c in claims}
    chosen = sorted({m for names in picks.values() for m, _ in names})
    overrides = [*opts.overrides, _seed_override(search.path, search.confirmation)]
    confirmation = dataclasses.replace(opts, out=str(out / "confirmation"), overrides=overrides,
                                       members=_seeded(opts, search.path, search.confirmation, chosen))
    print(f"search: confirmation of {', '.join(chosen)} on fresh data seeds "
          f"{', '.join(map(str, search.confirmation))} -> {confirmation.out}", file=sys.stderr)
    code = run_eval(confirmation)
    if not _ran(code, out / "confirmation"):
        print(f"search: the confirmation eval did not finish cleanly (exit {code})", file=sys.stderr)
        return code
    confirmed = json.loads((out / "confirmation" / "family.json").read_text(encoding="utf-8"))
    alpha = next((v["alpha"] for v in confirmed.get("verdicts", [])), 1 - spec.evaluate.confidence)
    verdicts = [confirm(confirmed, text, [m for m, _ in picks[text]], alpha) for text in picks]
    record = {"format": "fairfight-search", "version": 1, "path": search.path,
              "discovery": {"seeds": list(search.discovery), "bundle": "discovery"},
              "confirmation": {"seeds": list(search.confirmation), "bundle": "confirmation"},
              "picks": {text: [{"member": m, "score": s} for m, s in names] for text, names in picks.items()},
              "verdicts": verdicts}
    (out / "search.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    for v in verdicts:
        print(f"{v['verdict'].upper():>14}  {v['claim']}\n                {v['reason']}")
    print(f"search: {out / 'search.json'}", file=sys.stderr)
    return EXIT_OK if all(v["verdict"] == "supported" for v in verdicts) else EXIT_NOT_SUPPORTED


def _ran(code: int, bundle: Path) -> bool:
    """Whether a stage's eval ran every run to the end. Its exit code also says what its claims
    came to, and a claim over some members can be invalid there with no fault of any run: the
    confirmation runs the picked members alone, so "... in members where C" may have none in
    range. The search judges its own claims from family.json; a failed run or an unfinished
    eval stops it."""
    if code in (EXIT_OK, EXIT_NOT_SUPPORTED):
        return True
    if code != EXIT_INVALID:
        return False
    try:
        family = json.loads((bundle / "family.json").read_text(encoding="utf-8"))
        counts = [json.loads((bundle / m["bundle"] / "results.json").read_text(encoding="utf-8"))["counts"]
                  for m in family["members"]]
    except (OSError, ValueError, KeyError, TypeError):
        return False  # no bundle: the spec itself was refused
    return not family.get("interrupted") and all(c.get("failed", 0) == 0 and c.get("refused", 0) == 0 for c in counts)


def _seeded(opts, path: str, seeds, bases) -> list:
    """The names of members `bases` (names as the family writes them) drawn at each of `seeds`."""
    from ..spec.check import check_file

    if not bases:
        return []
    seeded = check_file(opts.spec, [*opts.overrides, _seed_override(path, seeds)], refusals_ok=True)
    return [m.name for m, _ in seeded.family or [] if _base(m.name) in bases]


def _problem(spec) -> str:
    if spec is None or spec.family is None:
        return "the spec has no `family:` block"
    if spec.family.search is None:
        return "the family has no `search:` (its data seed path and the discovery and confirmation seeds)"
    if any(a.name == SEED_AXIS for a in spec.family.axes):
        return f"an axis is named '{SEED_AXIS}', the name search gives its data seeds: rename it"
    if not any(c.ranged and c.members.quantifier == "some" for c in spec.claims):
        return "no claim says '... in some member': there is nothing to search for"
    return ""


def _tests(family: dict, claim: str) -> list:
    verdict = next((v for v in family.get("verdicts", []) if v["claim"] == claim), None)
    return [] if verdict is None else [t for t in verdict["members"] if t.get("in_range")]


def pick(discovery: dict, claim: str, n: int) -> list[tuple[str, float]]:
    """The n members where the claim looks best on discovery: each scored by its largest p over the
    discovery seeds (it must hold on each). Where those tie (a claim that holds nowhere has p 1
    everywhere), the member whose evidence against the claim is weakest (the largest p that it
    fails, at its worst seed) looks best; then the family's order."""
    support: dict = {}
    against: dict = {}
    for t in _tests(discovery, claim):
        base = _base(t["member"])
        p = 1.0 if t.get("p_support") is None else t["p_support"]
        fails = 1.0 if t.get("p_fail") is None else t["p_fail"]
        support[base] = max(support.get(base, 0.0), p)
        against[base] = min(against.get(base, 1.0), fails)
    ranked = sorted(support, key=lambda m: (support[m], -against[m]))
    return [(m, support[m]) for m in ranked[:n]]


def confirm(confirmation: dict, claim: str, picked: list, alpha: float) -> dict:
    """The claim's verdict from the confirmation seeds only: Holm over the picked members, each
    holding when it holds on every confirmation seed."""
    from ..evaluator.judgement.family import holm

    per: dict = {m: [] for m in picked}
    for t in _tests(confirmation, claim):
        if _base(t["member"]) in per:
            per[_base(t["member"])].append(t)
    if any(not tests or any(t.get("p_support") is None for t in tests) for tests in per.values()):
        return {"claim": claim, "verdict": "invalid", "members": [],
                "reason": "a picked member has no verdict on some confirmation seed (see confirmation/family.json)"}
    members = [{"member": m, "p_support": max(t["p_support"] for t in tests),
                "p_fail": max(t["p_fail"] for t in tests), "seeds": len(tests)} for m, tests in per.items()]
    for entry, adjusted in zip(members, holm([e["p_support"] for e in members])):
        entry["p_holm"] = adjusted
    won = [e for e in members if e["p_holm"] < alpha]
    if won:
        verdict, why = "supported", "holds on every confirmation seed in " + ", ".join(
            f"{e['member']} (Holm p {e['p_holm']:.3g})" for e in won)
    elif all(e["p_fail"] < alpha for e in members):
        verdict, why = "not-supported", "fails on every confirmation seed in every picked member"
    else:
        verdict, why = "inconclusive", "no picked member holds on the confirmation seeds after the correction"
    return {"claim": claim, "verdict": verdict, "members": members, "alpha": alpha,
            "reason": f"picked on discovery seeds, judged on fresh confirmation seeds only; Holm over the "
                      f"{len(members)} picked: {why}"}
