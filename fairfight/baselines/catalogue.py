"""The registry of built-in contenders: what each does and uses under the rules. Their parameters
(name, type, default, meaning, search space) are declared in parameters.py; the columns they
read in spec/vocabulary.py (what validate checks and `fairfight baselines` prints)."""
from __future__ import annotations

from dataclasses import dataclass

from ..spec.ir import FrozenMap, Spec, Uses
from ..spec.vocabulary import BASELINES as NEEDS
from ..spec.vocabulary import SKYLINES as SKYLINE_NEEDS
from . import finetune, generating, heads, parameters, prompting, sae_probe
from ._common import feature_op
from .requirements import CannotRun, answer_split, generation_op
from .requirements import labeled_split as _labeled_split, require_classification as _require_classification


@dataclass(frozen=True)
class Builtin:
    name: str
    kind: str  # "baseline" | "skyline" | "control"
    summary: str
    function: object = None
    # False: its result cannot depend on the run's seed (it draws nothing at random and reads no seed),
    # so a plan computes it once per eval and copies it to the other seeds (orchestration/plan.py);
    # a function of the spec where that depends on the way it takes (few_shot: only its prompting way
    # draws demonstrations). Tests rerun each such built-in at another seed and compare
    # (tests/evaluator/orchestration/test_seed_free_runs.py).
    seeded: object = True

    def draws_seed(self, spec: Spec) -> bool:
        return bool(self.seeded(spec) if callable(self.seeded) else self.seeded)

    @property
    def search(self) -> dict:
        """parameter -> candidate values (tuning parity), from the declarations."""
        return parameters.search_space(self.name)

    @property
    def parameters(self) -> tuple:
        return parameters.PARAMETERS.get(self.name, ())

    def uses(self, spec: Spec, settings) -> tuple[Uses, dict]:
        return _USES[self.name](spec, settings)


def _columns(spec: Spec, name: str, split: str, attribute: str | None = None) -> FrozenMap:
    """The grant's data: the declared columns of `name` (vocabulary.py) on `split`."""
    needs = {**NEEDS, **SKYLINE_NEEDS}[name]
    real = {"text": "text", "target": spec.evaluate.target, "attribute": attribute}
    return FrozenMap({split: frozenset(real[c] for c in needs.columns)}) if needs.columns else FrozenMap()


def model_kind(spec: Spec) -> str:
    from .. import model_kind as kind

    return kind(spec)


def _pooled(spec, settings, name, *, attribute=None, knowledge=(), split=None):
    ops = spec.rules.grant.model
    if not {"embed", "activations"} & ops:
        raise CannotRun("it needs model operation embed or activations")
    split = split or _labeled_split(spec)
    op = feature_op(ops)
    params = {"split": split, "layer": None if op == "embed" else -1}
    return Uses(frozenset({op}), _columns(spec, name, split, attribute), frozenset(knowledge)), params


def _uses_finetune_head(spec, settings):
    return _pooled(spec, settings, "finetune_head")


def _word_knowledge(spec, name: str) -> None:
    """Words come from a granted word list or a built-in concept name, not from an artifact's text."""
    from ..knowledge import CONCEPT_WORDS

    item = spec.rules.knowledge[name]
    if item.artifact is not None or (isinstance(item.value, str) and item.value not in CONCEPT_WORDS):
        raise CannotRun(f"knowledge '{name}' is not a word list or a built-in concept name")


def _uses_token_deletion(spec, settings):
    concept = dict(settings.get("params", {})).get("concept", "spurious_concept")
    if concept not in spec.rules.knowledge:
        raise CannotRun(f"it needs knowledge '{concept}' (rules.knowledge)")
    _word_knowledge(spec, concept)
    uses, params = _pooled(spec, settings, "token_deletion", knowledge=[concept])
    return uses, {**params, "concept": concept}


def _uses_concept_bottleneck(spec, settings):
    known = dict(settings.get("params", {})).get("knowledge")
    if known and known not in spec.rules.knowledge:
        raise CannotRun(f"it needs knowledge '{known}' (rules.knowledge)")
    if known:
        _word_knowledge(spec, known)
    return _pooled(spec, settings, "concept_bottleneck", knowledge=[known] if known else [])


def _uses_leace(spec, settings):
    target = spec.evaluate.target
    for split, cols in sorted(spec.rules.grant.data.items()):
        attrs = [g for g in spec.evaluate.groups if g != target and g in cols]
        if target in cols and attrs:
            uses, params = _pooled(spec, settings, "leace", attribute=attrs[0], split=split)
            return uses, {**params, "attribute": attrs[0]}
    attrs = [g for g in spec.evaluate.groups if g != target]
    raise CannotRun(f"it needs the labels of a group attribute ({', '.join(attrs) or 'evaluate.groups'}) "
                    "granted with the target in rules.data")


def _uses_majority(spec, settings):
    split = _labeled_split(spec)
    return Uses(frozenset(), _columns(spec, "majority", split), frozenset()), {"split": split}


def _uses_finetune_full(spec, settings):
    if not {"finetune", "embed"} <= spec.rules.grant.model:
        raise CannotRun("it needs model operations finetune and embed")
    split = _labeled_split(spec)
    return Uses(frozenset({"finetune", "embed"}), _columns(spec, "finetune_full", split), frozenset()), {"split": split}




def _uses_zero_shot(spec, settings):
    _require_classification(spec)
    op = "logprobs" if model_kind(spec) == "causal" else "embed"
    if op not in spec.rules.grant.model:
        raise CannotRun(f"for this {model_kind(spec)} model it needs model operation {op}")
    return Uses(frozenset({op})), {}


def _uses_few_shot(spec, settings):
    _require_classification(spec)
    op = "logprobs" if model_kind(spec) == "causal" else "embed"
    if op not in spec.rules.grant.model:
        raise CannotRun(f"for this {model_kind(spec)} model it needs model operation {op}")
    split = _labeled_split(spec)
    return Uses(frozenset({op}), _columns(spec, "few_shot", split)), {"split": split}


def _uses_generating(spec, settings):
    op, options = generation_op(spec)
    return Uses(frozenset({op})), {"options": options}


def _uses_few_shot_prompt(spec, settings):
    op, options = generation_op(spec)
    answer = dict(settings.get("params", {})).get("answer") or parameters.scorer_column(spec)
    if not answer:
        raise CannotRun("it needs params.answer, the column holding each demonstration's answer (the scorer "
                        "names none)")
    split = answer_split(spec, answer)
    return (Uses(frozenset({op}), FrozenMap({split: frozenset({"text", answer})})),
            {"split": split, "answer": answer, "options": options})


def _uses_finetune_lora(spec, settings):
    op, options = generation_op(spec)
    if "finetune" not in spec.rules.grant.model:
        raise CannotRun("it needs model operation finetune")
    answer = dict(settings.get("params", {})).get("answer") or parameters.scorer_column(spec)
    if not answer:
        raise CannotRun("it needs params.answer, the column holding each demonstration's answer (the scorer "
                        "names none)")
    split = answer_split(spec, answer)
    return (Uses(frozenset({"finetune", op}), FrozenMap({split: frozenset({"text", answer})})),
            {"split": split, "answer": answer, "options": options})


def _uses_oracle(spec, settings):
    split = settings.get("split")
    if not split or split not in spec.splits:
        raise CannotRun("the oracle needs 'split:', a skyline split of the evaluation distribution")
    ops = spec.rules.grant.model | {"embed"}  # a skyline may exceed the rules; it is marked as such
    op = feature_op(ops)
    return (Uses(frozenset({op}), _columns(spec, "oracle", split)),
            {"split": split, "layer": None if op == "embed" else -1})


_USES = {
    "finetune_head": _uses_finetune_head, "finetune_full": _uses_finetune_full, "zero_shot": _uses_zero_shot,
    "few_shot": _uses_few_shot, "token_deletion": _uses_token_deletion, "concept_bottleneck": _uses_concept_bottleneck,
    "leace": _uses_leace, "majority": _uses_majority, "oracle": _uses_oracle,
    "no_edit": _uses_generating, "instruct": _uses_generating, "few_shot_prompt": _uses_few_shot_prompt,
    "finetune_lora": _uses_finetune_lora,
}

BASELINES = {b.name: b for b in (
    Builtin("finetune_head", "baseline", "train a linear head on the frozen model's embedding or a layer's pooled "
            "activations (plain ERM)", heads.finetune_head),
    Builtin("finetune_full", "baseline", "fine-tune the whole model with a linear head", finetune.finetune_full),
    Builtin("zero_shot", "baseline", "no training labels: score label verbalisations (causal LMs, logprobs) or "
            "compare the input's embedding with label descriptions (encoders); prompts derive from the spec",
            prompting.zero_shot, seeded=False),
    Builtin("few_shot", "baseline", "k labelled examples in the prompt (causal LMs) or k nearest neighbours over "
            "embeddings of the granted examples (encoders)", prompting.few_shot,
            seeded=lambda spec: model_kind(spec) == "causal"),  # k nearest neighbours draw nothing
    Builtin("token_deletion", "baseline", "delete the words of the spurious concept from every input, then train a "
            "head (uses the knowledge item params.concept, default spurious_concept)", heads.token_deletion),
    Builtin("concept_bottleneck", "baseline", "a head on cosine similarities to concept vectors of task-relevant "
            "words: params.words plus the words of the knowledge item params.knowledge; with neither, the "
            "target's label names", heads.concept_bottleneck),
    Builtin("leace", "baseline", "LEACE concept erasure (concept-erasure package) fit on the spurious attribute's "
            "labels, then a head (needs the attribute's labels granted)", heads.leace),
    Builtin("majority", "baseline", "always the most common training label (the floor)", heads.majority,
            seeded=False),
    Builtin("no_edit", "baseline", "generation tasks: the model as it is, each prompt answered by greedy "
            "generation (asked as one user turn with a chat template, as the other baselines ask it)",
            generating.no_edit, seeded=False),
    Builtin("instruct", "baseline", "generation tasks: an instruction (default: task.goal) as a system turn "
            "(a paragraph before the prompt for a model without a chat template)", generating.instruct,
            seeded=False),
    Builtin("few_shot_prompt", "baseline", "generation tasks: k (prompt, answer) demonstrations from a granted "
            "split as earlier chat turns (or text) before each prompt", generating.few_shot_prompt),
    Builtin("finetune_lora", "baseline", "generation tasks: the model fine-tuned on the granted (prompt, answer) "
            "demonstrations on the model server (LoRA adapters, or every weight with rank 0), answering like "
            "no_edit", generating.finetune_lora),
)}
BASELINES["sae_probe"] = Builtin("sae_probe", "baseline", sae_probe.SUMMARY, sae_probe.sae_probe)
_USES["sae_probe"] = sae_probe.uses
SKYLINES = {
    "oracle": Builtin("oracle", "skyline", "a head trained on a split of the evaluation distribution (beyond the "
                      "rules: shown, marked, never counted as a baseline)", heads.oracle),
}
CONTROLS = {
    "random_model": Builtin("random_model", "control", "rerun the method on a model of the same architecture with "
                            "freshly initialised weights"),
    "shuffled_labels": Builtin("shuffled_labels", "control", "rerun the method with the labels of every granted "
                               "split permuted"),
    "random_direction": Builtin("random_direction", "control", "vector methods: rerun the method with every "
                                "vector it adds (AddVector) replaced, on the model server, by a random vector of "
                                "the same norm at the same layer, scale and positions (drawn from the run's seed)"),
}


def builtin(name: str) -> Builtin:
    for table in (BASELINES, SKYLINES):
        if name in table:
            return table[name]
    raise KeyError(name)


def uses_for(spec: Spec, contender) -> tuple[Uses, dict]:
    """The grant and the parameters of a built-in contender under the spec's rules: the declared
    defaults (derived from the spec where they depend on the task), the spec's params, and what
    the plan chose (split, layer, ...), in that order of precedence."""
    needs = {**NEEDS, **SKYLINE_NEEDS}.get(contender.name)
    if needs is not None and needs.task != spec.evaluate.kind:
        raise CannotRun(f"it is a {'skyline' if needs.skyline else 'baseline'} of {needs.task} tasks, and this one "
                        f"is evaluate.kind: {spec.evaluate.kind}")
    settings = {"params": dict(contender.params), "split": contender.split}
    uses, chosen = builtin(contender.name).uses(spec, settings)
    kind = model_kind(spec) if contender.name in ("zero_shot", "few_shot") else "any"
    params = {**parameters.defaults(contender.name, spec, kind), **dict(contender.params), **chosen}
    cap = spec.rules.budget.max_new_tokens
    if cap is not None and "max_new_tokens" in params and "max_new_tokens" not in contender.params:
        params["max_new_tokens"] = min(int(params["max_new_tokens"]), cap)  # the rules' answer length, not more
    return uses, params
