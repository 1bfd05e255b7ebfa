"""The passes of batch-invariant greedy decoding (generation.py says why and how it is invariant).

A prompt is (ids, split): `split` > 0 is the length of its earlier chat turns (prompts.py's
turn_prefix), computed in a pass of their own that the run remembers (RunMemo's states), so
prompts that share those turns (few-shot demonstrations, a system prompt) compute them once per
run. A prompt's own pass: its earlier turns' state from the memo, then its remaining tokens,
alone, unpadded. Its one-token passes then run in one of DECODE_ROWS slots (rows.py): a slot
freed by a finished prompt takes the next waiting one.
"""
from __future__ import annotations

import copy
import inspect
from collections import deque
from typing import Callable

import torch

from fairfight.evaluator.model_side import rows as row_passes
from fairfight.evaluator.model_side.edits import decoding_phase
from fairfight.evaluator.model_side.run_memo import RunMemo

# Part of the numbers: a change needs a new run-key version (orchestration/runkey.py)
DECODE_ROWS = 8  # rows of every one-token pass


def decode(model, prompts: list[list[int]], max_new_tokens: int, device, stop: set[int],
           before_each: Callable[[], None] = lambda: None, logits: list | None = None,
           splits: list[int] | None = None, memo: RunMemo | None = None,
           edits_key: bytes = b"") -> list[list[int]]:
    """Greedy decoding of any number of prompts with the key-value cache: each prompt's new tokens.
    Each prompt's own pass runs alone, after its earlier turns (`splits`: from `memo` under
    `edits_key`, or computed and remembered there); its one-token passes run in a slot of
    DECODE_ROWS-row passes (a model rows.py does not serve decodes each prompt alone), each pass
    inside its decoding phase (an AddVector at positions "prompt_last" or "generated" acts in the
    passes it names: edits.py). A prompt stops after a stop token (kept, as transformers' generate
    keeps it) or `max_new_tokens`. `logits`, a list: filled with each prompt's logits of every step
    (the tests compare them bit for bit)."""
    name, keep = _cache_name(model), _keep(model)  # signatures read once, not per pass
    splits = splits or [0] * len(prompts)
    memo = memo if memo is not None else RunMemo()
    found: list[list] = [[] for _ in prompts]
    outs: list[list[int]] = [[] for _ in prompts]
    waiting = deque(range(len(prompts)))
    slots = row_passes.Slots(DECODE_ROWS) if row_passes.serves(model) else None

    def take(i: int, token: int, row_logits) -> bool:
        """Record a prompt's next token: whether it goes on."""
        outs[i].append(token)
        if logits is not None:
            found[i].append(row_logits.float().cpu())
        return token not in stop and len(outs[i]) < max_new_tokens

    while waiting or (slots is not None and slots.live()):
        while waiting and (slots is None or slots.free()):
            i = waiting.popleft()
            before_each()
            state, first = _own_pass(model, name, keep, prompts[i], splits[i], device, memo, edits_key)
            if not take(i, int(first.argmax()), first):
                continue
            if slots is None or not row_passes.can_hold(state):
                with decoding_phase("generated"):
                    _alone(model, name, state, outs[i][-1], len(prompts[i]), device,
                           lambda token, row_logits, i=i: take(i, token, row_logits))
            else:
                slots.put(i, state, len(prompts[i]), capacity=len(prompts[i]) + max_new_tokens)
        if slots is not None and slots.live():
            with decoding_phase("generated"):
                for i, row_logits in slots.step(model, name, device, [outs[i][-1] for i in slots.members()]):
                    if not take(i, int(row_logits.argmax()), row_logits):
                        slots.release(i)
    if logits is not None:
        logits.extend(found)
    return outs


def _own_pass(model, name, keep: dict, ids: list[int], split: int, device, memo: RunMemo, edits_key: bytes):
    """(the key-value cache after the prompt, the logits of its last token): alone, unpadded."""
    past = _turns_state(model, name, keep, ids[:split], device, memo, edits_key) if split else None
    with decoding_phase("prompt"):
        result = model(input_ids=torch.tensor([list(ids[split:])], device=device), use_cache=True,
                       position_ids=torch.arange(split, len(ids), device=device)[None], **keep,
                       **({name: past} if past is not None else {}))
    return getattr(result, name), result.logits[0, -1]


def _alone(model, name, past, token: int, position: int, device, go_on) -> None:
    """A prompt's one-token passes on one row, for a model or cache that rows.py does not serve
    (slower, just as invariant: nothing else is in its passes). `go_on(token, logits)`: whether to."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    while True:
        with sdpa_kernel(SDPBackend.MATH):
            result = model(input_ids=torch.tensor([[token]], device=device), use_cache=True,
                           position_ids=torch.tensor([[position]], device=device), **{name: past})
        past, position = getattr(result, name), position + 1
        token = int(result.logits[0, -1].argmax())
        if not go_on(token, result.logits[0, -1]):
            return


def _turns_state(model, name, keep: dict, head: list[int], device, memo: RunMemo, edits_key: bytes):
    """The key-value cache of a prompt's earlier turns (a copy: the caller's pass extends it)."""
    key = RunMemo.key("turns", edits_key, head)
    state = memo.get_state(model, key)
    if state is None:
        with decoding_phase("turns"):  # no prompt_last here: that is the whole prompt's last token
            result = model(input_ids=torch.tensor([head], device=device), use_cache=True, **keep)
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


__all__ = ["DECODE_ROWS", "decode"]
