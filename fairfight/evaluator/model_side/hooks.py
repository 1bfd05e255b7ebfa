"""Hooks that run a transformers model with declarative edits (edits.py) applied to its hidden
states, capture hidden states at chosen layers, start a pass from given states, or stop it early.

Layer numbering is edits.py's: 0 is the embedding output, n the model's last hidden state.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

from fairfight.errors import FairfightError
from fairfight.evaluator.model_side.edits import apply_edits


# -- finding the layers of a model --------------------------------------------------------
_BLOCK_PATHS = ("encoder.layer", "h", "layers", "transformer.h", "transformer.layer", "gpt_neox.layers",
                "model.layers", "decoder.layers", "encoder.layers", "transformer.layers", "block", "blocks")


def _get_path(obj, path: str):
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def locate_layers(model: nn.Module) -> tuple[nn.ModuleList, nn.Module]:
    """(the list of transformer blocks, the base model whose output is `last_hidden_state`)."""
    base = getattr(model, "base_model", model)
    n = getattr(model.config, "num_hidden_layers", None)
    for root in (base, model):
        for path in _BLOCK_PATHS:
            blocks = _get_path(root, path)
            if isinstance(blocks, nn.ModuleList) and len(blocks) and (n is None or len(blocks) == n):
                return blocks, base
    for _, mod in base.named_modules():  # unknown layout: the first block list of the right length
        if isinstance(mod, nn.ModuleList) and n and len(mod) == n:
            return mod, base
    raise FairfightError(f"cannot find the transformer blocks of {type(model).__name__}")


def resolve_layer(layer: int, num_layers: int) -> int:
    idx = layer + num_layers + 1 if layer < 0 else layer
    if not 0 <= idx <= num_layers:
        raise FairfightError(f"layer {layer} is out of range: this model has layers 0..{num_layers} "
                             f"(0 = embeddings, {num_layers} = last)")
    return idx


class StopForward(Exception):
    """Raised by a hook once the last layer anyone reads is captured: the rest is not computed."""


@contextmanager
def install_edits(model: nn.Module, edits=(), *, capture: dict | None = None, capture_layers=(), inject=None,
                  stop_after: int | None = None):
    """Hook `model` so every forward pass applies `edits`; optionally record hidden states.

    Recording happens in the same hook, after the edit, so what is captured is exactly what
    the rest of the network consumes (and gradients taken w.r.t. it are the true ones).
    `inject` ({layer: states}) replaces the hidden states at a layer before its edits (how a
    pass resumes from cached states); `stop_after` raises StopForward once that layer is done.
    """
    blocks, base = locate_layers(model)
    n = len(blocks)
    by_layer: dict[int, list] = {}
    for e in edits:
        by_layer.setdefault(resolve_layer(e.layer, n), []).append(e)
    wanted = {resolve_layer(i, n) for i in capture_layers} if capture is not None else set()
    inject = {resolve_layer(k, n): v for k, v in (inject or {}).items()}
    stop = resolve_layer(stop_after, n) if stop_after is not None else None

    def process(layer, h):
        if layer in inject:
            h = inject[layer].to(h.dtype)
        if layer in by_layer:
            h = apply_edits(h, by_layer[layer])
        if layer in wanted:
            capture[layer] = h
        if layer == stop and stop < n:
            raise StopForward
        return h

    def pre_hook(module, args, kwargs):  # layer 0 = the input of the first block
        if args:
            h = process(0, args[0])
            return (h, *args[1:]), kwargs
        return args, {**kwargs, "hidden_states": process(0, kwargs["hidden_states"])}

    def make_post(layer):
        def post_hook(module, args, output):
            if isinstance(output, torch.Tensor):
                return process(layer, output)
            if isinstance(output, tuple):
                return (process(layer, output[0]), *output[1:])
            output.last_hidden_state = process(layer, output.last_hidden_state)  # a ModelOutput
            return output
        return post_hook

    handles = []
    try:
        for layer in sorted(set(by_layer) | wanted | set(inject) | ({stop} if stop is not None else set())):
            if layer == 0:
                handles.append(blocks[0].register_forward_pre_hook(pre_hook, with_kwargs=True))
            elif layer < n:
                handles.append(blocks[layer - 1].register_forward_hook(make_post(layer)))
            else:
                handles.append(base.register_forward_hook(make_post(layer)))
        yield capture
    finally:
        for hd in handles:
            hd.remove()


class InputCapture:
    """Hook the input embeddings so gradients w.r.t. them can be taken (and exist even if frozen)."""

    def __init__(self, model, cap):
        self.module, self.cap = model.get_input_embeddings(), cap

    def __enter__(self):
        def hook(module, args, output):
            self.cap["inputs"] = output.detach().requires_grad_(True)
            return self.cap["inputs"]
        self.handle = self.module.register_forward_hook(hook)

    def __exit__(self, *exc):
        self.handle.remove()


__all__ = ["install_edits", "StopForward", "locate_layers", "resolve_layer", "InputCapture"]
