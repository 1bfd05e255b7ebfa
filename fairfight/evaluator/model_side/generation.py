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

from typing import Callable

import torch

from fairfight.errors import FairfightError

MAX_NEW_TOKENS = 1024  # per prompt and call: a bound on what one request can make the server compute


def check_max_new_tokens(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FairfightError(f"max_new_tokens must be an integer, got {type(value).__name__}")
    if not 1 <= value <= MAX_NEW_TOKENS:
        raise FairfightError(f"max_new_tokens must be between 1 and {MAX_NEW_TOKENS}, got {value}")
    return value


def greedy(model, tokenizer, prompt_ids: list[list[int]], max_new_tokens: int, *, device,
           max_len: int | None = None, before_each: Callable[[], None] = lambda: None) -> list[str]:
    """The new text of each prompt (token ids), greedy, special tokens removed; equal prompts are
    decoded once. `before_each` runs before each distinct prompt (the ledger's wall-time check)."""
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    done: dict[tuple, str] = {}
    for i, ids in enumerate(prompt_ids):
        key = tuple(ids)
        if key in done:
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
        input_ids = torch.tensor([ids], device=device)
        out = model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                             max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                             pad_token_id=tokenizer.pad_token_id)
        done[key] = tokenizer.decode(out[0, len(ids):], skip_special_tokens=True)
    return [done[tuple(ids)] for ids in prompt_ids]


__all__ = ["MAX_NEW_TOKENS", "check_max_new_tokens", "greedy"]
