"""Greedy generation that gives a prompt the same text whatever else is asked with it.

Batched generation pads prompts to one width (on the left): the padded positions are masked,
but the matrix shapes change with the batch's composition, and with them the order of float
additions in the kernels. Greedy decoding turns a last-bit difference into a different token
now and then, and the batch check (a sample re-predicted in another composition) would then
flag an honest contender. So no computation of a prompt ever depends on the batch it came in:

- each distinct prompt's own pass runs alone, padded on the left (masked) to a width that is a
  function of its length alone (width()), so that prompts of near lengths can share what follows;
- the passes that generate one token each run on exactly DECODE_ROWS rows, always: prompts of
  one width share them, and rows no prompt fills copy the first. A row's numbers then depend on
  nothing but its own tokens, provided each kernel computes a row the same way whatever the
  other rows hold and wherever the row sits. Measured (tests/evaluator/model_side/
  test_decode_rows.py compares logits bit for bit): true of the matrix products at a fixed
  shape, and of PyTorch's "math" attention; not of its fused CPU attention kernel, whose result
  for a row depends on which thread computed it (rows in the second half of the batch differ in
  the last bits on 2 threads), so these passes run with the math attention. Not true across row
  counts (a one-row product takes another kernel), hence the fixed count. A model whose
  key-value cache cannot be stacked (not a dynamic cache of key and value tensors) decodes each
  prompt alone: slower, just as invariant.
"""
from __future__ import annotations

import inspect
from typing import Callable

import torch

from fairfight.errors import FairfightError
from fairfight.evaluator.model_side.edits import decoding_phase
from fairfight.evaluator.model_side.run_memo import RunMemo

MAX_NEW_TOKENS = 1024  # per prompt and call: a bound on what one request can make the server compute
# Both part of the numbers: a change needs a new run-key version (orchestration/runkey.py)
DECODE_ROWS = 8  # rows of every one-token pass
PAD_TO = 8  # prompts are padded to a multiple of this many tokens (width())


def check_max_new_tokens(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FairfightError(f"max_new_tokens must be an integer, got {type(value).__name__}")
    if not 1 <= value <= MAX_NEW_TOKENS:
        raise FairfightError(f"max_new_tokens must be between 1 and {MAX_NEW_TOKENS}, got {value}")
    return value


def greedy(model, tokenizer, prompt_ids: list[list[int]], max_new_tokens: int, *, device,
           max_len: int | None = None, before_each: Callable[[], None] = lambda: None,
           memo: RunMemo | None = None, edits=()) -> list[str]:
    """The new text of each prompt (token ids), greedy, special tokens removed; equal prompts are
    decoded once, and a prompt in `memo` (decoded before under the same model and `edits`, the
    edits installed) not again. `before_each` runs before each prompt's own pass (the ledger's
    wall-time check)."""
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    done: dict[tuple, str] = {}
    memo = memo if memo is not None else RunMemo()  # a call's own: equal prompts decoded once
    edits_key = RunMemo.edits_key(edits)
    todo: dict[tuple, list[int]] = {}
    for i, ids in enumerate(prompt_ids):
        key = tuple(ids)
        if key in done or key in todo:
            continue
        known = memo.get(model, RunMemo.key("generate", edits_key, key, max_new_tokens))
        if known is not None:
            done[key] = known
            continue
        ids = list(ids)
        if not ids:
            if start is None:
                raise FairfightError("an empty prompt needs a bos or eos token to condition on")
            ids = [start]
        if max_len is not None and len(ids) + max_new_tokens > max_len:
            raise FairfightError(f"prompt {i} has {len(ids)} tokens: with max_new_tokens={max_new_tokens} it "
                                 f"exceeds the model's context of {max_len} tokens")
        todo[key] = ids
    stop = _stop_ids(model, tokenizer)
    pad = next((t for t in (tokenizer.pad_token_id, tokenizer.eos_token_id) if t is not None), 0)  # masked
    for keys in _groups(todo):
        news = decode_rows(model, [todo[k] for k in keys], max_new_tokens, device, stop, before_each, pad=pad)
        for key, new in zip(keys, news):
            done[key] = tokenizer.decode(new, skip_special_tokens=True)
            memo.put(model, RunMemo.key("generate", edits_key, key, max_new_tokens), done[key])
    return [done[tuple(ids)] for ids in prompt_ids]


def width(n: int) -> int:
    """The width a prompt of n tokens is padded to (on the left, masked): a function of n alone, so
    that prompts of near lengths share passes, and at least one pad, so that no pass is ever
    without a mask (transformers drops an all-ones mask: another kernel path)."""
    return (n // PAD_TO + 1) * PAD_TO


def _groups(todo: dict[tuple, list[int]]) -> list[list[tuple]]:
    """The prompts to decode together: of one width, DECODE_ROWS at most, in the order asked."""
    by_width: dict[int, list[tuple]] = {}
    for key, ids in todo.items():
        by_width.setdefault(width(len(ids)), []).append(key)
    return [keys[i: i + DECODE_ROWS] for keys in by_width.values() for i in range(0, len(keys), DECODE_ROWS)]


def _stop_ids(model, tokenizer) -> set[int]:
    """The tokens that end a generation: the generation config's eos ids and the tokenizer's."""
    config = getattr(model, "generation_config", None)
    eos = getattr(config, "eos_token_id", None)
    ids = set(eos if isinstance(eos, (list, tuple)) else [eos] if eos is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


def decode_rows(model, rows: list[list[int]], max_new_tokens: int, device, stop: set[int],
                before_each: Callable[[], None] = lambda: None, logits: list | None = None,
                pad: int = 0) -> list[list[int]]:
    """Greedy decoding of prompts of one width (DECODE_ROWS at most) with the key-value cache:
    each prompt's new tokens. Each prompt's own pass runs alone, padded on the left to its width
    (masked; positions count its own tokens only), then one pass per token on DECODE_ROWS rows,
    each inside its decoding phase (an AddVector at positions "prompt_last" or "generated" acts in
    the passes it names: edits.py). A prompt stops after a stop token (kept, as transformers'
    generate keeps it) or `max_new_tokens`. `logits`, a list: filled with each prompt's logits of
    every step (the tests compare them bit for bit)."""
    if len({width(len(r)) for r in rows}) != 1 or not 1 <= len(rows) <= DECODE_ROWS:
        raise ValueError(f"decode_rows takes 1 to {DECODE_ROWS} prompts of one width")
    name = _cache_name(model)
    keep = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}
    caches, outs, masks = [], [], []
    for ids in rows:
        before_each()
        blank = width(len(ids)) - len(ids)
        mask = torch.tensor([[0] * blank + [1] * len(ids)], device=device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        with decoding_phase("prompt"):
            result = model(input_ids=torch.tensor([[pad] * blank + list(ids)], device=device), attention_mask=mask,
                           position_ids=positions, use_cache=True, **keep)
        caches.append(getattr(result, name))
        masks.append(mask)
        outs.append([int(result.logits[0, -1].argmax())])
        if logits is not None:
            logits.append([result.logits[0, -1].float().cpu()])
    stacked = _stacked(caches, DECODE_ROWS)
    batches = ([(list(range(len(rows))), stacked, DECODE_ROWS)] if stacked is not None
               else [([i], cache, 1) for i, cache in enumerate(caches)])
    for members, past, rows_ in batches:
        mask = torch.cat([masks[i] for i in members] + masks[members[0]:members[0] + 1] * (rows_ - len(members)))
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


__all__ = ["DECODE_ROWS", "MAX_NEW_TOKENS", "PAD_TO", "check_max_new_tokens", "decode_rows", "greedy", "width"]
