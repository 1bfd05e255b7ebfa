"""The linear head `ModelHandle.finetune` trains, as both sides of the trust boundary hold it.

The model side builds it from the trained layer; the contender side rebuilds it from `state()`
(its own numbers, trained on the contender's data: nothing privileged), importing this small
module as it imports wire.py and edits.py, not the model handle.
"""
from __future__ import annotations

import torch
from torch import nn


class ClassifierHead:
    """The linear head trained by `finetune`, applied to `embed` outputs of the tuned handle."""

    def __init__(self, linear: nn.Linear, classes):
        self.__linear = linear
        self.classes = tuple(classes)

    def logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.__linear(embeddings.to(self.__linear.weight.dtype))

    def predict_proba(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.logits(embeddings).softmax(-1)

    def predict(self, embeddings: torch.Tensor) -> list:
        return [self.classes[i] for i in self.logits(embeddings).argmax(-1).tolist()]

    def state(self) -> dict:
        """The head's own numbers (trained on the contender's data), to rebuild it on the contender side."""
        return {"weight": self.__linear.weight.detach().clone(), "bias": self.__linear.bias.detach().clone(),
                "classes": list(self.classes)}

    @classmethod
    def from_state(cls, state: dict) -> "ClassifierHead":
        weight = torch.as_tensor(state["weight"])
        linear = nn.Linear(weight.shape[1], weight.shape[0]).requires_grad_(False)
        with torch.no_grad():
            linear.weight.copy_(weight)
            linear.bias.copy_(torch.as_tensor(state["bias"]))
        return cls(linear.eval(), state["classes"])


__all__ = ["ClassifierHead"]
