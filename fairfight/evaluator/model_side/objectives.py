"""Declarative gradient objectives: what `gradients` differentiates, stated as data.

A callable objective is contender code; it runs only where the model is in the contender's own
process (the inline executor). Through the model server, `gradients` takes one of these:
- Sum(output, layer=None, dims=None, masked=False): the sum of a named output
  ("last_hidden_state", "hidden_states" at `layer`, or "logits" of a causal LM), optionally
  only over some hidden dimensions (or vocabulary entries for logits) and only over real tokens;
- ClassLogit(index): the logit of vocabulary entry `index` at each text's last real token
  (causal LMs);
- Direction(vector, layer=None): the dot product of the hidden states at `layer` (default: the
  last) with `vector`, summed over real tokens.
Each is also a callable on the outputs dict, so it behaves the same in-process.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from fairfight.errors import FairfightError

OUTPUTS = ("last_hidden_state", "hidden_states", "logits")


def _masked(t, outputs, masked):
    if not masked:
        return t
    return t * outputs["attention_mask"][..., None].to(t.dtype)


@dataclass(frozen=True)
class Sum:
    output: str = "last_hidden_state"
    layer: int | None = None
    dims: tuple[int, ...] | None = None
    masked: bool = False

    def __post_init__(self):
        if self.output not in OUTPUTS:
            raise FairfightError(f"Sum output must be one of {', '.join(OUTPUTS)}, got {self.output!r}")
        if (self.output == "hidden_states") != (self.layer is not None):
            raise FairfightError("Sum: a layer goes with output='hidden_states' (and only with it)")
        if self.dims is not None:
            object.__setattr__(self, "dims", tuple(int(d) for d in self.dims))

    def __call__(self, outputs) -> torch.Tensor:
        t = outputs["hidden_states"][int(self.layer)] if self.output == "hidden_states" else outputs[self.output]
        if self.dims is not None:
            t = t[..., list(self.dims)]
        return _masked(t, outputs, self.masked).sum()

    def to_dict(self) -> dict:
        return {"objective": "sum", "output": self.output, "layer": self.layer,
                "dims": None if self.dims is None else list(self.dims), "masked": self.masked}


@dataclass(frozen=True)
class ClassLogit:
    index: int

    def __call__(self, outputs) -> torch.Tensor:
        if "logits" not in outputs:
            raise FairfightError("ClassLogit needs a causal language model (logits)")
        last = outputs["attention_mask"].sum(1) - 1
        logits = outputs["logits"][torch.arange(len(last)), last]
        return logits[:, int(self.index)].sum()

    def to_dict(self) -> dict:
        return {"objective": "class_logit", "index": int(self.index)}


@dataclass(frozen=True)
class Direction:
    vector: tuple[float, ...]
    layer: int | None = None

    def __post_init__(self):
        v = self.vector.tolist() if hasattr(self.vector, "tolist") else list(self.vector)
        object.__setattr__(self, "vector", tuple(float(x) for x in v))

    def __call__(self, outputs) -> torch.Tensor:
        h = outputs["last_hidden_state"] if self.layer is None else outputs["hidden_states"][int(self.layer)]
        if len(self.vector) != h.shape[-1]:
            raise FairfightError(f"Direction has {len(self.vector)} values; the hidden size is {h.shape[-1]}")
        v = torch.tensor(self.vector, dtype=h.dtype, device=h.device)
        return _masked(h @ v, outputs, False).mul(outputs["attention_mask"].to(h.dtype)).sum()

    def to_dict(self) -> dict:
        return {"objective": "direction", "vector": list(self.vector), "layer": self.layer}


KINDS = {"sum": Sum, "class_logit": ClassLogit, "direction": Direction}
NAMES = "Sum(output, layer, dims, masked), ClassLogit(index), Direction(vector, layer)"


def objective_from_dict(d) -> object:
    if not isinstance(d, dict) or d.get("objective") not in KINDS:
        raise FairfightError(f"not a declarative gradients objective: {d!r} (use {NAMES} from fairfight.objectives)")
    fields = {k: v for k, v in d.items() if k != "objective"}
    try:
        return KINDS[d["objective"]](**fields)
    except TypeError as exc:
        raise FairfightError(f"bad {d['objective']} objective: {exc}") from None


def is_declarative(objective) -> bool:
    return isinstance(objective, tuple(KINDS.values()))


__all__ = ["Sum", "ClassLogit", "Direction", "objective_from_dict", "is_declarative", "NAMES"]
