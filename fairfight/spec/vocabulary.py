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
    "score": False,  # generation: mean of the scorer's outputs
}
GROUP_METRICS = ("group_accuracy", "worst_group_accuracy")


def split_metric(metric: str) -> tuple[str, str | None]:
    """'leakage(gender)' -> ('leakage', 'gender')."""
    if metric.endswith(")") and "(" in metric:
        name, arg = metric[:-1].split("(", 1)
        return name, arg
    return metric, None


@dataclass(frozen=True)
class Catalogued:
    """A built-in contender: what it does and what it needs from the rules."""

    name: str
    summary: str
    model_any: tuple  # alternatives: any one of these sets of model operations suffices
    labeled: bool = True  # needs a granted split with the target column
    knowledge: tuple = ()  # knowledge names it needs
    knowledge_param: str | None = None  # a param that names the knowledge instead (default: knowledge[0])
    attribute: bool = False  # needs a granted column for a group attribute (not the target)
    skyline: bool = False


_POOLED = (("embed",), ("activations",))

BASELINES = {b.name: b for b in (
    Catalogued("finetune_head", "train a classification head on the frozen model's embedding or a layer's pooled activations (plain ERM)", _POOLED),
    Catalogued("finetune_full", "fine-tune the model with a classification head", (("finetune", "embed"),)),
    Catalogued("zero_shot", "no training labels: score label verbalisations (causal LMs) or compare embeddings with label descriptions (encoders)",
               (("logprobs",), ("embed",)), labeled=False),
    Catalogued("few_shot", "in-context examples from the granted labeled split (causal LMs) or nearest neighbours over embeddings (encoders)",
               (("logprobs",), ("embed",))),
    Catalogued("token_deletion", "delete words of the spurious concept from every input, then train a head", _POOLED,
               knowledge=("spurious_concept",), knowledge_param="concept"),
    Catalogued("concept_bottleneck", "the head sees only similarities to concept vectors built from task-relevant words", _POOLED),
    Catalogued("leace", "LEACE concept erasure (concept-erasure package) fit on spurious-attribute labels, then a head", _POOLED,
               attribute=True),
    Catalogued("majority", "predict the majority training label (the floor)", ((),)),
    Catalogued("sae_probe", "a sparse probe on the SAE latents that differ most between classes (SAEBench)",
               (("activations",),), knowledge_param="sae"),
)}
assert set(BASELINES) == set(enum_of("baseline_name")), "schema and catalogue disagree"

SKYLINES = {
    "oracle": Catalogued("oracle", "a head trained on data from the evaluation distribution (a skyline split)", _POOLED, skyline=True),
}
assert set(SKYLINES) == set(enum_of("skyline_name")), "schema and catalogue disagree"

SOURCE_KINDS = ("hf", "jsonl", "csv", "parquet", "builtin")
FILE_SOURCES = ("jsonl", "csv", "parquet")


def builtin_datasets() -> dict:
    """name -> Builtin metadata (columns, splits, options)."""
    from ..data.builtin import BUILTINS

    return BUILTINS
