"""Baselines that need no training labels (zero-shot) or only a few examples (few-shot)."""
from __future__ import annotations

from .. import method
from ._common import train_data


@method
def zero_shot(ctx):
    """Causal LMs: the label whose verbalisation is most likely after a prompt (logprobs).
    Encoders: the label whose description's embedding is closest to the input's."""
    classes = list(ctx.task.classes)
    if ctx.model.kind == "causal":
        return ctx.predictors.prompt(ctx.params["prompt"], {c: f" {c}" for c in classes})
    import torch

    descriptions = [ctx.params["description"].replace("{label}", str(c)) for c in classes]
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
    if ctx.model.kind == "causal":
        rng = random.Random(ctx.seed)
        shots = rng.sample(range(len(texts)), k)
        prefix = "".join(f"{texts[i]}\n{ctx.params['answer']} {labels[i]}\n\n" for i in shots)
        return ctx.predictors.prompt(prefix + "{text}\n" + ctx.params["answer"], {c: f" {c}" for c in classes})
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
