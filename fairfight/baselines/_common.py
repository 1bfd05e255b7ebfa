"""Small pieces the built-in contenders share (public API only)."""
from __future__ import annotations

from ..knowledge import delete_words  # noqa: F401 (one word deleter: token_deletion's and split transforms')


def train_data(ctx, split_param="split"):
    """The labeled training split the plan chose for this contender, and its texts and labels."""
    split = ctx.data[ctx.params[split_param]]
    return split, split.texts, split[ctx.task.target]


def features(model, texts, layer):
    """Pooled features: the model's embedding (`layer` None) or mean activations at `layer`."""
    if layer is None:
        return model.embed(texts)
    return model.activations(texts, layers=[layer])[layer]


def feature_op(rules_ops) -> str:
    return "embed" if "embed" in rules_ops else "activations"


