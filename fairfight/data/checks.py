"""Checks that need the data itself (`validate --data`, and `eval` before any run starts).

Loading tells what no static check can for file and hub sources: the columns each split has
(so the spec checker can point at a misspelt column in `where`, `evaluate`, `rules.data` or a
metric argument), whether each split can be built, and which evaluation groups the selection
split holds (tuning on a group metric needs them all).
"""
from __future__ import annotations

import json

from ..errors import SpecError
from ..spec.ir import Spec
from ..spec.vocabulary import GROUP_METRICS, metric_subset, split_metric


def _unique(diagnostics) -> list:
    seen, out = set(), []
    for d in diagnostics:
        if d.headline() not in seen:
            seen.add(d.headline())
            out.append(d)
    return out


def split_columns(spec: Spec, loader) -> tuple[dict, list]:
    """split name -> the columns its data has (before any filter); and the load problems."""
    columns, problems = {}, []
    for name in spec.splits:
        try:
            columns[name] = frozenset(loader.columns(name))
        except SpecError as exc:
            problems += exc.diagnostics
    return columns, _unique(problems)


def build_splits(spec: Spec, loader) -> list:
    """Build every split (filters, balance, limits, label maps); the problems found."""
    problems = []
    for name in spec.splits:
        try:
            loader.split(name)
        except SpecError as exc:
            problems += exc.diagnostics
    return _unique(problems)


def label_value_problems(spec: Spec, loader) -> list:
    """The target and groups of the evaluation (and selection) split hold plain values: text,
    numbers or booleans that can be compared and counted (not lists, mappings or nothing)."""
    ev, out = spec.evaluate, []
    splits = [ev.split] + [s for s in [spec.rules.selection] if s and s != ev.split]
    for split in splits:
        table = loader.split(split)
        for column in dict.fromkeys(c for c in [ev.target, *ev.groups] if c):
            bad = [v for v in table.columns.get(column, ()) if v is None or not isinstance(v, (str, int, float, bool))]
            if bad:
                what = "nothing (null)" if bad[0] is None else f"a {type(bad[0]).__name__} ({json.dumps(bad[0], default=str)[:40]})"
                path = "evaluate.target" if column == ev.target else f"evaluate.groups[{ev.groups.index(column)}]"
                out.append(_diagnostic(spec, path, f"split '{split}': column '{column}' holds {what} in {len(bad)} "
                                                   f"row(s); labels and groups must be text, numbers or booleans "
                                                   "(filter such rows out with a where:)"))
    return out


def metric_subset_problems(spec: Spec, loader) -> list:
    """score(COLUMN=VALUE) is the mean over the evaluation rows whose COLUMN is VALUE: a VALUE no row
    has would leave the metric (and every claim on it) without a number."""
    ev, out = spec.evaluate, []
    table = None
    for i, metric in enumerate(ev.metrics):
        subset = metric_subset(metric)
        if subset is None:
            continue
        table = table or loader.split(ev.split)
        column, value = subset
        present = sorted({str(v) for v in table.columns.get(column, ())})
        if value not in present:
            shown = ", ".join(present[:8]) + (", ..." if len(present) > 8 else "")
            out.append(_diagnostic(spec, f"evaluate.metrics[{i}]", f"no row of the evaluation split '{ev.split}' has "
                                                                   f"{column} = {value} (its values: {shown}), so "
                                                                   f"{metric} would have no value"))
    return out


def text_value_problems(spec: Spec, loader) -> list:
    """Every split's input texts are text: a number or a list there passed every check and then
    failed each run that read it (tokenizers take strings). The prompts of a generation task's
    evaluation split may also be chat prompts (lists of {"role", "content"} messages)."""
    from ..evaluator.model_side.prompts import message_problem

    out = []
    for name in spec.splits:
        texts = loader.split(name).columns.get("text", ())
        chat_ok = spec.evaluate.kind == "generation" and name == spec.evaluate.split
        bad = [v for v in texts if not isinstance(v, str) and not (chat_ok and message_problem(v) is None)]
        if bad:
            kind = type(bad[0]).__name__
            what = "nothing (null)" if bad[0] is None else (f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} "
                                                            f"({json.dumps(bad[0], default=str)[:40]})")
            out.append(_diagnostic(spec, f"splits.{name}.from", f"split '{name}': its text column holds {what} in "
                                                               f"{len(bad)} row(s); every input text must be text (fix "
                                                               "the data, or name the text column with "
                                                               "datasets.NAME.text)"))
    return out


def selection_group_warnings(spec: Spec, loader) -> list:
    """Tuning scores trials on a held-out part of the selection split, by default with the primary
    metric; a group metric there means nothing for the evaluation groups the selection split lacks."""
    ev, rules = spec.evaluate, spec.rules
    if (rules.selection is None or rules.budget.trials <= 1 or not ev.groups or rules.selection_metric is not None
            or split_metric(ev.primary)[0] not in GROUP_METRICS):  # a selection_metric the author chose is theirs
        return []
    selection, test = loader.split(rules.selection), loader.split(ev.split)
    absent = [g for g in ev.groups if g not in selection.columns]
    if absent:
        why = f"it has no column '{absent[0]}' (an evaluation group)"
    else:
        def keys(table):
            return {tuple(str(table.columns[g][i]) for g in ev.groups) for i in range(len(table))}

        missing = sorted(keys(test) - keys(selection))
        if not missing:
            return []
        shown = ", ".join("/".join(k) for k in missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
        why = f"it holds no example of evaluation group(s) {shown} ({'/'.join(ev.groups)})"
    outcome = ("no trial has a score, so every contender keeps its defaults" if absent else
               "the trials are scored on other groups than the evaluation's, so the chosen parameters can be the "
               "worst ones for the test")
    message = (f"tuning picks parameters by {ev.primary} on the selection split '{rules.selection}', but {why}: "
               f"{outcome}; select on a split that holds every group, or tune on a metric without groups "
               f"(rules.selection_metric: accuracy; naming {ev.primary} there keeps it and this warning goes)")
    return [_diagnostic(spec, "rules.selection", message, severity="warning")]


def _diagnostic(spec: Spec, path: str, message: str, severity: str = "error"):
    import dataclasses

    (d,) = spec.error(path, message).diagnostics
    return dataclasses.replace(d, severity=severity)
