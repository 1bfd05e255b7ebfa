"""Fine-tune the whole model with a classification head (needs the `finetune` affordance)."""
from __future__ import annotations

from .. import method
from ._common import train_data


@method
def finetune_full(ctx):
    _, texts, labels = train_data(ctx)
    tuned = ctx.model.finetune(texts, labels, epochs=ctx.params["epochs"], lr=ctx.params["lr"],
                               steps=ctx.params.get("steps"), seed=ctx.seed)
    return ctx.predictors.function(lambda batch, model: tuned.head.predict(tuned.embed(batch)))
