"""The ledger: every affordance-bearing operation a run performs, with counts and budgets.

A handle charges the ledger *before* it computes anything, so a budget overrun is refused
before the model is touched, and the refusal itself is recorded (a refusal is an event that
the report shows, never a silent crash).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from fairfight.errors import BudgetExceeded


@dataclass(frozen=True)
class Budget:
    """Limits for one run; None means unlimited."""

    examples: int | None = None  # examples pushed through the model, summed over operations
    steps: int | None = None  # training (optimizer) steps
    wall_time: float | None = None  # seconds since the ledger was created
    generated_tokens: int | None = None  # new tokens generated outside the evaluation (prompts x max_new_tokens)
    max_new_tokens: int | None = None  # per prompt, in any generate call (the evaluation's included)

    @classmethod
    def of(cls, rules_budget) -> "Budget":
        """A run's budget from the spec's rules.budget (spec/ir.py: its trials are the planner's)."""
        return cls(examples=rules_budget.examples, steps=rules_budget.steps, wall_time=rules_budget.wall_time,
                   generated_tokens=rules_budget.generated_tokens, max_new_tokens=rules_budget.max_new_tokens)

    def to_dict(self) -> dict:
        d = asdict(self)
        for key in ("generated_tokens", "max_new_tokens"):  # absent when unset: earlier ledgers stand
            if d[key] is None:
                del d[key]
        return d


@dataclass(frozen=True)
class Entry:
    op: str
    split: str
    examples: int
    layers: tuple[int, ...] = ()
    edits: tuple[dict, ...] = ()
    steps: int = 0
    refused: str | None = None  # why the operation was refused; None when it was performed
    charged: int = 0  # evaluation phase: the examples that were not evaluation inputs (charged to the budget)
    note: str | None = None  # train_sae: "trained", or "reused" (a stored training with the same inputs)
    tokens: int = 0  # generate: new tokens asked for (prompts x max_new_tokens), charged before generating

    def to_dict(self) -> dict:
        d = {
            "op": self.op,
            "split": self.split,
            "examples": self.examples,
            "layers": list(self.layers),
            "edits": [dict(e) for e in self.edits],
            "steps": self.steps,
            "refused": self.refused,
        }
        if self.charged:
            d["charged"] = self.charged
        if self.note:
            d["note"] = self.note
        if self.tokens:
            d["tokens"] = self.tokens
        return d


# Ledger operations that are not model operations of their own: the grant each one needs.
GRANT_OF = {"tokens": "activations", "train_sae": "activations"}


def grant_of(op: str) -> str:
    """The model operation a ledger op needs in the grant (itself for the model operations)."""
    return GRANT_OF.get(op, op)


class Ledger:
    """Counts what a run did and enforces its budget."""

    def __init__(self, budget: Budget = Budget(), clock=time.monotonic):
        self.budget = budget
        self._clock = clock
        self._start = clock()
        self.entries: list[Entry] = []
        self.reads: dict[str, dict] = {}  # "split.column" -> {"calls", "rows"}
        self.evaluating = False  # set once the contender has returned its predictor
        self._inputs: frozenset | None = None  # the evaluation inputs, once evaluating

    def begin_evaluation(self, inputs=None) -> None:
        """From now on operations apply the predictor to the evaluation `inputs`: recorded under the
        split 'evaluation'. Texts that are evaluation inputs cost nothing (every contender needs
        them equally); any other text a predictor sends (a prompt built around an input, an edited
        input, a training text) is charged to the examples budget, and `finetune` is refused:
        training belongs before the predictor is returned (docs/trust-boundary.md)."""
        self.evaluating = True
        if inputs is not None:  # texts, or chat prompts (a generation task's): by their keys (prompts.py)
            from .prompts import prompt_key

            self._inputs = frozenset(prompt_key(p) for p in inputs)

    # -- recording -------------------------------------------------------------------
    def charge(self, op, split, examples, layers=(), edits=(), steps=0, texts=None, note=None,
               new_tokens=None) -> None:
        """Record one operation, or refuse it (and raise) when it would exceed the budget.
        `texts`: what the operation reads (in the evaluation phase, those not among the inputs are charged);
        `new_tokens`: generate's max_new_tokens (per prompt; the tokens charged are examples x new_tokens)."""
        examples, steps = int(examples), int(steps)
        # Only the evaluator's phase may record under 'evaluation' (which the budgets skip).
        split = "evaluation" if self.evaluating else ("inputs" if split == "evaluation" else split)
        charged = self._not_inputs(texts, examples) if self.evaluating else 0
        tokens = examples * int(new_tokens) if new_tokens is not None else 0
        entry = Entry(op, str(split), examples, tuple(int(x) for x in layers),
                      tuple(dict(e) for e in edits), steps, charged=charged, note=note, tokens=tokens)
        length = self._length_reason(new_tokens)
        if self.evaluating:
            reason = (_TRAINING_LATE if op == "finetune" else length or
                      (self._over_budget(charged, 0) if charged else None))
        else:
            reason = self._time_reason() or length or self._over_budget(examples, steps, tokens)
        if reason:
            self.entries.append(_refused(entry, reason))
            raise BudgetExceeded(f"operation '{op}' on split '{split}' refused: {reason}")
        self.entries.append(entry)

    def refuse(self, op, reason, split="inputs") -> None:
        self.entries.append(Entry(op, str(split), 0, refused=str(reason)))

    def read(self, split, column, rows, sha256: str | None = None) -> None:
        """Record a data read (ctx.data[split][column]); rows read are not model examples.
        An artifact's read carries the sha256 of what was read."""
        r = self.reads.setdefault(f"{split}.{column}", {"calls": 0, "rows": 0})
        r["calls"] += 1
        r["rows"] += int(rows)
        if sha256 is not None:
            r["sha256"] = sha256

    def check_time(self, op: str = "wall_time") -> None:
        """Raise BudgetExceeded once the wall-time budget is spent (handles call it between batches)."""
        reason = self._time_reason()
        if reason:
            self.refuse(op, reason)
            raise BudgetExceeded(f"operation '{op}' stopped: {reason}")

    # -- reading ---------------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        return self._clock() - self._start

    def used(self) -> tuple[int, int]:
        done = [e for e in self.entries if e.refused is None]
        examples = sum(e.charged if e.split == "evaluation" else e.examples for e in done)
        return examples, sum(e.steps for e in done if e.split != "evaluation")

    def generated(self) -> int:
        """New tokens charged outside the evaluation (the generated_tokens budget's count)."""
        return sum(e.tokens for e in self.entries if e.refused is None and e.split != "evaluation")

    def _not_inputs(self, texts, examples: int) -> int:
        """How many of an evaluation-phase operation's texts are not evaluation inputs."""
        if texts is None or self._inputs is None:
            return 0 if self._inputs is None else examples  # an operation that names no texts: all charged
        return sum(1 for t in texts if t not in self._inputs)

    def totals(self) -> dict:
        examples, steps = self.used()
        ops: dict[str, dict] = {}
        for e in self.entries:
            if e.refused is None:
                o = ops.setdefault(e.op, {"calls": 0, "examples": 0})
                o["calls"] += 1
                o["examples"] += e.examples
        refused = [{"op": e.op, "split": e.split, "reason": e.refused}
                   for e in self.entries if e.refused is not None]
        out = {"examples": examples, "steps": steps, "ops": ops, "refused": refused,
               "reads": {k: dict(v) for k, v in self.reads.items()}}
        if any(e.tokens for e in self.entries):
            out["generated_tokens"] = self.generated()
        return out

    def to_dict(self) -> dict:
        return {
            "budget": self.budget.to_dict(),
            "elapsed": round(self.elapsed, 6),
            "totals": self.totals(),
            "entries": [e.to_dict() for e in self.entries],
        }

    # -- budget checks ---------------------------------------------------------------
    def _time_reason(self) -> str | None:
        limit = self.budget.wall_time
        if limit is not None and self.elapsed > limit:
            return f"budget 'wall_time' exceeded: limit {limit:g} s, {self.elapsed:.3f} s elapsed"
        return None

    def _length_reason(self, new_tokens) -> str | None:
        limit = self.budget.max_new_tokens
        if limit is not None and new_tokens is not None and int(new_tokens) > limit:
            return (f"budget 'max_new_tokens' exceeded: at most {limit} new tokens per prompt, asked for "
                    f"{int(new_tokens)}")
        return None

    def _over_budget(self, examples: int, steps: int, tokens: int = 0) -> str | None:
        used_examples, used_steps = self.used()
        for name, used, asked in (("examples", used_examples, examples), ("steps", used_steps, steps),
                                  ("generated_tokens", self.generated(), tokens)):
            limit = getattr(self.budget, name)
            if limit is not None and asked and used + asked > limit:
                return (f"budget '{name}' exceeded: limit {limit}, already used {used}, "
                        f"asked for {asked} more")
        return None


_TRAINING_LATE = ("finetune after the predictor was returned is refused: training belongs before it "
                  "(the evaluation phase only applies the predictor)")


def _refused(entry: Entry, reason: str) -> Entry:
    return Entry(entry.op, entry.split, entry.examples, entry.layers, entry.edits, entry.steps,
                 refused=reason, charged=entry.charged, note=entry.note, tokens=entry.tokens)


__all__ = ["Budget", "Entry", "Ledger", "GRANT_OF", "grant_of"]
