"""Scoring generated texts, on the trusted side only (generation tasks).

A scorer is part of the rules: built-ins (contains, exact_match, regex, choice; spec/scorer_syntax.py) or a
function in a file beside the spec (`FILE.py:NAME`), which is hashed (a changed scorer changes
every run key) and loaded here, in the orchestrator, never in a contender's process. Outputs come
from contenders and are hostile: each is a string of at most MAX_SCORED characters before any
scorer sees it, and a score must be a finite number in [0, 1].
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import re
import sys
import unicodedata
from pathlib import Path
from typing import Callable

from fairfight.errors import FairfightError
from fairfight.spec.scorer_syntax import ScorerSpec, parse_scorer

MAX_SCORED = 20_000  # characters of an output a scorer reads: bounds a regex's work on hostile text


def normalise(text: str) -> str:
    """Case, accents' composition and runs of white space ignored."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _strip_end(text: str) -> str:
    return text.rstrip(" .!?;:,\"'")


def builtin(spec: ScorerSpec) -> Callable[[str, dict], float]:
    if spec.kind == "contains":
        col = spec.column
        return lambda output, row: float(normalise(str(row[col])) in normalise(output))
    if spec.kind == "exact_match":
        col = spec.column
        return lambda output, row: float(_strip_end(normalise(output)) == _strip_end(normalise(str(row[col]))))
    if spec.kind == "regex":
        pattern = re.compile(spec.pattern)
        return lambda output, row: float(pattern.search(output) is not None)
    if spec.kind == "choice":
        return lambda output, row: choice_score(output, row, spec)
    raise FairfightError(f"scorer {spec} is not a built-in")


def row_options(row: dict, spec: ScorerSpec) -> list[str]:
    """The options of a choice row: the spec's list, or the row's options column (a list of texts, or
    texts joined by '|'). The right one (the row's answer column) must be among them: a row that
    breaks this is the rules' error, not a contender's."""
    if spec.options is not None:
        options = list(spec.options)
    else:
        value = row[spec.options_column]
        options = value.split("|") if isinstance(value, str) else value
        if not isinstance(options, (list, tuple)) or not all(isinstance(o, str) for o in options):
            raise FairfightError(f"column {spec.options_column!r} must hold a list of texts or texts joined by "
                                 f"'|', got {type(value).__name__}")
        options = [o.strip() for o in options]
    answer = str(row[spec.column])
    if answer not in options:
        raise FairfightError(f"the right option {answer!r} (column {spec.column!r}) is not one of the row's "
                             f"options {options}")
    return options


def choice_logprobs(output: str) -> dict | None:
    """A choice output read as data: a JSON object of option -> log-probability (None when it is not
    one). Numbers that are not finite, and values that are not numbers, count as missing."""
    try:
        value = json.loads(output)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    return {k: float(v) for k, v in value.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


def choice_score(output: str, row: dict, spec: ScorerSpec) -> float:
    """1 when the right option's log-probability is above every other option's of the row; an
    option the output does not give counts as impossible, and a tie is no choice (0)."""
    options = row_options(row, spec)
    given = choice_logprobs(output)
    if given is None:
        return 0.0
    right = str(row[spec.column])
    if right not in given:
        return 0.0
    return float(all(given[right] > given.get(o, -math.inf) for o in options if o != right))


def scorer_file(spec: ScorerSpec, base_dir) -> Path:
    return (Path(base_dir) / spec.file).resolve()


def scorer_sha256(spec: ScorerSpec, base_dir) -> str | None:
    """The content hash of a FILE.py scorer (None for built-ins, whose code is fairfight's)."""
    if spec.kind != "function":
        return None
    return hashlib.sha256(scorer_file(spec, base_dir).read_bytes()).hexdigest()


def load_scorer(text: str, base_dir) -> Callable[[str, dict], float]:
    """The scoring function of `evaluate.scorer`, loaded in this (trusted) process."""
    spec = parse_scorer(text)
    if spec.kind != "function":
        return builtin(spec)
    path = scorer_file(spec, base_dir)
    if not path.is_file():
        raise FairfightError(f"scorer file {spec.file} does not exist (paths are relative to the spec's folder)")
    # a private module name: the file is not importable by its own name from anywhere else
    name = f"_fairfight_scorer_{hashlib.sha256(str(path).encode()).hexdigest()[:16]}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:
        raise FairfightError(f"scorer file {spec.file} failed to load: {type(exc).__name__}: {exc}") from exc
    fn = getattr(module, spec.name, None)
    if not callable(fn):
        raise FairfightError(f"scorer file {spec.file} has no function {spec.name!r}")
    sys.modules.pop(name, None)
    return fn


def score_outputs(fn: Callable[[str, dict], float], outputs: list, rows: list[dict], *, scorer: str = "scorer") -> list[float]:
    """One score in [0, 1] per output; an output that is not a string scores 0 (a contender's bug,
    not the scorer's), a score that is not a finite number in [0, 1] is the scorer's error."""
    if len(outputs) != len(rows):
        raise FairfightError(f"{len(outputs)} outputs for {len(rows)} evaluation rows")
    scores = []
    for i, (output, row) in enumerate(zip(outputs, rows)):
        if not isinstance(output, str):
            scores.append(0.0)
            continue
        try:
            value = fn(output[:MAX_SCORED], dict(row))
        except Exception as exc:
            raise FairfightError(f"{scorer} failed on row {i}: {type(exc).__name__}: {exc}") from exc
        if isinstance(value, bool):
            value = float(value)
        if not isinstance(value, (int, float)) or not math.isfinite(value) or not 0.0 <= value <= 1.0:
            raise FairfightError(f"{scorer} returned {value!r} for row {i}: a score must be a number in [0, 1]")
        scores.append(float(value))
    return scores


__all__ = ["MAX_SCORED", "normalise", "builtin", "row_options", "choice_logprobs", "choice_score", "load_scorer", "scorer_sha256", "score_outputs"]
