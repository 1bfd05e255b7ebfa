"""The fill of a mean ablation: each latent's mean over the real tokens of granted texts.

`AblateFeatures(mode="mean")` needs `fill=` (one value per feature): an edit is a declarative
record, it reads no data itself. This computes the usual fill through the run's own handle, so
the read is granted and counted like any other:

    fill = latent_means(ctx.model, ctx.data["generic"].texts, sae, layer=4, features=chosen)
    edited = ctx.model.intervene([AblateFeatures(4, sae, chosen, mode="mean", fill=fill)])
"""
from __future__ import annotations

import torch

from fairfight.errors import FairfightError

CHUNK_TEXTS = 256  # texts per features() read: [their tokens, d_sae] is the most held at once


def latent_means(model, texts, sae, *, layer: int, features=None, split=None) -> torch.Tensor:
    """Mean of each latent (or of `features` only, in their order) over every real token of
    `texts` at `layer`: an `activations` read through `model` (a granted handle)."""
    texts = list(texts)
    if not texts:
        raise FairfightError("latent_means needs at least one text")
    idx = None if features is None else torch.as_tensor(
        features.tolist() if hasattr(features, "tolist") else list(features), dtype=torch.long)
    total, count = None, 0
    for start in range(0, len(texts), CHUNK_TEXTS):
        rows = model.features(texts[start:start + CHUNK_TEXTS], sae, layer=layer, pool="none", split=split)
        for z in rows:
            z = z if idx is None else z.index_select(-1, idx)
            total = z.sum(0) if total is None else total + z.sum(0)
            count += z.shape[0]
    if count == 0:
        raise FairfightError("latent_means: the texts have no tokens")
    return total / count


__all__ = ["latent_means", "CHUNK_TEXTS"]
