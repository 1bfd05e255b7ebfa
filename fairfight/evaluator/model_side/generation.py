"""Greedy generation that gives a prompt the same text whatever else is asked with it.

Batched generation pads prompts to one width (on the left): the padded positions are masked,
but the matrix shapes change with the batch's composition, and with them the order of float
additions in the kernels. Greedy decoding turns a last-bit difference into a different token
now and then, and the batch check (a sample re-predicted in another composition) would then
flag an honest contender. So no computation of a prompt ever depends on the batch it came in:

- each distinct prompt's own pass runs alone, unpadded (decoding.py);
- the passes that generate one token each run on exactly DECODE_ROWS rows, always: a row per
  prompt being decoded, and a slot freed by a finished prompt takes the next one (rows that hold
  no prompt compute a dummy token). A row's numbers then depend on nothing but its own tokens,
  provided each kernel computes a row the same way whatever the other rows hold and wherever the
  row sits: measured true of the matrix products at a fixed shape (tests/evaluator/model_side/
  test_decode_rows.py compares logits bit for bit), not across row counts (a one-row product
  takes another kernel), hence the fixed count. Attention, the one step that mixes positions, is
  computed for each row alone over its own keys (rows.py), so rows of any lengths share a pass.
  A model whose attention rows.py does not know decodes each prompt alone: slower, just as
  invariant.
- a chat prompt's earlier turns (few-shot demonstrations, a system turn: prompts.turn_prefix, a
  function of the prompt alone) are a pass of their own before the rest of its own pass, which
  the run remembers: prompts that share them compute them once per run (decoding.py).
"""
from __future__ import annotations

from typing import Callable

from fairfight.errors import FairfightError
from fairfight.evaluator.model_side.decoding import DECODE_ROWS, decode
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
           memo: RunMemo | None = None, edits=(), splits: list[int] | None = None) -> list[str]:
    """The new text of each prompt (token ids), greedy, special tokens removed; equal prompts are
    decoded once, and a prompt in `memo` (decoded before under the same model and `edits`, the
    edits installed) not again. `splits`: each prompt's earlier turns' length (0: none;
    prompts.turn_prefix), computed once per run. `before_each` runs before each prompt's own pass
    (the ledger's wall-time check)."""
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    splits = list(splits) if splits is not None else [0] * len(prompt_ids)
    done: dict[tuple, str] = {}
    memo = memo if memo is not None else RunMemo()  # a call's own: equal prompts decoded once
    edits_key = RunMemo.edits_key(edits)
    todo: dict[tuple, tuple[list[int], int]] = {}
    for i, (ids, split) in enumerate(zip(prompt_ids, splits)):
        key = (tuple(ids), split)
        if key in done or key in todo:
            continue
        known = memo.get(model, _memo_key(edits_key, key, max_new_tokens))
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
        todo[key] = (ids, split if 0 < split < len(ids) else 0)
    stop = _stop_ids(model, tokenizer)
    keys = list(todo)
    news = decode(model, [todo[k][0] for k in keys], max_new_tokens, device, stop, before_each,
                  splits=[todo[k][1] for k in keys], memo=memo, edits_key=edits_key)
    for key, new in zip(keys, news):
        done[key] = tokenizer.decode(new, skip_special_tokens=True)
        memo.put(model, _memo_key(edits_key, key, max_new_tokens), done[key])
    return [done[(tuple(ids), split)] for ids, split in zip(prompt_ids, splits)]


def _memo_key(edits_key: bytes, key: tuple, max_new_tokens: int) -> bytes:
    return RunMemo.key("generate", edits_key, key[0], max_new_tokens, key[1])


def _stop_ids(model, tokenizer) -> set[int]:
    """The tokens that end a generation: the generation config's eos ids and the tokenizer's."""
    config = getattr(model, "generation_config", None)
    eos = getattr(config, "eos_token_id", None)
    ids = set(eos if isinstance(eos, (list, tuple)) else [eos] if eos is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


__all__ = ["DECODE_ROWS", "MAX_NEW_TOKENS", "check_max_new_tokens", "decode", "greedy"]
