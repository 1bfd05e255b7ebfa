"""The plan: every contender x seed as a run with its grant and key, plus plan-time refusals."""
from __future__ import annotations

from dataclasses import dataclass, field

from ...spec.ir import Contender, Spec, Uses, to_jsonable
from . import runkey


@dataclass(frozen=True)
class Run:
    key: str
    name: str  # the contender ("shift"; for a control, the method it reruns)
    role: str  # "method" | "baseline" | "skyline" | "control"
    control: str | None
    seed: int
    params: dict
    grant: Uses
    declared: bool  # False: the contender declared no uses and gets the full rules
    code: str = ""  # the contender's code identity (file hash, module hash, or built-in source hash)
    twin: str | None = None  # a seed-free run's key at the first seed: its result, computed once (seed_free)

    @property
    def label(self) -> str:
        return f"{self.control}({self.name})" if self.control else self.name

    def describe(self) -> dict:
        return {"key": self.key, "name": self.name, "label": self.label, "role": self.role, "control": self.control,
                "seed": self.seed, "params": dict(self.params), "grant": to_jsonable(self.grant),
                "declared": self.declared, "code": self.code}


@dataclass(frozen=True)
class Refusal:
    label: str
    role: str
    reason: str


@dataclass
class Plan:
    spec: Spec
    runs: list = field(default_factory=list)
    refusals: list = field(default_factory=list)
    seeds: tuple = ()


def _grant(spec: Spec, contender: Contender):
    """(grant, params, declared) of a contender, or raise ValueError with the refusal reason."""
    if contender.role == "method":
        if contender.uses is None:
            return spec.rules.grant, dict(contender.params), False
        beyond = contender.uses.missing_from(spec.rules.grant)
        if beyond:
            raise ValueError("its uses exceed the rules: " + ", ".join(beyond))
        return contender.uses, dict(contender.params), True
    from ...baselines import CannotRun, uses_for

    try:
        uses, params = uses_for(spec, contender)  # declared defaults, the spec's params, the plan's choices
    except CannotRun as exc:
        raise ValueError(f"it cannot run under these rules: {exc}") from None
    return uses, params, True


def compile_plan(spec: Spec, *, seeds: int | None = None, only=(), chosen=None) -> Plan:
    """Runs for methods, required baselines, skylines and each method's controls, x seeds.
    `only`: contender labels to keep (a method's name keeps the method, not its controls).
    `chosen`: contender name -> parameters picked by tuning (controls take their method's)."""
    n = seeds or spec.evaluate.seeds
    plan = Plan(spec, seeds=tuple(range(n)))
    common = {
        "key_version": runkey.KEY_VERSION,
        "task": runkey.digest(to_jsonable(spec.task)),
        "evaluate": runkey.evaluate_identity(spec),
        "rules": runkey.rules_identity(spec),
        "model": runkey.digest(runkey.model_identity(spec)),
        "packages": runkey.package_versions(),
    }
    knowledge = runkey.knowledge_identity(spec)
    entries = [(c, None) for c in spec.contenders()]
    entries += [(m, control) for m in spec.methods.values() for control in spec.controls]
    wanted = set(only)
    for contender, control in entries:
        role = "control" if control else contender.role
        label = f"{control}({contender.name})" if control else contender.name
        if wanted and label not in wanted and (control or contender.name not in wanted):
            continue  # a control runs only if named itself: random_model(shift), not shift
        try:
            grant, params, declared = _grant(spec, contender)
        except ValueError as exc:
            plan.refusals.append(Refusal(label, role, f"{label} {exc}"))
            continue
        params = {**params, **((chosen or {}).get(contender.name) or {})}
        code = runkey.code_identity(contender)
        data = runkey.data_parts(spec, runkey.read_splits(spec, grant, contender))
        twin = None
        for seed in plan.seeds:
            parts = {**common, **data, "contender": [contender.role, contender.name], "code": code, "control": control,
                     "seed": seed, "params": params, "grant": to_jsonable(grant),
                     "knowledge": runkey.granted_knowledge(knowledge, grant)}
            key = runkey.run_key(parts)
            plan.runs.append(Run(key, contender.name, role, control, seed, params, grant, declared, code, twin))
            if twin is None and seed_free(spec, contender, control, grant):
                twin = key
    return plan


def seed_free(spec: Spec, contender: Contender, control: str | None, grant: Uses) -> bool:
    """Whether a run's result is the same at every seed, so the eval computes it at the first seed
    only and copies it to the others (runner.py): a built-in that declares it draws nothing at
    random (catalogue: `seeded`; no_edit, instruct, zero_shot, majority, few_shot's nearest
    neighbours), not rerun as a control (controls draw from the seed), whose inputs do not change
    with the seed (evaluate.resample: none, or no training split granted). A method never is: its
    code may read ctx.seed."""
    if control or contender.run or contender.role == "method":
        return False
    from ...baselines import builtin

    try:
        entry = builtin(contender.name)
    except KeyError:
        return False
    return not entry.draws_seed(spec) and (spec.evaluate.resample.kind == "none" or not grant.data)
