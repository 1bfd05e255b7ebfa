"""sae_probe: a sparse probe on SAE latents (SAEBench's sparse probing), the prior-matched
baseline for SAE methods.

An SAE from the rules (params.sae names a knowledge artifact holding one) or, without one, a
TopK SAE trained here on the token-level activations of the granted training texts (the rules
must grant `activations` on them: that is what training one needs). The `k` latents whose mean
activation differs most between the classes of the training split are kept; a logistic
regression on those `k` latents alone is the classifier. Public method API only.
"""
from __future__ import annotations

from .. import method
from ._common import train_data

SUMMARY = ("a logistic probe on the k SAE latents that differ most between classes (SAEBench's sparse "
           "probing); the SAE is params.sae's knowledge artifact, or a TopK SAE trained on the granted texts")
# Its parameters (defaults, search space) are declared with every built-in's in parameters.py.


def uses(spec, settings):
    """activations (latents, and training an SAE) on the labeled split; params.sae's knowledge if named."""
    from ..spec.ir import FrozenMap, Uses
    from .requirements import CannotRun, labeled_split as _labeled_split

    if "activations" not in spec.rules.grant.model:
        raise CannotRun("it needs model operation activations")
    params = dict(settings.get("params", {}))
    knowledge = [params["sae"]] if params.get("sae") else []
    missing = [k for k in knowledge if k not in spec.rules.knowledge]
    if missing:
        raise CannotRun(f"it needs knowledge '{missing[0]}' (rules.knowledge)")
    split = _labeled_split(spec)
    return (Uses(frozenset({"activations"}), FrozenMap({split: frozenset({"text", spec.evaluate.target})}),
                 frozenset(knowledge)), {"split": split})


@method
def sae_probe(ctx):
    import torch

    from ..sae import train_topk

    p = ctx.params
    _, texts, labels = train_data(ctx)
    layer = p["layer"]
    if p.get("sae"):
        sae = ctx.knowledge[p["sae"]]
    else:
        tokens = torch.cat(ctx.model.activations(texts, layers=[layer], pool="none")[layer])
        gen = torch.Generator().manual_seed(int(ctx.seed))
        if len(tokens) > p["max_tokens"]:
            tokens = tokens[torch.randperm(len(tokens), generator=gen)[: p["max_tokens"]]]
        sae = train_topk(tokens, width=int(p["width"]) * tokens.shape[1], k=int(p["sae_k"]), seed=ctx.seed,
                         epochs=int(p["epochs"]))
        ctx.log(f"trained {sae!r} on {len(tokens)} token activations at layer {layer}")
    z = ctx.model.features(texts, sae, layer=layer, pool="mean")
    chosen = top_latents(z, labels, int(p["k"]))
    head = ctx.predictors.linear(z[:, chosen], labels, seed=ctx.seed, l2=p["l2"])
    ctx.log(f"probing {len(chosen)} latents of {sae.d_sae}: {chosen[:16].tolist()}")
    return ctx.predictors.function(
        lambda batch, model: head.predict(model.features(batch, sae, layer=layer, pool="mean")[:, chosen]).labels)


def top_latents(z, labels, k: int):
    """Indices of the k latents whose class means differ most (one class against the rest)."""
    import torch

    classes = sorted(set(labels), key=str)
    y = [classes.index(v) for v in labels]
    y = torch.tensor(y)
    gap = torch.zeros(z.shape[1])
    for c in range(len(classes)):
        inside, outside = z[y == c], z[y != c]
        if len(inside) and len(outside):
            gap = torch.maximum(gap, (inside.mean(0) - outside.mean(0)).abs())
    return gap.topk(min(k, z.shape[1])).indices
