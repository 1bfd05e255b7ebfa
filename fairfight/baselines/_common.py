"""Small pieces the built-in contenders share (public API only)."""
from __future__ import annotations

import re


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


_WORD = re.compile(r"[A-Za-z']+")


def delete_words(text: str, words: frozenset) -> str:
    """Remove every word in `words` (case-insensitive), keeping the rest of the text as it was."""
    return re.sub(r"\s{2,}", " ", _WORD.sub(lambda m: "" if m.group(0).lower() in words else m.group(0), text)).strip()
