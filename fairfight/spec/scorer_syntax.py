"""The forms of `evaluate.scorer` (generation tasks), read without running anything.

    contains(COLUMN)      1 when the row's COLUMN text occurs in the output (case and spacing ignored)
    exact_match(COLUMN)   1 when the output equals the row's COLUMN text (case, spacing, end punctuation ignored)
    regex('PATTERN')      1 when PATTERN matches somewhere in the output (Python `re.search`)
    choice(COLUMN, options=OPTIONS_COLUMN)   choice tasks: the output is the contender's log-probability
    choice(COLUMN, options=['A', 'B', ...])  of each option (a JSON object); 1 when the row's COLUMN option
                          has the highest one among the row's options (the listed ones, or the row's
                          OPTIONS_COLUMN: a list of texts, or texts joined by '|')
    FILE.py:NAME          a function in a file beside the spec: NAME(output, row) -> float
                          (part of the rules: hashed into run keys, run on the trusted side only)

Scoring itself is evaluator/judgement/scorers.py; this module stays import-light (validate).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

BUILTINS = ("contains", "exact_match", "regex", "choice")
_COLUMN = re.compile(r"^(contains|exact_match)\(\s*([A-Za-z_][A-Za-z0-9_-]*)\s*\)$")
_REGEX = re.compile(r"""^regex\(\s*(['"])(.*)\1\s*\)$""", re.S)
_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
_CHOICE = re.compile(rf"^choice\(\s*({_NAME})\s*,\s*options\s*=\s*(.*?)\s*\)$", re.S)
_OPTION = re.compile(r"""\s*(?:'([^'\\]*)'|"([^"\\]*)")\s*(,|$)""")
_FUNCTION = re.compile(r"^([^:]+\.py):([A-Za-z_][A-Za-z0-9_]*)$")


@dataclass(frozen=True)
class ScorerSpec:
    kind: str  # "contains" | "exact_match" | "regex" | "choice" | "function"
    column: str | None = None  # the reference column (contains, exact_match; choice: the right option)
    pattern: str | None = None  # regex
    file: str | None = None  # function: relative to the spec's folder
    name: str | None = None  # function
    options: tuple | None = None  # choice: the options listed in the spec (the same for every row)
    options_column: str | None = None  # choice: the column holding each row's options

    @property
    def columns(self) -> tuple[str, ...]:
        """Reference columns of the evaluation split the scorer reads."""
        return tuple(c for c in (self.column, self.options_column) if c)

    def __str__(self) -> str:
        if self.kind == "regex":
            return f"regex({self.pattern!r})"
        if self.kind == "function":
            return f"{self.file}:{self.name}"
        if self.kind == "choice":
            options = self.options_column or "[" + ", ".join(repr(o) for o in self.options) + "]"
            return f"choice({self.column}, options={options})"
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
    m = _CHOICE.match(text)
    if m:
        return _choice(m.group(1), m.group(2))
    m = _FUNCTION.match(text)
    if m:
        return ScorerSpec("function", file=m.group(1), name=m.group(2))
    raise ScorerSyntaxError(f"scorer {text!r} is not one of contains(COLUMN), exact_match(COLUMN), "
                            f"regex('PATTERN'), choice(COLUMN, options=COLUMN or ['A', 'B', ...]) "
                            f"or FILE.py:FUNCTION")


def _choice(column: str, options: str) -> ScorerSpec:
    if re.fullmatch(_NAME, options):
        return ScorerSpec("choice", column=column, options_column=options)
    if not (options.startswith("[") and options.endswith("]")):
        raise ScorerSyntaxError(f"choice: options={options!r} is neither a column name nor a list of quoted "
                                "options like ['A', 'B']")
    body, listed, at = options[1:-1], [], 0
    while at < len(body) or not listed:
        m = _OPTION.match(body, at)
        if not m or m.end() == at:
            raise ScorerSyntaxError(f"choice: options={options!r} must list quoted texts separated by commas, "
                                    "e.g. ['A', 'B'] (no quote or backslash inside an option)")
        listed.append(m.group(1) if m.group(1) is not None else m.group(2))
        at = m.end()
        if not m.group(3):
            break
    if at < len(body.rstrip()):
        raise ScorerSyntaxError(f"choice: options={options!r}: unexpected text after the last option")
    if len(listed) < 2 or len(set(listed)) != len(listed) or not all(listed):
        raise ScorerSyntaxError(f"choice: options={options!r} must list at least two different, non-empty options")
    return ScorerSpec("choice", column=column, options=tuple(listed))


__all__ = ["ScorerSpec", "ScorerSyntaxError", "parse_scorer", "BUILTINS"]
