"""The passes of batch-invariant greedy decoding (generation.py says why and how it is invariant).

A prompt is (ids, split): `split` > 0 is the length of its earlier chat turns (prompts.py's
turn_prefix), computed in a pass of their own that the run remembers (RunMemo's states), so
prompts that share those turns (few-shot demonstrations, a system prompt) compute them once per
run. A prompt's own pass: [its earlier turns from the memo] + pads (masked) + its remaining
tokens, `width(len(ids))` positions in all; positions count real tokens only.
"""
from __future__ import annotations

import copy
import inspect
from typing import Callable

import torch

from fairfight.evaluator.model_side.edits import decoding_phase
from fairfight.evaluator.model_side.run_memo import RunMemo

# Both part of the numbers: a change needs a new run-key version (orchestration/runkey.py)
DECODE_ROWS = 8  # rows of every one-token pass
PAD_TO = 8  # prompts are padded to a multiple of this many tokens (width())


def width(n: int) -> int:
    """The width a prompt of n tokens is padded to: a function of n alone, so that prompts of near
    lengths share passes, and at least one pad, so that no pass is ever without a mask
    (transformers drops an all-ones mask: another kernel path)."""
    return (n // PAD_TO + 1) * PAD_TO


def decode_rows(model, rows: list[list[int]], max_new_tokens: int, device, stop: set[int],
                before_each: Callable[[], None] = lambda: None, logits: list | None = None,
                pad: int = 0, splits: list[int] | None = None, memo: RunMemo | None = None,
                edits_key: bytes = b"") -> list[list[int]]:
    """Greedy decoding of prompts of one width (DECODE_ROWS at most) with the key-value cache:
    each prompt's new tokens. Each prompt's own pass runs alone, padded on the left to its width
    (masked; positions count its own tokens only), after its earlier turns (`splits`: from `memo`
    under `edits_key`, or computed and remembered there), then one pass per token on DECODE_ROWS rows,
    each inside its decoding phase (an AddVector at positions "prompt_last" or "generated" acts in
    the passes it names: edits.py). A prompt stops after a stop token (kept, as transformers'
    generate keeps it) or `max_new_tokens`. `logits`, a list: filled with each prompt's logits of
    every step (the tests compare them bit for bit)."""
    if len({width(len(r)) for r in rows}) != 1 or not 1 <= len(rows) <= DECODE_ROWS:
        raise ValueError(f"decode_rows takes 1 to {DECODE_ROWS} prompts of one width")
    name = _cache_name(model)
    keep = _keep(model)
    splits = splits or [0] * len(rows)
    memo = memo if memo is not None else RunMemo()
    caches, outs, masks = [], [], []
    for ids, split in zip(rows, splits):
        before_each()
        past = _turns_state(model, name, ids[:split], device, memo, edits_key) if split else None
        blank = width(len(ids)) - len(ids)
        mask = torch.tensor([[1] * split + [0] * blank + [1] * (len(ids) - split)], device=device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, split:]
        with decoding_phase("prompt"):
            result = model(input_ids=torch.tensor([[pad] * blank + list(ids[split:])], device=device),
                           attention_mask=mask, position_ids=positions, use_cache=True, **keep,
                           **({name: past} if past is not None else {}))
        caches.append(getattr(result, name))
        masks.append(mask)
        outs.append([int(result.logits[0, -1].argmax())])
        if logits is not None:
            logits.append([result.logits[0, -1].float().cpu()])
    if max_new_tokens == 1 or all(out[-1] in stop for out in outs):
        return outs  # no one-token pass to run: nothing to stack
    stacked = _stacked(caches, DECODE_ROWS)
    batches = ([(list(range(len(rows))), stacked, DECODE_ROWS)] if stacked is not None
               else [([i], cache, 1) for i, cache in enumerate(caches)])
    for members, past, count in batches:
        mask = torch.cat([masks[i] for i in members] + [masks[members[0]]] * (count - len(members)))
        _continue(model, name, past, mask, members, outs, max_new_tokens, device, stop, logits)
    return outs


def _continue(model, name, past, mask, members, outs, max_new_tokens, device, stop, logits) -> None:
    """The one-token passes of `members`, rows of `past` and `mask` in order (rows past the members
    copy the first)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    live = {i for i in members if outs[i][-1] not in stop}
    fill = mask.shape[0] - len(members)
    for _ in range(max_new_tokens - 1):
        if not live:
            return
        last = [outs[i][-1] for i in members]
        step = torch.tensor(last + last[:1] * fill, device=device)[:, None]
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=-1)
        with decoding_phase("generated"), sdpa_kernel(SDPBackend.MATH):
            result = model(input_ids=step, attention_mask=mask, position_ids=mask.sum(-1, keepdim=True) - 1,
                           use_cache=True, **{name: past})
        past = getattr(result, name)
        chosen = result.logits[:, -1].argmax(-1).tolist()  # a row's argmax: its own logits only
        for row, i in enumerate(members):
            if i in live:
                outs[i].append(chosen[row])
                if logits is not None:
                    logits[i].append(result.logits[row, -1].float().cpu())
                if chosen[row] in stop:
                    live.discard(i)


def _turns_state(model, name, head: list[int], device, memo: RunMemo, edits_key: bytes):
    """The key-value cache of a prompt's earlier turns (a copy: the caller's pass extends it)."""
    key = RunMemo.key("turns", edits_key, head)
    state = memo.get_state(model, key)
    if state is None:
        with decoding_phase("turns"):  # no prompt_last here: that is the whole prompt's last token
            result = model(input_ids=torch.tensor([head], device=device), use_cache=True, **_keep(model))
        state = getattr(result, name)
        memo.put_state(model, key, state, _cache_bytes(state))
    return copy.deepcopy(state)


def _keep(model) -> dict:
    return {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}


def _cache_bytes(cache) -> int:
    return sum(t.numel() * t.element_size() for t in _tensors(cache))


def _tensors(cache):
    layers = getattr(cache, "layers", None)
    if layers is not None:
        return [t for layer in layers for t in (getattr(layer, "keys", None), getattr(layer, "values", None))
                if torch.is_tensor(t)]
    if hasattr(cache, "key_cache"):
        return list(cache.key_cache) + list(cache.value_cache)
    return [t for kv in cache for t in kv if torch.is_tensor(t)] if isinstance(cache, tuple) else []


def _cache_name(model) -> str:
    # transformers 5 names the key-value cache `cache` (`past_key_values` is deprecated); 4.x only knows
    # the latter, and would take an unknown `cache` keyword silently: ask the signature
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _stacked(caches: list, rows: int):
    """One cache of `rows` rows from caches of one prompt each, of one length (rows past theirs copy
    the first), or None for a cache this does not know how to stack."""
    picks = caches + caches[:1] * (rows - len(caches))
    first = caches[0]
    layers = getattr(first, "layers", None)
    if layers is not None:  # transformers 5: a Cache of layers
        if not all(type(layer).__name__ in ("DynamicLayer", "DynamicSlidingWindowLayer") for layer in layers):
            return None
        for i, layer in enumerate(layers):
            layer.keys = torch.cat([c.layers[i].keys for c in picks])
            layer.values = torch.cat([c.layers[i].values for c in picks])
        return first
    if hasattr(first, "key_cache") and hasattr(first, "value_cache"):  # transformers 4: DynamicCache
        for i in range(len(first.key_cache)):
            first.key_cache[i] = torch.cat([c.key_cache[i] for c in picks])
            first.value_cache[i] = torch.cat([c.value_cache[i] for c in picks])
        return first
    if isinstance(first, tuple) and all(isinstance(kv, tuple) and len(kv) == 2 for kv in first):  # legacy tuples
        return tuple((torch.cat([c[i][0] for c in picks]), torch.cat([c[i][1] for c in picks]))
                     for i in range(len(first)))
    return None


__all__ = ["DECODE_ROWS", "PAD_TO", "decode_rows", "width"]
