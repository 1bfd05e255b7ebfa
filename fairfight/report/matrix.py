"""The affordance matrix: contenders x affordances, each cell granted / declared / used / refused.

Built from results.json only: the rules, each run's grant (``declared`` false means the
contender declared no uses and was granted the full rules), each run's ledger totals (model
operations performed, "split.column" reads, refusals) and each run's refusal reasons. A
contender's runs (seeds) are pooled: used if any run used it, refused if any run was refused it.

Columns: every model operation of the rules, plus every operation any contender was granted,
used or was refused; every "split.column" data column likewise; every knowledge item; the
budgets that limited a run; and, when the run-time guard refused something outside the
affordances (opening data files, network, processes, gc walks), a "guard" column.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from fairfight.evaluator.model_side.ledger import grant_of

from .model import contenders

REFUSED, USED, DECLARED, GRANTED, NOT_GRANTED = "refused", "used", "declared", "granted", "not granted"
LEGEND = {
    REFUSED: "refused: the contender tried it (or declared it) and was stopped; the run ends refused",
    USED: "used: granted and actually performed (the ledger counted it)",
    DECLARED: "declared: the contender declared it in its uses and was granted it, but did not use it",
    GRANTED: "granted: the contender declared no uses and got the full rules; it did not use this",
    NOT_GRANTED: "not granted to this contender",
    "beyond": "beyond the rules: granted although the rules do not allow it (skylines only)",
}
GROUPS = {"model": "model operations", "data": "data columns", "knowledge": "knowledge", "budget": "budget",
          "guard": "run-time guard"}
_BUDGET = re.compile(r"budget '(\w+)'")
_PLAN_ASKS = [  # phrases of Uses.missing_from in a plan-time refusal reason
    (re.compile(r"model operation '([^']+)'"), lambda m: ("model", m.group(1))),
    (re.compile(r"column '([^']+)' of split '([^']+)'"), lambda m: ("data", f"{m.group(2)}.{m.group(1)}")),
    (re.compile(r"(?<!of )split '([^']+)'"), lambda m: ("data", f"{m.group(1)}.*")),
    (re.compile(r"knowledge '([^']+)'"), lambda m: ("knowledge", m.group(1))),
]


@dataclass
class Column:
    group: str  # "model" | "data" | "knowledge" | "budget" | "guard"
    name: str
    in_rules: bool = True
    limit: object = None  # budget columns: the rule's limit
    judgement: str | None = None  # knowledge columns: a selection of SAE latents (human judgement), who chose what

    @property
    def key(self) -> tuple:
        return (self.group, self.name)


@dataclass
class Cell:
    state: str = NOT_GRANTED
    beyond: bool = False  # granted beyond the rules
    details: list = field(default_factory=list)  # counts and reasons, for the tooltip
    value: int | None = None  # budget columns: the most any seed used

    @property
    def text(self) -> str:
        if self.value is not None and self.state != REFUSED:
            return f"{self.value:,}"
        return {NOT_GRANTED: "·"}.get(self.state, self.state) + (" †" if self.beyond else "")


@dataclass
class Row:
    label: str
    role: str
    how: str  # "declared uses" | "full rules" | "refused at plan time" | ...
    status: str
    cells: dict = field(default_factory=dict)  # column key -> Cell
    note: str = ""


@dataclass
class Matrix:
    columns: list
    rows: list

    def cell(self, label: str, group: str, name: str) -> Cell:
        row = next(r for r in self.rows if r.label == label)
        return row.cells.get((group, name), Cell())


def _model_order():
    try:
        from ..spec.vocabulary import MODEL_OPS

        return list(MODEL_OPS)
    except Exception:  # pragma: no cover - the schema ships with the package
        return ["generate", "logprobs", "embed", "activations", "intervene", "gradients", "weights", "finetune"]


def _refusal_key(entry: dict) -> tuple | None:
    op, split, reason = entry.get("op", ""), entry.get("split", ""), entry.get("reason", "")
    budget = _BUDGET.search(reason or "")
    if budget:
        return ("budget", budget.group(1))
    if op.startswith("read:"):
        return ("data", f"{split}.{op[5:]}")
    if op == "read":
        return ("data", f"{split}.*")
    if op == "knowledge":
        return ("knowledge", split)
    return ("model", op)


def _read_key(name: str) -> tuple:
    split, _, column = name.partition(".")
    if split == "knowledge":  # ctx.knowledge[name] is recorded as a read of "knowledge.<name>"
        return ("knowledge", column.split(" sha256=")[0])  # (older bundles appended the artifact's hash)
    return ("data", name)


def _grant_keys(grant: dict) -> set:
    keys = {("model", op) for op in grant.get("model", [])}
    keys |= {("data", f"{s}.{c}") for s, cols in (grant.get("data") or {}).items() for c in cols}
    keys |= {("knowledge", k) for k in grant.get("knowledge", [])}
    return keys


def affordance_matrix(results: dict) -> Matrix:
    rules = (results.get("rules") or {})
    rules_keys = _grant_keys(rules.get("grant") or {})
    rules_keys |= {("knowledge", k) for k in rules.get("knowledge", [])}
    budget = rules.get("budget") or {}
    seen: set = set(rules_keys)
    rows = []
    for c in contenders(results):
        if c.plan_refusal is not None:
            row = Row(c.label, c.role, "refused at plan time", c.status, note=c.plan_refusal)
            for pattern, key_of in _PLAN_ASKS:
                for m in pattern.finditer(c.plan_refusal):
                    key = key_of(m)
                    row.cells[key] = Cell(REFUSED, details=["refused at plan time: " + c.plan_refusal])
                    seen.add(key)
            rows.append(row)
            continue
        declared = all(r.get("declared", True) for r in c.runs)
        row = Row(c.label, c.role, "declared uses" if declared else "full rules (declares no uses)", c.status)
        for run in c.runs:
            grant_keys = _grant_keys(run.get("grant") or {})
            for key in grant_keys:
                cell = row.cells.setdefault(key, Cell(DECLARED if run.get("declared", True) else GRANTED))
                cell.beyond = key not in rules_keys
            ledger = run.get("ledger") or {}
            seed = f"seed {run.get('seed')}"
            for op, counts in (ledger.get("ops") or {}).items():
                what = "" if grant_of(op) == op else f" ({op})"  # tokens, train_sae: under activations
                _use(row, ("model", grant_of(op)),
                     f"{seed}: {counts.get('calls', 0)} calls{what}, {counts.get('examples', 0)} examples")
            for name, counts in (ledger.get("reads") or {}).items():
                _use(row, _read_key(name), f"{seed}: {counts.get('calls', 0)} reads, {counts.get('rows', 0)} rows")
            for key in ("examples", "steps"):
                if budget.get(key) is not None:
                    cell = row.cells.setdefault(("budget", key), Cell(NOT_GRANTED))
                    cell.value = max(cell.value or 0, int(ledger.get(key) or 0))
                    if ledger.get(key):
                        _use(row, ("budget", key), f"{seed}: {ledger[key]:,} of {budget[key]:,}")
            ledger_reasons = set()
            for entry in ledger.get("refused") or []:
                key = _refusal_key(entry)
                ledger_reasons.add(entry.get("reason"))
                _refuse(row, key, f"{seed}: {entry.get('reason')}")
            for reason in run.get("reasons") or []:
                if reason in ledger_reasons:
                    continue
                budget_m = _BUDGET.search(reason)
                _refuse(row, ("budget", budget_m.group(1)) if budget_m else ("guard", "guard"), f"{seed}: {reason}")
            if run.get("status") == "refused" and not run.get("reasons") and run.get("error"):
                error = run["error"]  # refused with no ledger entry (e.g. a check before any handle call)
                if not any(error in d for cell in row.cells.values() for d in cell.details):
                    row.note = (row.note + "; " if row.note else "") + f"{seed}: {error}"
        seen |= set(row.cells)
        rows.append(row)
    columns = _columns(seen, rules_keys, budget)
    for col in columns:
        if col.group == "knowledge":
            col.judgement = (rules.get("judgement") or {}).get(col.name)
    return Matrix(columns, rows)


def _use(row: Row, key: tuple, detail: str) -> None:
    cell = row.cells.setdefault(key, Cell(NOT_GRANTED))
    if cell.state != REFUSED:
        cell.state = USED
    cell.details.append(detail)


def _refuse(row: Row, key: tuple, detail: str) -> None:
    cell = row.cells.setdefault(key, Cell(NOT_GRANTED))
    cell.state = REFUSED
    if detail not in cell.details:
        cell.details.append(detail)


def _columns(keys: set, rules_keys: set, budget: dict) -> list:
    ops = _model_order()
    out = []
    model = {n for g, n in keys if g == "model"}
    out += [Column("model", n, ("model", n) in rules_keys)
            for n in sorted(model, key=lambda n: (ops.index(n) if n in ops else len(ops), n))]
    data = {n for g, n in keys if g == "data"}
    out += [Column("data", n, ("data", n) in rules_keys) for n in sorted(data, key=lambda n: (n.split(".")[0],
                                                                                              n.endswith(".*"), n))]
    out += [Column("knowledge", n, ("knowledge", n) in rules_keys) for n in sorted(n for g, n in keys if g == "knowledge")]
    names = {n for g, n in keys if g == "budget"} | {k for k in ("examples", "steps") if budget.get(k) is not None}
    out += [Column("budget", n, True, budget.get(n)) for n in ("trials", "examples", "steps", "wall_time") if n in names]
    if ("guard", "guard") in keys:
        out.append(Column("guard", "guard", False))
    return out


__all__ = ["Cell", "Column", "LEGEND", "Matrix", "Row", "affordance_matrix"]
