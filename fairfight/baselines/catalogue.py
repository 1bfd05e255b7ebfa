"""The registry of built-in contenders: what each does, uses, takes and searches over."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..spec.ir import FrozenMap, Spec, Uses
from . import finetune, heads, prompting, sae_probe
from ._common import feature_op


class CannotRun(Exception):
    """The rules do not give this built-in what it needs (the reason says what)."""


@dataclass(frozen=True)
class Builtin:
    name: str
    kind: str  # "baseline" | "skyline" | "control"
    summary: str
    function: object = None
    defaults: dict = field(default_factory=dict)
    search: dict = field(default_factory=dict)  # parameter -> candidate values (tuning parity)

    def uses(self, spec: Spec, settings) -> tuple[Uses, dict]:
        return _USES[self.name](spec, settings)


def _labeled_split(spec: Spec) -> str:
    """The split a baseline trains on: the selection split if it grants the target, else the first that does."""
    _require_classification(spec)
    target, data = spec.evaluate.target, spec.rules.grant.data
    order = ([spec.rules.selection] if spec.rules.selection in data else []) + sorted(data)
    for name in order:
        if target in data[name]:
            return name
    raise CannotRun(f"no split in rules.data grants the target column '{target}'")


def _model_kind(spec: Spec) -> str:
    if spec.model.kind != "auto":
        return spec.model.kind
    kind, target = spec.model.source.split(":", 1)
    try:
        from ..evaluator.models import detect_kind, package_model_dir

        folder = target if kind == "path" else package_model_dir(target) if kind == "package" else None
        if folder is not None:
            import json
            from pathlib import Path
            from types import SimpleNamespace

            return detect_kind(SimpleNamespace(**json.loads((Path(folder) / "config.json").read_text())))
    except Exception:  # an unreadable config is reported when the model loads
        pass
    return "causal" if {"logprobs", "generate"} & spec.rules.grant.model else "encoder"


def _pooled(spec, settings, *, extra_columns=(), knowledge=(), split=None):
    ops = spec.rules.grant.model
    if not {"embed", "activations"} & ops:
        raise CannotRun("it needs model operation embed or activations")
    split = split or _labeled_split(spec)
    op = feature_op(ops)
    params = {"split": split, "layer": None if op == "embed" else -1}
    return Uses(frozenset({op}), FrozenMap({split: frozenset({"text", spec.evaluate.target, *extra_columns})}),
                frozenset(knowledge)), params


def _uses_finetune_head(spec, settings):
    return _pooled(spec, settings)


def _uses_token_deletion(spec, settings):
    concept = dict(settings.get("params", {})).get("concept", "spurious_concept")
    if concept not in spec.rules.knowledge:
        raise CannotRun(f"it needs knowledge '{concept}' (rules.knowledge)")
    uses, params = _pooled(spec, settings, knowledge=[concept])
    return uses, {**params, "concept": concept}


def _uses_concept_bottleneck(spec, settings):
    known = dict(settings.get("params", {})).get("knowledge")
    uses, params = _pooled(spec, settings, knowledge=[known] if known else [])
    return uses, params


def _uses_leace(spec, settings):
    target = spec.evaluate.target
    for split, cols in sorted(spec.rules.grant.data.items()):
        attrs = [g for g in spec.evaluate.groups if g != target and g in cols]
        if target in cols and attrs:
            uses, params = _pooled(spec, settings, extra_columns=[attrs[0]], split=split)
            return uses, {**params, "attribute": attrs[0]}
    attrs = [g for g in spec.evaluate.groups if g != target]
    raise CannotRun(f"it needs the labels of a group attribute ({', '.join(attrs) or 'evaluate.groups'}) "
                    "granted with the target in rules.data")


def _uses_majority(spec, settings):
    split = _labeled_split(spec)
    return Uses(frozenset(), FrozenMap({split: frozenset({spec.evaluate.target})}), frozenset()), {"split": split}


def _uses_finetune_full(spec, settings):
    if not {"finetune", "embed"} <= spec.rules.grant.model:
        raise CannotRun("it needs model operations finetune and embed")
    split = _labeled_split(spec)
    return Uses(frozenset({"finetune", "embed"}), FrozenMap({split: frozenset({"text", spec.evaluate.target})}),
                frozenset()), {"split": split}


def _require_classification(spec: Spec) -> None:
    if spec.evaluate.kind != "classification":
        raise CannotRun("the built-in baselines support classification tasks only, not evaluate.kind: "
                        f"{spec.evaluate.kind} (yet)")


def _uses_zero_shot(spec, settings):
    _require_classification(spec)
    op = "logprobs" if _model_kind(spec) == "causal" else "embed"
    if op not in spec.rules.grant.model:
        raise CannotRun(f"for this {_model_kind(spec)} model it needs model operation {op}")
    return Uses(frozenset({op})), {}


def _uses_few_shot(spec, settings):
    _require_classification(spec)
    op = "logprobs" if _model_kind(spec) == "causal" else "embed"
    if op not in spec.rules.grant.model:
        raise CannotRun(f"for this {_model_kind(spec)} model it needs model operation {op}")
    split = _labeled_split(spec)
    return Uses(frozenset({op}), FrozenMap({split: frozenset({"text", spec.evaluate.target})})), {"split": split}


def _uses_oracle(spec, settings):
    split = settings.get("split")
    if not split or split not in spec.splits:
        raise CannotRun("the oracle needs 'split:', a skyline split of the evaluation distribution")
    ops = spec.rules.grant.model | {"embed"}  # a skyline may exceed the rules; it is marked as such
    op = feature_op(ops)
    return (Uses(frozenset({op}), FrozenMap({split: frozenset({"text", spec.evaluate.target})})),
            {"split": split, "layer": None if op == "embed" else -1})


_USES = {
    "finetune_head": _uses_finetune_head, "finetune_full": _uses_finetune_full, "zero_shot": _uses_zero_shot,
    "few_shot": _uses_few_shot, "token_deletion": _uses_token_deletion, "concept_bottleneck": _uses_concept_bottleneck,
    "leace": _uses_leace, "majority": _uses_majority, "oracle": _uses_oracle,
}

_L2 = {"l2": [1e-4, 1e-3, 1e-2, 1e-1]}
BASELINES = {b.name: b for b in (
    Builtin("finetune_head", "baseline", "train a linear head on the frozen model's embedding or a layer's pooled "
            "activations (plain ERM)", heads.finetune_head, {"l2": 1e-3}, _L2),
    Builtin("finetune_full", "baseline", "fine-tune the whole model with a linear head", finetune.finetune_full,
            {"epochs": 1, "lr": 3e-5}, {"lr": [1e-5, 3e-5, 1e-4], "epochs": [1, 2]}),
    Builtin("zero_shot", "baseline", "no training labels: score label verbalisations (causal LMs, logprobs) or "
            "compare the input's embedding with label descriptions (encoders)", prompting.zero_shot,
            {"prompt": "{text}\nOccupation:", "description": "a biography of a {label}"}, {}),
    Builtin("few_shot", "baseline", "k labelled examples in the prompt (causal LMs) or k nearest neighbours over "
            "embeddings of the granted examples (encoders)", prompting.few_shot, {"k": 15, "answer": "Occupation:"},
            {"k": [1, 5, 15, 45]}),
    Builtin("token_deletion", "baseline", "delete the words of the spurious concept from every input, then train a "
            "head (uses the spurious_concept knowledge)", heads.token_deletion, {"l2": 1e-3}, _L2),
    Builtin("concept_bottleneck", "baseline", "a head on cosine similarities to concept vectors of task-relevant "
            "words (params.words, a knowledge word list, or the label names)", heads.concept_bottleneck,
            {"l2": 1e-3, "words": []}, _L2),
    Builtin("leace", "baseline", "LEACE concept erasure (concept-erasure package) fit on the spurious attribute's "
            "labels, then a head (needs the attribute's labels granted)", heads.leace, {"l2": 1e-3}, _L2),
    Builtin("majority", "baseline", "always the most common training label (the floor)", heads.majority, {}, {}),
)}
BASELINES["sae_probe"] = Builtin("sae_probe", "baseline", sae_probe.SUMMARY, sae_probe.sae_probe, sae_probe.DEFAULTS,
                                 sae_probe.SEARCH)
_USES["sae_probe"] = sae_probe.uses
SKYLINES = {
    "oracle": Builtin("oracle", "skyline", "a head trained on a split of the evaluation distribution (beyond the "
                      "rules: shown, marked, never counted as a baseline)", heads.oracle, {"l2": 1e-3}, _L2),
}
CONTROLS = {
    "random_model": Builtin("random_model", "control", "rerun the method on a model of the same architecture with "
                            "freshly initialised weights"),
    "shuffled_labels": Builtin("shuffled_labels", "control", "rerun the method with the labels of every granted "
                               "split permuted"),
}


def builtin(name: str) -> Builtin:
    for table in (BASELINES, SKYLINES):
        if name in table:
            return table[name]
    raise KeyError(name)


def uses_for(spec: Spec, contender) -> tuple[Uses, dict]:
    """The grant and plan parameters of a built-in contender under the spec's rules."""
    settings = {"params": dict(contender.params), "split": contender.split}
    return builtin(contender.name).uses(spec, settings)
