"""Validated spec data -> the frozen IR, with every default applied."""
from __future__ import annotations

import re
from pathlib import Path

from .expressions import parse_claim, parse_where
from .ir import (Budget, Claim, Contender, DatasetSpec, Evaluate, Execution, FrozenMap, Knowledge, ModelSpec, Resample,
                 Rules, Spec, SplitSpec, Task, Uses, freeze)
from .schema import schema_default as default
from .vocabulary import MODEL_OPS

_DIRECT = re.compile(r"^(hf|jsonl|csv|parquet|builtin):")
_UNITS = {"s": 1, "m": 60, "h": 3600}
RESAMPLE = re.compile(r"^(none|bootstrap|subsample\(\s*([0-9]*\.?[0-9]+)\s*\))$")


def parse_resample(text: str) -> Resample:
    """'none' | 'bootstrap' | 'subsample(0.8)' -> Resample (the form is checked by the schema)."""
    m = RESAMPLE.match(text.strip())
    if m.group(2) is not None:
        return Resample("subsample", float(m.group(2)))
    return Resample(m.group(1))


def _seconds(value) -> float | None:
    if value is None or isinstance(value, (int, float)):
        return None if value is None else float(value)
    return float(value[:-1]) * _UNITS[value[-1]]


def _local(source: str, base_dir: Path) -> str:
    """File sources become absolute, so the IR means the same from any working directory."""
    kind, rest = source.split(":", 1)
    if kind in ("jsonl", "csv", "parquet", "path"):
        return f"{kind}:{(base_dir / rest).resolve()}"
    return source


def _uses(raw) -> Uses:
    return Uses(frozenset(raw.get("model", ())),
                FrozenMap((s, frozenset(c)) for s, c in raw.get("data", {}).items()),
                frozenset(raw.get("knowledge", ())))


def _builtin(entry, role) -> Contender:
    name, settings = (entry, {}) if isinstance(entry, str) else next(iter(entry.items()))
    return Contender(name, role, None, None, freeze(settings.get("params", {})), freeze(settings.get("search", {})),
                     settings.get("split"))


def build_ir(data: dict, *, path: Path | None, base_dir: Path, spec_hash: str, where=None, member=None) -> Spec:
    from .family import family_of

    task = data["task"]
    tier = task.get("tier", default("task", "tier"))
    model = data["model"]
    ev = data["evaluate"]
    metrics = tuple(ev.get("metrics", default("evaluate", "metrics")))
    rules = data["rules"]
    rule_model = rules.get("model", MODEL_OPS if tier == "no-holds-barred" else ())
    grant = _uses({"model": rule_model, "data": rules.get("data", {}), "knowledge": rules.get("knowledge", {})})
    budget = rules.get("budget", {})
    execution = data.get("execution", {})
    return Spec(
        version=data["fairfight"], path=path, base_dir=base_dir, spec_hash=spec_hash,
        task=Task(task["name"], task.get("goal", ""), tier),
        model=ModelSpec(_local(model["source"], base_dir), model.get("revision", default("model", "revision")),
                        model.get("kind", default("model", "kind")), model.get("dtype", default("model", "dtype"))),
        datasets=FrozenMap((name, DatasetSpec(
            name, _local(ds["source"], base_dir), ds.get("config"), ds.get("revision", default("datasets", "*", "revision")),
            freeze(ds.get("options", {})), ds.get("split_column"), ds.get("text", default("datasets", "*", "text")),
            freeze(ds.get("labels", {})))) for name, ds in data["datasets"].items()),
        splits=FrozenMap((name, _split(name, sp, base_dir)) for name, sp in data["splits"].items()),
        evaluate=Evaluate(ev.get("kind", default("evaluate", "kind")), ev["split"], ev.get("target"), ev.get("scorer"),
                          tuple(ev.get("groups", ())), metrics, ev.get("primary", metrics[0]),
                          ev.get("seeds", default("evaluate", "seeds")), float(ev.get("confidence", default("evaluate", "confidence"))),
                          ev.get("bootstrap", default("evaluate", "bootstrap")),
                          parse_resample(ev.get("resample", default("evaluate", "resample")))),
        rules=Rules(grant, FrozenMap((k, _knowledge(k, v, base_dir)) for k, v in rules.get("knowledge", {}).items()),
                    rules.get("selection"),
                    Budget(budget.get("trials", default("rules", "budget", "trials")), budget.get("examples"),
                           budget.get("steps"), _seconds(budget.get("wall_time")), budget.get("generated_tokens"),
                           budget.get("max_new_tokens")), rules.get("selection_metric")),
        methods=FrozenMap((name, Contender(
            name, "method", _run(m["run"], base_dir), _uses(m["uses"]) if "uses" in m else None,
            freeze(m.get("params", {})), freeze(m.get("search", {})), description=m.get("description", ""),
            unmatched=freeze(m.get("unmatched", {}))))
            for name, m in data.get("methods", {}).items()),
        baselines=tuple(_builtin(b, "baseline") for b in data.get("baselines", ())),
        skylines=tuple(_builtin(s, "skyline") for s in data.get("skylines", ())),
        controls=tuple(data.get("controls", ())),
        claims=tuple(_claim(text) for text in data.get("claims", ())),
        execution=Execution(execution.get("executor", default("execution", "executor")),
                            execution.get("workers", default("execution", "workers")),
                            freeze(execution.get("slurm", {})), freeze(execution.get("ray", {})),
                            execution.get("device", default("execution", "device"))),
        where=where,
        family=family_of(data),
        member=member,
    )


def _split(name, sp, base_dir) -> SplitSpec:
    origin = sp["from"]
    if _DIRECT.match(origin):
        dataset, source, part = None, _local(origin, base_dir), None
    else:
        dataset, _, part = origin.partition("/")
        source, part = None, part or None
    where = parse_where(sp["where"]) if "where" in sp else None
    return SplitSpec(name, dataset, source, part, where, sp.get("limit"), tuple(sp.get("balance", ())),
                     sp.get("role", default("splits", "*", "role")), sp.get("seed", default("splits", "*", "seed")),
                     freeze(sp.get("transform", ())))


def _knowledge(name, value, base_dir) -> Knowledge:
    if isinstance(value, dict):
        artifact = (base_dir / value["artifact"]).resolve()
        return Knowledge(name, None, artifact, value.get("sha256"), _judgement(artifact))
    return Knowledge(name, tuple(value) if isinstance(value, list) else value)


def _judgement(artifact: Path) -> str | None:
    """A selection of SAE latents is human (or model) judgement: reports and lints name it."""
    from ..errors import FairfightError
    from ..selection import read_selection

    try:
        selection = read_selection(artifact)
    except FairfightError:  # semantics reported it
        return None
    return selection.judgement() if selection else None


def _run(run: str, base_dir: Path) -> str:
    target, func = run.rsplit(":", 1)
    return f"{(base_dir / target).resolve()}:{func}" if target.endswith(".py") else run


def _claim(text: str) -> Claim:
    ast = parse_claim(text)
    return Claim(text, ast.relation, ast.subject, ast.against, ast.metric, ast.amount, ast.members)
