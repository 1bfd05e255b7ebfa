"""Pooled forward passes: shared, resumed at the first edited layer, stopped after the last read.

How a pooled read of (texts, layers, pool, edits) is served (`pooled`):
- a sample of a whole split the worker was told about (evaluate.resample: each seed trains on
  its own sample): the sample's rows of the read over the whole split, so every seed shares it;
- plain (no edits): one entry per (texts, pool) holding every layer, so `embed` and
  `activations` at any layer share a single pass over the model (with a shared cache).
- edited, reading only at or below the edited layer L, with per-token affine edits
  (ProjectOut, Ablate, AddVector) and mean or last pooling: pooling commutes with such an
  edit, so the answer is the edit applied to the plain pooled states at L; no model run.
- otherwise edited: the plain token-level hidden states at L (one cached entry per texts and
  layer) are fed back in at L; only the blocks above L run, and the pass stops after the
  highest layer read. States larger than `max_states_bytes()` (2 GiB, or the environment's
  FAIRFIGHT_MAX_STATES_BYTES) are not kept: such a pass runs from the input. Edits at L that
  include an `AblateFeatures` are applied to the cached rows before they are fed in
  (`ResumedStates`); a TopK SAE's code of those rows is computed once and kept in the process
  (fairfight.sae.codes), so a later ablation on the same states, or one after `features()` of
  them, skips the SAE's dense encode. With no code kept, rarely active latents are screened
  (fairfight.sae.screen): tokens on which every chosen latent is provably 0 skip the dense
  encode, the rest are encoded; the result is the dense code's either way.
Every path gives the same numbers with or without a cache (up to float rounding), so cached
and uncached evals agree; tests/evaluator/model_side/test_passes.py checks each path against a full pass.
"""
from __future__ import annotations

import os
import weakref
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from fairfight.evaluator.model_side.edits import EDIT_TYPES, Ablate, AblateFeatures, AddVector, ProjectOut, apply_edits
from fairfight.evaluator.model_side.hooks import StopForward, install_edits, locate_layers, resolve_layer

AFFINE_EDITS = (ProjectOut, Ablate, AddVector)  # per-token affine maps: they commute with mean pooling
EDIT_CLASSES = tuple(EDIT_TYPES.values())  # fairfight's own edits: all per token


@dataclass(frozen=True)
class Runner:
    """What a model handle lends to the pass machinery: its model and its batching, no grants."""

    model: torch.nn.Module
    encode: Callable[[list[str]], dict]
    lengths: Callable[[list[str]], list[int]]
    each_batch: Callable[[list[int], Callable[[list[int]], None]], None]  # devices.BatchSizer.each: backs off on OOM
    check_time: Callable[[], None]
    pool: Callable
    num_layers: int
    hidden_size: int
    forward_kwargs: dict


class Uncached:
    """Stands in for the shared cache when there is none: computes, keeps nothing."""

    shared = False

    def pooled(self, texts, pool, edits, layers, compute):
        return compute()

    def plain(self, texts, pool, layers, compute):
        return compute(texts)

    def states(self, texts, layer, compute):
        return compute()

    def stored_sae(self, texts, layer, params):
        return None

    def sae(self, texts, layer, params, compute):
        return compute(), False


def pooled(runner: Runner, cache, texts, layers, pool, edits) -> dict:
    """resolved layer -> [len(texts), hidden] float32 tensor (see the module docstring)."""
    cache = cache or Uncached()
    layers = sorted(set(layers))
    if not texts:
        return {r: torch.zeros((0, runner.hidden_size)) for r in layers}
    universe = cache.universe_for(texts) if cache.shared else None
    if universe is not None:  # a seed's resample of a split: its rows of one pass over the whole split
        full = pooled(runner, cache, universe, layers, pool, edits)
        where = {t: i for i, t in enumerate(universe)}
        rows = torch.tensor([where[t] for t in texts], dtype=torch.long)
        return {r: full[r][rows] for r in full}
    if not edits:
        return _plain(runner, cache, texts, layers, pool)
    first = min(_layer(e, runner) for e in edits)
    out = _plain(runner, cache, texts, [r for r in layers if r < first], pool)  # below every edit
    high = [r for r in layers if r >= first]
    if not high:
        return out
    if high == [first] and _commutes(edits, first, runner, pool):
        base = _plain(runner, cache, texts, [first], pool)[first]
        out[first] = apply_edits(base, edits).float()
        return out
    # Resume (skip the blocks below the first edit) when the states are small enough to keep.
    # They are fetched before the edited entry is locked: a pass computing under the machine's
    # pass lock must never wait for another entry's lock.
    resume = None
    if first >= 1 and _states_fit(runner, texts):
        resume = (first, *cache.states(texts, first, lambda: token_states(runner, texts, first)))
    out.update(cache.pooled(texts, pool, edits, high, lambda: run(runner, texts, high, pool, edits, resume=resume)))
    return out


def plain_token_states(runner: Runner, cache, texts, layer) -> tuple:
    """Plain token-level states at `layer` (flat, offsets): the shared cache's entry where kept."""
    if _states_fit(runner, texts):
        return (cache or Uncached()).states(texts, layer, lambda: token_states(runner, texts, layer))
    return token_states(runner, texts, layer)


def max_states_bytes() -> int:
    """Token-level states bigger than this are not kept: the edited pass then runs from the input."""
    return int(float(os.environ.get("FAIRFIGHT_MAX_STATES_BYTES", 2 * 1024 ** 3)))


def _states_fit(runner, texts) -> bool:
    return sum(runner.lengths(texts)) * runner.hidden_size * 4 <= max_states_bytes()


def _plain(runner, cache, texts, layers, pool) -> dict:
    if not layers:
        return {}
    if not cache.shared:
        return run(runner, texts, layers, pool, ())
    everything = list(range(runner.num_layers + 1))  # one shared pass serves every later read
    full = cache.plain(texts, pool, everything, lambda todo: run(runner, todo, everything, pool, ()))
    return {r: full[r] for r in layers}


def _layer(edit, runner) -> int:
    return resolve_layer(edit.layer, runner.num_layers)


def _commutes(edits, layer, runner, pool) -> bool:
    return pool in ("mean", "last") and all(isinstance(e, AFFINE_EDITS) and _layer(e, runner) == layer
                                            for e in edits)


# -- running the model -------------------------------------------------------------------------
def run(runner: Runner, texts, layers, pool, edits, *, resume=None) -> dict:
    """Pooled states at `layers` over length-sorted batches; stops after the highest layer.

    resume=(layer, flat, offsets): token-level states at `layer` (from `token_states`) are fed
    in there and the blocks below it are skipped. Where the edits at that layer include an
    `AblateFeatures`, they are applied to the cached tokens' rows before they are fed in (see
    `ResumedStates`) rather than in a hook.
    """
    rows: dict[int, list] = {r: [None] * len(texts) for r in layers}
    lengths = runner.lengths(texts)
    skip = _skipping(runner, resume[0]) if resume else nullcontext()
    feed = None
    if resume:
        at = [e for e in edits if _layer(e, runner) == resume[0]]
        if at and all(isinstance(e, EDIT_CLASSES) for e in at) and any(isinstance(e, AblateFeatures) for e in at):
            edits = [e for e in edits if _layer(e, runner) != resume[0]]
        else:
            at = []
        feed = ResumedStates(resume[1], resume[2], at)

    def step(batch):
        runner.check_time()
        enc = runner.encode([texts[i] for i in batch])
        cap: dict = {}
        inject = {resume[0]: feed.padded(batch, enc)} if resume else None
        _forward(runner, enc, edits, cap, layers, inject)
        for r in layers:
            pooled_rows = runner.pool(cap[r], enc["attention_mask"], pool)
            for row, i in enumerate(batch):
                rows[r][i] = pooled_rows[row].detach().float().cpu()

    with torch.no_grad(), skip:
        runner.each_batch(lengths, step)
    return {r: torch.stack(v) for r, v in rows.items()}


def token_states(runner: Runner, texts, layer) -> tuple[np.ndarray, np.ndarray]:
    """Plain token-level states at `layer`: (flat [total tokens, hidden] float32, offsets [n+1])."""
    lengths = runner.lengths(texts)
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum(lengths)
    flat = np.zeros((int(offsets[-1]), runner.hidden_size), dtype=np.float32)

    def step(batch):
        runner.check_time()
        enc = runner.encode([texts[i] for i in batch])
        cap: dict = {}
        _forward(runner, enc, (), cap, [layer], None)
        h = cap[layer].detach().float().cpu().numpy()
        for row, i in enumerate(batch):
            flat[offsets[i]:offsets[i + 1]] = h[row, : lengths[i]]

    with torch.no_grad():
        runner.each_batch(lengths, step)
    return flat, offsets


def _forward(runner, enc, edits, cap, layers, inject) -> None:
    stop = max(layers)
    with install_edits(runner.model, edits, capture=cap, capture_layers=layers, inject=inject,
                       stop_after=stop if stop < runner.num_layers else None):
        try:
            runner.model.base_model(**enc, **runner.forward_kwargs)
        except StopForward:
            pass


class ResumedStates:
    """The cached token states at the resumed layer, served one batch at a time, right-padded with
    zeros to the batch's width, with `edits` (all per-token, at that layer) applied to the
    texts' real tokens first. An `AblateFeatures` of a TopK SAE that comes first reads the
    chosen latents off the states' TopK code where one is kept (fairfight.sae.codes); else it
    screens them (fairfight.sae.screen: tokens where every chosen latent is provably 0 skip the
    dense encode) where that pays, or computes the code over all the states and keeps it."""

    def __init__(self, flat, offsets, edits=()):
        self.flat, self.offsets, self.edits, self.code, self.chosen = flat, offsets, list(edits), None, None
        if self.edits and isinstance(self.edits[0], AblateFeatures) and self.edits[0].uses_codes():
            from fairfight.sae.codes import kept_code, states_digest, topk_codes
            from fairfight.sae.screen import screened_latents

            sae, digest = self.edits[0]._sae(), states_digest(flat)
            self.code = kept_code(sae, digest)
            if self.code is None:
                self.chosen = screened_latents(sae, flat, self.edits[0].features)
            if self.code is None and self.chosen is None:
                self.code = topk_codes(sae, flat, digest)

    def padded(self, batch, enc) -> torch.Tensor:
        mask = enc["attention_mask"]
        spans = [(int(self.offsets[i]), int(self.offsets[i + 1])) for i in batch]
        for row, (a, b) in enumerate(spans):
            if b - a != int(mask[row].sum()):
                raise RuntimeError("cached token states do not match the tokenization (was the cache reused "
                                   "across tokenizers?)")
        # a copy: the cache is read-only
        x = torch.from_numpy(np.concatenate([np.asarray(self.flat[a:b], dtype=np.float32) for a, b in spans]))
        if self.edits:
            rest = self.edits
            where = torch.from_numpy(np.concatenate([np.arange(a, b) for a, b in spans]))
            if self.code is not None:
                x = self.edits[0].apply_coded(x, self.code[0][where], self.code[1][where])
                rest = self.edits[1:]
            elif self.chosen is not None:
                x = self.edits[0].apply_chosen(x, self.chosen[where])
                rest = self.edits[1:]
            x = apply_edits(x, rest).float()
        out = torch.zeros((len(batch), mask.shape[1], x.shape[1]), dtype=torch.float32)
        start = 0
        for row, (a, b) in enumerate(spans):
            out[row, : b - a] = x[start:start + b - a]
            start += b - a
        return out.to(mask.device)


# -- skipping the blocks below a resumed layer ----------------------------------------------------
_RETURNS_TENSOR: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


@contextmanager
def _skipping(runner: Runner, layer: int):
    """Blocks below `layer` pass their input through (their output is replaced at `layer` anyway)."""
    blocks, _ = locate_layers(runner.model)
    as_tensor = _block_returns_tensor(runner, blocks)

    def passthrough(*args, **kwargs):
        h = args[0] if args else kwargs["hidden_states"]
        return h if as_tensor else (h,)

    skipped = list(blocks)[: min(layer, len(blocks))]
    saved = [b.__dict__.get("forward") for b in skipped]
    for b in skipped:
        b.forward = passthrough  # an instance attribute shadows the class's forward
    try:
        yield
    finally:
        for b, old in zip(skipped, saved):
            if old is None:
                del b.forward
            else:
                b.forward = old


def _block_returns_tensor(runner: Runner, blocks) -> bool:
    """Whether this architecture's blocks return a tensor or a tuple: seen once on a one-word input."""
    model = runner.model
    if model not in _RETURNS_TENSOR:
        seen = {}

        def look(module, args, out):
            seen["tensor"] = isinstance(out, torch.Tensor)  # returns None: the output is left alone

        handle = blocks[0].register_forward_hook(look)
        try:
            with torch.no_grad():
                runner.model.base_model(**runner.encode(["a"]), **runner.forward_kwargs)
        finally:
            handle.remove()
        _RETURNS_TENSOR[model] = seen.get("tensor", True)
    return _RETURNS_TENSOR[model]


__all__ = ["Runner", "Uncached", "pooled", "run", "token_states", "plain_token_states", "ResumedStates",
           "AFFINE_EDITS"]
