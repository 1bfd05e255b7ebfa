"""The audit of a family bundle: its manifest, each member's own audit, the claims over the members
recomputed from the members' predictions, and the Holm arithmetic checked from family.json's numbers."""
from __future__ import annotations

import json
import math
from pathlib import Path

from ..errors import FairfightError
from .compare import _close
from .core import Audit, Auditor, Finding
from .integrity import check_integrity

NUMBERS = ("p_support", "p_fail", "p_holm", "difference", "low", "high")


def is_family_bundle(root) -> bool:
    return (Path(root) / "family.json").is_file() and not (Path(root) / "results.json").exists()


def run_family_audit(root, *, rerun: int = 0, spec_path=None) -> Audit:
    root = Path(root)
    audit = Audit(str(root))

    def finding(kind, message):
        audit.findings.append(Finding(kind, message))

    try:
        family = json.loads((root / "family.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FairfightError(f"{root} is not a family bundle: cannot read family.json ({exc})") from None
    if not isinstance(family, dict) or family.get("format") != "fairfight-family":
        raise FairfightError(f"{root} is not a family bundle: family.json's format is not 'fairfight-family'")
    check_integrity(root, finding)
    views, levels = [], set()
    for member in family.get("members", []):
        name = member.get("name", "?")
        folder = root / str(member.get("bundle", ""))
        if not _inside(folder, root) or not (folder / "results.json").is_file():
            finding("integrity", f"member {name}: its bundle {member.get('bundle')!r} is missing")
            continue
        auditor = Auditor(folder, spec_path)
        sub = auditor.run(rerun)
        audit.findings += [Finding(f.kind, f"member {name}: {f.message}") for f in sub.findings]
        audit.reruns += [{**r, "label": f"{name}: {r['label']}"} for r in sub.reruns]
        audit.contenders += [{**c, "label": f"{name}: {c['label']}"} for c in sub.contenders]
        levels.add(sub.isolation)
        view = _view(auditor, name)
        if view is not None:
            views.append(view)
    audit.isolation = "; ".join(sorted(levels)) or "unknown"
    check_holm(family, finding)
    if len(views) == len(family.get("members", [])):
        audit.verdicts = recheck_verdicts(family, views, finding)
    else:
        finding("verdicts", "the claims over the members cannot be recomputed: a member's spec or evaluation "
                            "rows are not at hand (see the findings above)")
    return audit


def _inside(folder: Path, root: Path) -> bool:
    try:
        folder.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def _view(auditor: Auditor, name: str):
    from ..evaluator.judgement.family import MemberView
    from ..evaluator.judgement.stats import EvalSet
    from ..evaluator.judgement.verdicts import Judge

    spec, evaluation = getattr(auditor, "built", (None, None))
    if spec is None or evaluation is None or spec.member is None:
        return None
    gold, columns = evaluation
    judge = Judge(spec, auditor.results.get("runs", []), auditor.predictions, EvalSet(gold, columns, spec.evaluate.groups))
    return MemberView(name, dict(spec.member.values), judge)


def check_holm(family: dict, finding) -> None:
    """The multiple-comparison arithmetic, from the numbers family.json gives: each member's Holm p
    from the raw p of the members in range, and the verdict those numbers imply."""
    from ..evaluator.judgement.family import _every, _some, holm

    for v in family.get("verdicts", []):
        chosen = [t for t in v.get("members", []) if t.get("in_range") and t.get("p_support") is not None]
        if not chosen or len(chosen) != sum(bool(t.get("in_range")) for t in v.get("members", [])):
            continue
        side = "p_support" if v.get("quantifier") == "some" else "p_fail"
        for t, adjusted in zip(chosen, holm([t[side] for t in chosen])):
            if not _number(t.get("p_holm")) or not math.isclose(t["p_holm"], adjusted, abs_tol=1e-9):
                finding("verdicts", f"claim '{v['claim']}': member {t['member']}'s Holm p is {t.get('p_holm')}, "
                                    f"its raw p values give {adjusted:.6g}")
        implied = (_some if v.get("quantifier") == "some" else _every)(chosen, v.get("alpha", 0.05))[0]
        if implied != v.get("verdict"):
            finding("verdicts", f"claim '{v['claim']}': family.json says {v.get('verdict')}, its own numbers imply "
                                f"{implied}")


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def recheck_verdicts(family: dict, views, finding) -> list:
    """Every claim over the members judged again from the members' predictions, against family.json."""
    from ..evaluator.judgement.family import judge_family_claim

    spec = views[0].judge.spec
    alpha = 1.0 - min(v.judge.spec.evaluate.confidence for v in views)
    recorded = {v["claim"]: v for v in family.get("verdicts", [])}
    out = []
    for claim in (c for c in spec.claims if c.ranged):
        fresh = judge_family_claim(claim, views, alpha)
        out.append(fresh)
        old = recorded.get(claim.text)
        if old is None:
            finding("verdicts", f"claim '{claim.text}' has no verdict in family.json (recomputed: {fresh['verdict']})")
            continue
        if old["verdict"] != fresh["verdict"] or not _close(_member_numbers(old), _member_numbers(fresh)):
            finding("verdicts", f"claim '{claim.text}': family.json says {old['verdict']}, recomputed "
                                f"{fresh['verdict']} ({fresh['reason']})")
    return out


def _member_numbers(verdict: dict) -> dict:
    return {f"{t['member']}.{k}": t[k] for t in verdict.get("members", []) for k in NUMBERS if _number(t.get(k))}
