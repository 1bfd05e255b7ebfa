"""Greedy generation that gives a prompt the same text whatever else is asked with it.

Batched generation pads prompts to one width (on the left): the padded positions are masked,
but the matrix shapes change with the batch's composition, and with them the order of float
additions in the kernels. Greedy decoding turns a last-bit difference into a different token
now and then, and the batch check (a sample re-predicted in another composition) would then
flag an honest contender. So each distinct prompt is decoded on its own, unpadded: its
computation involves no other prompt at all. The cost against batching is measured in
benchmarks/generation_batching.py.
"""
from __future__ import annotations

import inspect
from typing import Callable

import torch

from fairfight.errors import FairfightError
from fairfight.evaluator.model_side.edits import decoding_phase
from fairfight.evaluator.model_side.run_memo import RunMemo

MAX_NEW_TOKENS = 1024  # per prompt and call: a bound on what one request can make the server compute


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
    edits installed) not again. `before_each` runs before each prompt decoded (the ledger's
    wall-time check)."""
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    done: dict[tuple, str] = {}
    memo = memo if memo is not None else RunMemo()  # a call's own: equal prompts decoded once
    edits_key = RunMemo.edits_key(edits)
    for i, ids in enumerate(prompt_ids):
        key = tuple(ids)
        if key in done:
            continue
        memo_key = RunMemo.key("generate", edits_key, key, max_new_tokens)
        known = memo.get(model, memo_key)
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
        before_each()
        new = _decode_one(model, ids, max_new_tokens, device, _stop_ids(model, tokenizer))
        done[key] = tokenizer.decode(new, skip_special_tokens=True)
        memo.put(model, memo_key, done[key])
    return [done[tuple(ids)] for ids in prompt_ids]


def _stop_ids(model, tokenizer) -> set[int]:
    """The tokens that end a generation: the generation config's eos ids and the tokenizer's."""
    config = getattr(model, "generation_config", None)
    eos = getattr(config, "eos_token_id", None)
    ids = set(eos if isinstance(eos, (list, tuple)) else [eos] if eos is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


def _decode_one(model, ids: list[int], max_new_tokens: int, device, stop: set[int]) -> list[int]:
    """Greedy decoding of one unpadded prompt with the key-value cache: the prompt's pass, then one
    pass per generated token, each inside its decoding phase (an AddVector at positions
    "prompt_last" or "generated" acts in the passes it names: edits.py). Stops after a stop token
    (which is kept, as transformers' generate keeps it) or `max_new_tokens`."""
    # transformers 5 names the key-value cache `cache` (`past_key_values` is deprecated); 4.x only knows
    # the latter, and would take an unknown `cache` keyword silently: ask the signature
    name = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    out, past, phase = [], None, "prompt"
    step = torch.tensor([ids], device=device)
    for _ in range(max_new_tokens):
        with decoding_phase(phase):
            result = model(input_ids=step, use_cache=True, **{name: past})
        past, phase = getattr(result, name), "generated"
        token = int(result.logits[0, -1].argmax())
        out.append(token)
        if token in stop:
            break
        step = torch.tensor([[token]], device=device)
    return out


__all__ = ["MAX_NEW_TOKENS", "check_max_new_tokens", "greedy"]
