"""What a built-in needs from the rules, checked at plan time (shared by catalogue.py and the
built-ins that plan their own parameters, such as sae_probe.py)."""
from __future__ import annotations

from ..spec.ir import Spec


class CannotRun(Exception):
    """The rules do not give this built-in what it needs (the reason says what)."""


def require_classification(spec: Spec) -> None:
    if spec.evaluate.kind != "classification":
        raise CannotRun("the built-in baselines support classification tasks only, not evaluate.kind: "
                        f"{spec.evaluate.kind} (yet)")


def generation_op(spec: Spec) -> tuple[str, list | None]:
    """(the model operation a generation baseline answers with, the options of a choice task): a
    choice scorer with listed options is answered with logprobs over them, any other with generate."""
    from ..spec.scorer_syntax import ScorerSyntaxError, parse_scorer

    if spec.evaluate.kind != "generation":
        raise CannotRun("it is a baseline of generation tasks (evaluate.kind: generation)")
    try:
        scorer = parse_scorer(spec.evaluate.scorer) if spec.evaluate.scorer else None
    except ScorerSyntaxError:
        scorer = None
    if scorer is None or scorer.kind != "choice":
        require_generation(spec)
        return "generate", None
    if scorer.options is None:
        raise CannotRun(f"the scorer {scorer} reads each row's options from a column, which a predictor is "
                        "not shown: list them in the scorer (options=['A', 'B', ...])")
    if "logprobs" not in spec.rules.grant.model:
        raise CannotRun("in a choice task it needs model operation logprobs")
    return "logprobs", list(scorer.options)


def require_generation(spec: Spec) -> None:
    if spec.evaluate.kind != "generation":
        raise CannotRun("it is a baseline of generation tasks (evaluate.kind: generation)")
    if "generate" not in spec.rules.grant.model:
        raise CannotRun("it needs model operation generate")


def answer_split(spec: Spec, answer: str) -> str:
    """Generation: the split a demonstrating baseline draws from: the selection split if it grants
    the prompts and the `answer` column, else the first that does."""
    data = spec.rules.grant.data
    order = ([spec.rules.selection] if spec.rules.selection in data else []) + sorted(data)
    for name in order:
        if {"text", answer} <= data[name]:
            return name
    raise CannotRun(f"no split in rules.data grants the prompts (text) with the answer column '{answer}'")


def labeled_split(spec: Spec) -> str:
    """The split a baseline trains on: the selection split if it grants the target, else the first that does."""
    require_classification(spec)
    target, data = spec.evaluate.target, spec.rules.grant.data
    order = ([spec.rules.selection] if spec.rules.selection in data else []) + sorted(data)
    for name in order:
        if target in data[name]:
            return name
    raise CannotRun(f"no split in rules.data grants the target column '{target}'")
