"""The closed vocabulary of the spec language that the schema alone cannot express.

Names that are enums live in the schema (the single source of truth for structure); this
module adds what each name *needs*, so semantic checks can say why a spec cannot work.
"""
from __future__ import annotations

from dataclasses import dataclass

from .schema import enum_of

SPEC_VERSIONS = (1,)
MODEL_OPS = enum_of("model_op")
CONTROLS = enum_of("control_name")

# metric name -> does it take an argument (the attribute column)?
METRICS = {
    "accuracy": False,
    "group_accuracy": False,
    "worst_group_accuracy": False,
    "leakage": True,
    "auroc": False,
    "f1": False,
    "score": None,  # generation: mean of the scorer's outputs; score(COLUMN=VALUE): over those rows only
}
GROUP_METRICS = ("group_accuracy", "worst_group_accuracy")


def split_metric(metric: str) -> tuple[str, str | None]:
    """'leakage(gender)' -> ('leakage', 'gender')."""
    if metric.endswith(")") and "(" in metric:
        name, arg = metric[:-1].split("(", 1)
        return name, arg
    return metric, None


def metric_subset(metric: str) -> tuple[str, str] | None:
    """'score(pressure=neutral)' -> ('pressure', 'neutral'): the rows (those whose COLUMN value, as
    text, is VALUE) a metric is the mean over. None for a metric over every row."""
    arg = split_metric(metric)[1]
    if arg is None or "=" not in arg:
        return None
    column, value = arg.split("=", 1)
    return column, value


def subset_rows(subset: tuple[str, str], columns: dict) -> list[bool]:
    """Which evaluation rows a score(COLUMN=VALUE) is the mean over (values compared as text)."""
    column, value = subset
    return [str(v) == value for v in columns.get(column, ())]


def metric_columns(metric: str, groups) -> list:
    """The evaluation columns a metric reads besides the target: the groups for group metrics, the
    attribute of leakage(ATTRIBUTE), the column of score(COLUMN=VALUE)."""
    name, arg = split_metric(metric)
    if name in GROUP_METRICS:
        return list(groups)
    subset = metric_subset(metric)
    return [subset[0]] if subset else [arg] if arg else []


@dataclass(frozen=True)
class Catalogued:
    """A built-in contender: what it needs from the rules (what it does is in baselines/catalogue.py,
    its parameters in baselines/parameters.py)."""

    name: str
    model_any: tuple  # alternatives: any one of these sets of model operations suffices
    labeled: bool = True  # needs a granted split with the target column
    knowledge: tuple = ()  # knowledge names it needs
    knowledge_param: str | None = None  # a param that names the knowledge instead (default: knowledge[0])
    knowledge_form: str = "words"  # what that knowledge must be: "words" (a list or concept name) or "sae" (an artifact)
    attribute: bool = False  # needs a granted column for a group attribute (not the target)
    skyline: bool = False
    # the columns of its training split it is granted (and reads): "text", "target", "attribute"
    # (the group attribute it erases). The catalogue builds the plan's grant from this, and
    # `fairfight baselines` prints it, so the two cannot disagree.
    columns: tuple = ("text", "target")
    task: str = "classification"  # the evaluate.kind it fits


_POOLED = (("embed",), ("activations",))

BASELINES = {b.name: b for b in (
    Catalogued("finetune_head", _POOLED),
    Catalogued("finetune_full", (("finetune", "embed"),)),
    Catalogued("zero_shot", (("logprobs",), ("embed",)), labeled=False, columns=()),
    Catalogued("few_shot", (("logprobs",), ("embed",))),
    Catalogued("token_deletion", _POOLED, knowledge=("spurious_concept",), knowledge_param="concept"),
    Catalogued("concept_bottleneck", _POOLED, knowledge_param="knowledge"),
    Catalogued("leace", _POOLED, attribute=True, columns=("text", "target", "attribute")),
    Catalogued("majority", ((),), columns=("target",)),
    Catalogued("sae_probe", (("activations",),), knowledge_param="sae", knowledge_form="sae"),
    # generation baselines answer with generate, or in a choice task (scorer choice(...)) with logprobs
    Catalogued("no_edit", (("generate",), ("logprobs",)), labeled=False, columns=(), task="generation"),
    Catalogued("instruct", (("generate",), ("logprobs",)), labeled=False, columns=(), task="generation"),
    Catalogued("few_shot_prompt", (("generate",), ("logprobs",)), columns=("text", "answer"), task="generation"),
    Catalogued("finetune_lora", (("finetune", "generate"), ("finetune", "logprobs")), columns=("text", "answer"),
               task="generation"),
)}
assert set(BASELINES) == set(enum_of("baseline_name")), "schema and catalogue disagree"

SKYLINES = {
    "oracle": Catalogued("oracle", _POOLED, skyline=True),
}
assert set(SKYLINES) == set(enum_of("skyline_name")), "schema and catalogue disagree"

SOURCE_KINDS = ("hf", "jsonl", "csv", "parquet", "builtin")
FILE_SOURCES = ("jsonl", "csv", "parquet")


def builtin_datasets() -> dict:
    """name -> Builtin metadata (columns, splits, options)."""
    from ..data.builtin import BUILTINS

    return BUILTINS
