"""Prior-matched baselines: what a method uses that no required baseline uses.

A method that beats every baseline may win on a prior rather than on its mechanism: SHIFT looked
strong until a baseline with the same knowledge (that gender is the spurious concept) matched
it. For every method, this module lists its affordances (model operations, data columns,
knowledge items, artifacts included) that no required baseline is granted, with a concrete
suggestion from the catalogue, or the reason the spec gives under `methods.NAME.unmatched`.

Works on the IR alone, without importing torch (`validate` calls it).
"""
from __future__ import annotations

from dataclasses import dataclass

from .ir import Contender, FrozenMap, Spec, Uses, freeze


@dataclass(frozen=True)
class Unmatched:
    affordance: str  # "model.intervene" | "data.SPLIT.COLUMN" | "knowledge.NAME"
    suggestion: str  # what would match it, from the catalogue ("" when nothing can)
    reason: str | None = None  # the spec's reason why no baseline need match it
    judgement: str | None = None  # a knowledge item that is a selection of SAE latents: who chose what

    def to_dict(self) -> dict:
        out = {"affordance": self.affordance, "reason": self.reason, "suggestion": self.suggestion}
        if self.judgement:
            out["judgement"] = self.judgement
        return out

    @property
    def named(self) -> str:
        """The affordance, with 'human judgement' said where it is one."""
        return self.affordance + (f" (human judgement: {self.judgement})" if self.judgement else "")


def affordances(uses: Uses) -> set[str]:
    """A grant as names: model.OP, data.SPLIT.COLUMN, knowledge.NAME."""
    out = {f"model.{op}" for op in uses.model}
    out |= {f"data.{split}.{col}" for split, cols in uses.data.items() for col in cols}
    return out | {f"knowledge.{k}" for k in uses.knowledge}


def baseline_affordances(spec: Spec) -> set[str]:
    """Everything some required baseline is granted (the ones the rules cannot run add nothing)."""
    from ..baselines import CannotRun, uses_for

    out = set()
    for baseline in spec.baselines:
        try:
            out |= affordances(uses_for(spec, baseline)[0])
        except CannotRun:
            continue
    return out


def method_affordances(spec: Spec, method: Contender) -> set[str]:
    return affordances(method.uses if method.uses is not None else spec.rules.grant)


def unmatched(spec: Spec) -> dict[str, list[Unmatched]]:
    """method name -> its affordances no required baseline uses (sorted), with suggestion and reason."""
    matched = baseline_affordances(spec)
    out = {}
    for name, method in spec.methods.items():
        items = sorted(method_affordances(spec, method) - matched)
        out[name] = [Unmatched(item, suggestion(spec, item), method.unmatched.get(item), judgement(spec, item))
                     for item in items]
    return out


def judgement(spec: Spec, affordance: str) -> str | None:
    """For knowledge.NAME that is a selection of SAE latents: what was chosen and by whom."""
    kind, _, name = affordance.partition(".")
    item = spec.rules.knowledge.get(name) if kind == "knowledge" else None
    return getattr(item, "judgement", None)


def suggestion(spec: Spec, affordance: str) -> str:
    """'add token_deletion or concept_bottleneck (params: {knowledge: spurious_concept})', from the
    catalogue: each built-in baseline not yet required that, under these rules, would use it."""
    from ..baselines import BASELINES, CannotRun, uses_for

    kind, _, name = affordance.partition(".")
    tries = [{}]
    if kind == "knowledge":  # the built-ins that read a knowledge item name it in a parameter
        tries += [{"concept": name}, {"knowledge": name}]
    listed = {b.name for b in spec.baselines}
    fits = []
    for baseline in BASELINES:
        if baseline in listed:
            continue
        for params in tries:
            candidate = Contender(baseline, "baseline", None, None, freeze(params), FrozenMap())
            try:
                uses, _ = uses_for(spec, candidate)
            except CannotRun:
                continue
            if affordance in affordances(uses):
                shown = ", ".join(f"{k}: {v}" for k, v in params.items())
                fits.append(baseline + (f" (params: {{{shown}}})" if shown else ""))
                break
    return "add " + " or ".join(fits) if fits else "no built-in baseline uses it under these rules"


def diagnostics(spec: Spec) -> list:
    """For `validate`: each unmatched affordance without a stated reason is a warning (with what
    would match it), and each stated reason is checked against what is really unmatched."""
    from .suggest import suggest

    out = []
    for name, items in unmatched(spec).items():
        method, base = spec.methods[name], f"methods.{name}"
        for item in items if spec.baselines else ():  # no baselines: nothing to match (claims say so)
            if item.reason is not None:
                continue
            kind, _, rest = item.affordance.partition(".")
            where = (f"{base}.uses.{kind}" + (f".{rest.rsplit('.', 1)[0]}" if kind == "data" else "")
                     if method.uses is not None else base)
            fix = f"{item.suggestion}, or say" if item.suggestion.startswith("add ") else f"{item.suggestion}: say"
            if item.judgement:
                fix = "no baseline can have human judgement: say"
            out.append(spec.where.diagnostic(where, f"method '{name}' uses {item.named}, which no required "
                                                    f"baseline uses (a win over all baselines could come from it "
                                                    f"alone); {fix} why none is needed under {base}.unmatched",
                                             severity="warning"))
        used, open_items = method_affordances(spec, method), {u.affordance for u in items}
        for affordance in method.unmatched:
            at = f"{base}.unmatched.{affordance}"
            if affordance not in used:
                out.append(spec.where.diagnostic(at, f"method '{name}' does not use {affordance}"
                                                     f"{suggest(affordance, used)} (it uses: "
                                                     f"{', '.join(sorted(used)) or 'nothing'})"))
            elif affordance not in open_items:
                out.append(spec.where.diagnostic(at, f"a required baseline uses {affordance} too: no reason is needed",
                                                 severity="warning"))
    return out


__all__ = ["Unmatched", "affordances", "baseline_affordances", "diagnostics", "method_affordances",
           "suggestion", "unmatched"]
