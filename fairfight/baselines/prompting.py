"""Baselines that need no training labels (zero-shot) or only a few examples (few-shot)."""
from __future__ import annotations

from .. import method
from ..errors import FairfightError
from ._common import train_data


def _scores_prompts(ctx) -> bool:
    """The plan chose the prompting way (a causal model: logprobs) or the embedding way, granted
    the one operation it needs and derived the parameters for it: follow the plan."""
    return "logprobs" in ctx.model.grant


def _param(ctx, name, kind):
    """A prompt parameter the plan derived for this way (baselines/parameters.py)."""
    if name not in ctx.params:
        raise FairfightError(f"{ctx.name} has no '{name}', which the {kind} way needs (set model.kind, or "
                             f"params.{name})")
    return ctx.params[name]


@method
def zero_shot(ctx):
    """Causal LMs: the label whose verbalisation is most likely after a prompt (logprobs).
    Encoders: the label whose description's embedding is closest to the input's."""
    classes = list(ctx.task.classes)
    if _scores_prompts(ctx):
        return ctx.predictors.prompt(_param(ctx, "prompt", "causal (logprobs)"), {c: f" {c}" for c in classes})
    import torch

    descriptions = [_param(ctx, "description", "embedding").replace("{label}", str(c)) for c in classes]
    anchors = torch.nn.functional.normalize(ctx.model.embed(descriptions), dim=-1)

    def nearest(batch, model):
        sims = torch.nn.functional.normalize(model.embed(batch), dim=-1) @ anchors.T
        return [classes[i] for i in sims.argmax(-1).tolist()]

    return ctx.predictors.function(nearest)


@method
def few_shot(ctx):
    """Causal LMs: k labelled examples in the prompt, then score each label (logprobs).
    Encoders: k nearest neighbours over embeddings of the granted labelled examples."""
    import random

    _, texts, labels = train_data(ctx)
    k = min(int(ctx.params["k"]), len(texts))
    classes = list(ctx.task.classes)
    if _scores_prompts(ctx):
        rng = random.Random(ctx.seed)
        shots = rng.sample(range(len(texts)), k)
        answer = _param(ctx, "answer", "causal (logprobs)")
        prefix = "".join(f"{texts[i]}\n{answer} {labels[i]}\n\n" for i in shots)
        return ctx.predictors.prompt(prefix + "{text}\n" + answer, {c: f" {c}" for c in classes})
    import torch

    bank = torch.nn.functional.normalize(ctx.model.embed(texts), dim=-1)

    def knn(batch, model):
        sims = torch.nn.functional.normalize(model.embed(batch), dim=-1) @ bank.T
        out = []
        for row in sims.topk(k, dim=-1).indices.tolist():
            votes = {}
            for i in row:
                votes[labels[i]] = votes.get(labels[i], 0) + 1
            out.append(max(sorted(votes, key=str), key=votes.get))
        return out

    return ctx.predictors.function(knn)
