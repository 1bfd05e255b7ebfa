"""The parameters of every built-in contender, declared once: name, type, default, meaning.

`validate` checks `params:` and `search:` of built-in entries against these declarations
(spec/contender_checks.py), the plan fills in the defaults (catalogue.py), `fairfight baselines`
prints them and `python -m fairfight.baselines.reference` writes docs/baselines.md from them.
Nothing here imports torch: validate must stay light.

A default is a value, or derived from the spec (`Derived`: the prompting baselines' prompts come
from the task goal and the target's name, never from a template written for one task), or
decided at run time from the data (`AtRunTime`: e.g. the label names). Parameters whose
`set_by` is "plan" are chosen by the plan from the rules (the split a baseline trains on, the
layer its features come from): they are shown in the plan and cannot be set in the spec.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

TYPES = {
    "int": "a whole number",
    "float": "a number",
    "str": "text",
    "template": "text",
    "words": "a list of words",
    "knowledge": "the name of a rules.knowledge item",
    "split": "a split name",
    "layer": "a layer index (none: the model's embedding)",
    "column": "a column name",
}


@dataclass(frozen=True)
class Derived:
    """A default computed from the spec; `how` says how, for people."""

    how: str
    compute: Callable  # (spec) -> value

    def __str__(self):
        return self.how


@dataclass(frozen=True)
class AtRunTime:
    """A default decided when the contender runs (it depends on the data); `what` says what."""

    what: str

    def __str__(self):
        return self.what


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # a key of TYPES
    default: object  # a value, a Derived, an AtRunTime, or None (not set)
    meaning: str
    search: tuple = ()  # the built-in search space (tuning parity); () = not tuned
    set_by: str = "spec"  # "spec": the spec may set it; "plan": chosen by the plan from the rules
    models: str = "any"  # "any" | "causal" | "encoder": the model kinds it applies to
    placeholders: tuple = ()  # text a template must contain
    optional: bool = False  # may be null / absent
    least: float | None = None  # the smallest value that can run (a count of 0 or -3 fails at run time)


def _target_words(spec) -> str:
    return (spec.evaluate.target or "label").replace("_", " ")


def _goal_lead(spec) -> str:
    goal = " ".join((spec.task.goal or "").split())  # one line: a goal written over lines reads the same
    return f"{goal}\n\n" if goal else ""


def _answer(spec) -> str:
    words = _target_words(spec)
    return f"{words[:1].upper()}{words[1:]}:"


def _zero_shot_prompt(spec) -> str:
    return f"{_goal_lead(spec)}{{text}}\n{_answer(spec)}"


def _description(spec) -> str:
    return f"{_target_words(spec)}: {{label}}"


def scorer_column(spec) -> str | None:
    """The reference column a contains/exact_match scorer reads (None for regex and FILE.py scorers)."""
    from ..spec.scorer_syntax import ScorerSyntaxError, parse_scorer

    try:
        columns = parse_scorer(spec.evaluate.scorer).columns if spec.evaluate.scorer else ()
    except ScorerSyntaxError:
        return None
    return columns[0] if columns else None


def _instruction(spec) -> str:
    goal = " ".join((spec.task.goal or "").split())
    return goal or "Answer accurately and truthfully."


_MAX_NEW = Param("max_new_tokens", "int", 32, "tokens generated per prompt at most (greedy decoding)",
                 least=1)
_TEMPLATE = Param("template", "template", "{text}", "how each prompt is asked ({text} is the prompt), e.g. "
                  "'Question: {text}\\nAnswer:'", placeholders=("{text}",))
_OPTIONS = Param("options", "words", AtRunTime("a choice scorer's listed options (choice(COLUMN, options=[...])); "
                                                "none: texts are generated"),
                  "choice tasks: the options whose log-probabilities after each prompt are its output",
                  set_by="plan", optional=True)
_L2 = Param("l2", "float", 1e-3, "L2 penalty of the linear head", search=(1e-4, 1e-3, 1e-2, 1e-1), least=0)
_SPLIT = Param("split", "split", AtRunTime("the selection split if it grants the target, else the first granted "
                                           "split that does"), "the labeled split it trains on", set_by="plan")
_LAYER = Param("layer", "layer", AtRunTime("none (the embedding) when rules.model grants embed, else -1 (the last "
                                           "layer's mean activations)"), "where its features come from",
               set_by="plan", optional=True)

PARAMETERS: dict[str, tuple[Param, ...]] = {
    "finetune_head": (_L2, _SPLIT, _LAYER),
    "finetune_full": (
        Param("epochs", "int", 1, "passes over the training split", search=(1, 2), least=1),
        Param("lr", "float", 3e-5, "learning rate (AdamW)", search=(1e-5, 3e-5, 1e-4)),
        Param("steps", "int", None, "stop after this many optimiser steps (none: whole epochs)", optional=True,
              least=1),
        _SPLIT,
    ),
    "zero_shot": (
        Param("prompt", "template", Derived("task.goal (if any), a blank line, {text}, then the target's name and "
                                            "a colon, e.g. 'Sentiment:'", _zero_shot_prompt),
              "causal LMs: the prompt after which each label's verbalisation ' LABEL' is scored by logprobs",
              models="causal", placeholders=("{text}",)),
        Param("description", "template", Derived("'TARGET: {label}', e.g. 'sentiment: {label}'", _description),
              "encoders: the text embedded for each label ({label} is replaced by the label name); the input "
              "gets the label whose description's embedding is nearest (cosine)",
              models="encoder", placeholders=("{label}",)),
    ),
    "few_shot": (
        Param("k", "int", 15, "examples in the prompt (causal LMs) or neighbours that vote (encoders)",
              search=(1, 5, 15, 45), least=1),
        Param("answer", "str", Derived("the target's name and a colon, e.g. 'Sentiment:'", _answer),
              "causal LMs: what precedes each example's label and the scored label in the prompt "
              "(TEXT\\nANSWER LABEL, blank line, ...)", models="causal"),
        _SPLIT,
    ),
    "token_deletion": (
        _L2,
        Param("concept", "knowledge", "spurious_concept", "the knowledge item whose words are deleted: a word list "
              "or a built-in concept name such as gender"),
        _SPLIT, _LAYER,
    ),
    "concept_bottleneck": (
        _L2,
        Param("words", "words", AtRunTime("the target's label names, when neither words nor knowledge is given"),
              "task-relevant words whose concept vectors the head sees (added to the knowledge item's words)",
              optional=True),
        Param("knowledge", "knowledge", None, "a knowledge item (word list or built-in concept name) whose words "
              "are concepts too; it is then granted to the baseline", optional=True),
        _SPLIT, _LAYER,
    ),
    "leace": (
        _L2, _SPLIT, _LAYER,
        Param("attribute", "column", AtRunTime("the first of evaluate.groups (not the target) granted with the "
                                               "target in rules.data"),
              "the group attribute whose labels LEACE erases", set_by="plan"),
    ),
    "majority": (_SPLIT,),
    "sae_probe": (
        Param("k", "int", 16, "SAE latents the probe may use: those whose mean activation differs most between "
              "the classes of the training split", search=(4, 16, 64, 256), least=1),
        _L2,
        Param("layer", "int", -1, "the layer whose SAE latents are read (-1: the last)"),
        Param("sae", "knowledge", None, "a knowledge artifact holding an SAE (SAELens or dictionary_learning "
              "folder); without one, a TopK SAE is trained on the granted texts' token activations", optional=True),
        Param("width", "int", 4, "trained SAE only: latents per model dimension", least=1),
        Param("sae_k", "int", 32, "trained SAE only: active latents per token (TopK)", least=1),
        Param("max_tokens", "int", 20000, "trained SAE only: token activations it trains on (a seeded sample)",
              least=1),
        Param("epochs", "int", 3, "trained SAE only: passes over those tokens", least=1),
        _SPLIT,
    ),
    "no_edit": (_TEMPLATE, _MAX_NEW, _OPTIONS),
    "instruct": (
        Param("instruction", "str", Derived("task.goal on one line, else 'Answer accurately and truthfully.'",
                                            _instruction),
              "the instruction: a system turn rendered with the model's chat template, or (a model without one) "
              "a paragraph before each prompt"),
        _TEMPLATE, _MAX_NEW, _OPTIONS,
    ),
    "few_shot_prompt": (
        Param("k", "int", 4, "demonstrations, drawn with the run's seed from the granted split",
              search=(1, 2, 4, 8), least=1),
        Param("answer", "column", Derived("the scorer's reference column (contains(COLUMN), exact_match(COLUMN)); "
                                          "set it for a regex or FILE.py scorer", scorer_column),
              "the column of the granted split holding each demonstration's answer"),
        _TEMPLATE, _MAX_NEW,
        Param("split", "split", AtRunTime("the selection split if it grants text and the answer column, else the "
                                          "first granted split that does"), "the split it draws from", set_by="plan"),
        _OPTIONS,
    ),
    "finetune_lora": (
        Param("rank", "int", 8, "rank of the LoRA adapters on every linear layer (alpha = 2 x rank), merged after "
              "training; 0: fine-tune every weight instead (small models)", least=0),
        Param("lr", "float", 3e-4, "learning rate (AdamW)", search=(1e-4, 3e-4, 1e-3)),
        Param("epochs", "int", 3, "passes over the demonstrations", least=1),
        Param("steps", "int", None, "stop after this many optimiser steps (none: whole epochs)", optional=True,
              least=1),
        Param("answer", "column", Derived("the scorer's reference column (contains(COLUMN), exact_match(COLUMN), "
                                          "choice(COLUMN, ...)); set it for a regex or FILE.py scorer",
                                          scorer_column),
              "the column of the granted split holding each demonstration's answer"),
        _TEMPLATE, _MAX_NEW,
        Param("split", "split", AtRunTime("the selection split if it grants text and the answer column, else the "
                                          "first granted split that does"), "the split it trains on", set_by="plan"),
        _OPTIONS,
    ),
    "oracle": (
        _L2,
        Param("split", "split", AtRunTime("the entry's split: (skylines: [{oracle: {split: NAME}}])"),
              "the split it trains on", set_by="plan"),
        _LAYER,
    ),
    "random_model": (),
    "shuffled_labels": (),
    "random_direction": (),
}


def declared(name: str) -> dict[str, Param]:
    return {p.name: p for p in PARAMETERS.get(name, ())}


def search_space(name: str) -> dict:
    return {p.name: list(p.search) for p in PARAMETERS.get(name, ()) if p.search}


def applies(param: Param, model_kind: str) -> bool:
    return param.models == "any" or param.models == model_kind


def defaults(name: str, spec, model_kind: str) -> dict:
    """The spec-settable defaults of a built-in for this spec and model kind (run-time ones are left out)."""
    out = {}
    for p in PARAMETERS.get(name, ()):
        if p.set_by != "spec" or not applies(p, model_kind) or p.default is None or isinstance(p.default, AtRunTime):
            continue
        out[p.name] = p.default.compute(spec) if isinstance(p.default, Derived) else p.default
    return out


def type_error(param: Param, value) -> str:
    """Why `value` is not a valid value of `param` ('' when it is)."""
    if value is None:
        return "" if param.optional else f"'{param.name}' needs a value ({TYPES[param.type]})"
    kind = param.type
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "words": isinstance(value, list) and all(isinstance(w, str) for w in value),
    }.get(kind, isinstance(value, str))
    if not ok:
        return f"'{param.name}' must be {TYPES[kind]}, got {_shown(value)}"
    if param.least is not None and kind in ("int", "float") and not value >= param.least:  # `not >=`: NaN too
        return f"'{param.name}' must be at least {param.least:g}, got {_shown(value)}"
    missing = [p for p in param.placeholders if p not in value]
    if missing:
        return f"'{param.name}' must contain {' and '.join(missing)}, got {_shown(value)}"
    return ""


def _shown(value) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, str):
        return f"text {value!r}"
    if isinstance(value, list):
        return f"a list {value!r}"
    if isinstance(value, dict):
        return "a mapping"
    return repr(value)


def shown_default(param: Param) -> str:
    """The default for people: a value (JSON-like), or how it is derived / decided."""
    import json

    if param.default is None:
        return "none"
    if isinstance(param.default, (Derived, AtRunTime)):
        return str(param.default)
    return json.dumps(param.default)
