"""Baselines that train a linear head on frozen features (ERM and its prior-matched variants)."""
from __future__ import annotations

from collections import Counter

from .. import method
from ..knowledge import all_words
from ._common import delete_words, features, train_data


def _head_on(ctx):
    _, texts, labels = train_data(ctx)
    return ctx.predictors.probe(ctx.model, texts, labels, layer=ctx.params["layer"], l2=ctx.params["l2"])


@method
def finetune_head(ctx):
    """Plain ERM: a linear head on the frozen model's embedding (or a layer's pooled activations)."""
    return _head_on(ctx)


@method
def majority(ctx):
    """The floor: always the most common training label (ties: the first in sorted order)."""
    split = ctx.data[ctx.params["split"]]
    counts = Counter(split[ctx.task.target])
    best = max(sorted(counts, key=str), key=lambda label: counts[label])
    return ctx.predictors.constant(best)


@method
def oracle(ctx):
    """Skyline: a head trained on data from the evaluation distribution (a skyline split)."""
    return _head_on(ctx)


@method
def token_deletion(ctx):
    """Delete the words of the spurious concept from every input (training and evaluation), then
    train a head: the baseline that uses exactly the prior SHIFT uses."""
    words = all_words(ctx.knowledge[ctx.params["concept"]])
    _, texts, labels = train_data(ctx)
    layer, l2 = ctx.params["layer"], ctx.params["l2"]
    head = ctx.predictors.probe(ctx.model, [delete_words(t, words) for t in texts], labels, layer=layer, l2=l2)
    ctx.log(f"deleting {len(words)} words of the concept before every forward pass")
    return ctx.predictors.function(
        lambda batch, model: head.predict([delete_words(t, words) for t in batch], model).labels)


@method
def concept_bottleneck(ctx):
    """The head sees only cosine similarities between the input's representation and concept
    vectors of task-relevant words (mean-centred, normalised), as in SHIFT's CBP baseline."""
    import torch

    words = [str(w).lower() for w in ctx.params.get("words") or []]
    if ctx.params.get("knowledge"):  # a word list or a built-in concept: every value's words
        words += sorted(all_words(ctx.knowledge[ctx.params["knowledge"]]))
    # with neither, the label names: the task-relevant words every contender knows (never none)
    words = sorted(set(words or [str(c) for c in ctx.task.classes]))
    layer = ctx.params["layer"]
    concepts = features(ctx.model, words, layer)
    concepts = concepts - concepts.mean(0, keepdim=True)
    concepts = torch.nn.functional.normalize(concepts, dim=-1)

    def similarities(model, batch):
        return torch.nn.functional.normalize(features(model, batch, layer), dim=-1) @ concepts.T

    _, texts, labels = train_data(ctx)
    head = ctx.predictors.linear(similarities(ctx.model, texts), labels, seed=ctx.seed, l2=ctx.params["l2"])
    ctx.log(f"concept bottleneck over {len(words)} concepts: {', '.join(words[:10])}")
    return ctx.predictors.function(lambda batch, model: head.predict(similarities(model, batch)).labels)


@method
def leace(ctx):
    """LEACE concept erasure (EleutherAI's concept-erasure package) fit on the spurious
    attribute's labels, then a head on the erased features."""
    import warnings

    import torch

    with warnings.catch_warnings():  # concept_erasure decorates two helpers with torch.jit.script at import
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=DeprecationWarning)
        from concept_erasure import LeaceEraser

    split, texts, labels = train_data(ctx)
    attribute = split[ctx.params["attribute"]]
    values = sorted(set(attribute), key=str)
    if len(values) < 2:
        ctx.log(f"attribute '{ctx.params['attribute']}' has one value ({values[0]!r}) in the training split: "
                "there is nothing to erase, so LEACE leaves the features as they are")
    layer = ctx.params["layer"]
    x = features(ctx.model, texts, layer)
    z = torch.tensor([values.index(a) for a in attribute])
    eraser = LeaceEraser.fit(x, z) if len(values) > 1 else None
    erase = (lambda f: eraser(f)) if eraser is not None else (lambda f: f)
    head = ctx.predictors.linear(erase(x), labels, seed=ctx.seed, l2=ctx.params["l2"])
    return ctx.predictors.function(lambda batch, model: head.predict(erase(features(model, batch, layer))).labels)
