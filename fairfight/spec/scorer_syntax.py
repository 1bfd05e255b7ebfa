"""The forms of `evaluate.scorer` (generation tasks), read without running anything.

    contains(COLUMN)      1 when the row's COLUMN text occurs in the output (case and spacing ignored)
    exact_match(COLUMN)   1 when the output equals the row's COLUMN text (case, spacing, end punctuation ignored)
    regex('PATTERN')      1 when PATTERN matches somewhere in the output (Python `re.search`)
    FILE.py:NAME          a function in a file beside the spec: NAME(output, row) -> float
                          (part of the rules: hashed into run keys, run on the trusted side only)

Scoring itself is evaluator/judgement/scorers.py; this module stays import-light (validate).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

BUILTINS = ("contains", "exact_match", "regex")
_COLUMN = re.compile(r"^(contains|exact_match)\(\s*([A-Za-z_][A-Za-z0-9_-]*)\s*\)$")
_REGEX = re.compile(r"""^regex\(\s*(['"])(.*)\1\s*\)$""", re.S)
_FUNCTION = re.compile(r"^([^:]+\.py):([A-Za-z_][A-Za-z0-9_]*)$")


@dataclass(frozen=True)
class ScorerSpec:
    kind: str  # "contains" | "exact_match" | "regex" | "function"
    column: str | None = None  # the reference column (contains, exact_match)
    pattern: str | None = None  # regex
    file: str | None = None  # function: relative to the spec's folder
    name: str | None = None  # function

    @property
    def columns(self) -> tuple[str, ...]:
        """Reference columns of the evaluation split the scorer reads."""
        return (self.column,) if self.column else ()

    def __str__(self) -> str:
        if self.kind == "regex":
            return f"regex({self.pattern!r})"
        if self.kind == "function":
            return f"{self.file}:{self.name}"
        return f"{self.kind}({self.column})"


class ScorerSyntaxError(ValueError):
    pass


def parse_scorer(text: str) -> ScorerSpec:
    text = str(text).strip()
    m = _COLUMN.match(text)
    if m:
        return ScorerSpec(m.group(1), column=m.group(2))
    m = _REGEX.match(text)
    if m:
        try:
            re.compile(m.group(2))
        except re.error as exc:
            raise ScorerSyntaxError(f"regex pattern {m.group(2)!r} does not compile: {exc}") from None
        return ScorerSpec("regex", pattern=m.group(2))
    m = _FUNCTION.match(text)
    if m:
        return ScorerSpec("function", file=m.group(1), name=m.group(2))
    raise ScorerSyntaxError(f"scorer {text!r} is not one of contains(COLUMN), exact_match(COLUMN), "
                            f"regex('PATTERN') or FILE.py:FUNCTION")


__all__ = ["ScorerSpec", "ScorerSyntaxError", "parse_scorer", "BUILTINS"]
