"""TopK codes of token-level states, computed once per (states, SAE) in this process.

Whether a TopK latent is active depends on every pre-activation, so ablating even one latent
needs the dense encode of every token ([tokens, d_in] x [d_in, d_sae], one addmm, then a top-k of
the pre-activations: SAE.codes): as much work as a few transformer blocks. (An edited read of
rarely active latents may instead prove them zero on most tokens and encode only the rest:
screen.py. Proving a latent active without the encode is out of reach: the rigorous bounds a
low-rank approximation gives reach the k-th pre-activation for every latent; benchmarks/sae.py
prints the numbers.) But the code of a token (its k active latents and their values) does not
depend on which latents are ablated, so it is kept: `features()` of some texts at a layer,
then an `AblateFeatures` read of the same texts (SHIFT: read, pick, ablate), or a second
ablation with other latents (tuning), reuse it and pay only the rank-|features| update.

Exactness: the code is keyed by the sha256 of the states' bytes and the SAE's sha256, never by
what the states are said to be, so a hit is the code of exactly these numbers; and every code
(kept or not) is computed by `topk_codes` in the same fixed chunks of the flat states, so a
read served from a kept code gives bit for bit what the read that computed it gave.

Memory: [tokens, k] int32 indices and float32 values (8 bytes per token per k). At most
FAIRFIGHT_MAX_CODES_BYTES (default 256 MiB) are kept, least recently used dropped first; a
code bigger than that is computed and not kept.
"""
from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict

import numpy as np
import torch

CHUNK_TOKENS = 4096  # tokens encoded at a time: [4096, d_sae] floats, not [all tokens, d_sae]

_KEPT: "OrderedDict[tuple, tuple[torch.Tensor, torch.Tensor]]" = OrderedDict()
_LOCK = threading.Lock()
_STATS = {"computed": 0, "reused": 0}


def max_codes_bytes() -> int:
    return int(float(os.environ.get("FAIRFIGHT_MAX_CODES_BYTES", 256 * 1024 ** 2)))


def states_digest(flat) -> str:
    """sha256 of token states [tokens, d] (a numpy array, memory-mapped or not, or a tensor)."""
    arr = flat.detach().cpu().numpy() if isinstance(flat, torch.Tensor) else np.asarray(flat)
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    h = hashlib.sha256(repr(arr.shape).encode())
    h.update(memoryview(arr).cast("B"))
    return h.hexdigest()


def kept_code(sae, digest: str) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The kept code of the states with this digest (states_digest), or None: nothing computed."""
    with _LOCK:
        hit = _KEPT.get((digest, sae.sha256))
        if hit is None:
            return None
        _KEPT.move_to_end((digest, sae.sha256))
        _STATS["reused"] += 1
        return hit[0].long(), hit[1]


def topk_codes(sae, flat, digest: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(indices [tokens, k] int64, values [tokens, k] float32): the TopK SAE's code of every row
    of `flat`, encoded CHUNK_TOKENS rows at a time from row 0; kept (see the module docstring)."""
    key = (digest or states_digest(flat), sae.sha256)
    hit = kept_code(sae, key[0])
    if hit is not None:
        return hit
    indices, values = _compute(sae, flat)
    size = indices.numel() * 8
    with _LOCK:
        _STATS["computed"] += 1
        if size <= max_codes_bytes():
            _KEPT[key] = (indices.to(torch.int32), values)
            while sum(i.numel() * 8 for i, _ in _KEPT.values()) > max_codes_bytes():
                _KEPT.popitem(last=False)
    return indices, values


def _compute(sae, flat):
    total = len(flat)
    indices = torch.zeros((total, sae.k), dtype=torch.long)
    values = torch.zeros((total, sae.k), dtype=torch.float32)
    with torch.no_grad():
        for start in range(0, total, CHUNK_TOKENS):
            stop = min(start + CHUNK_TOKENS, total)
            rows = flat[start:stop]
            rows = rows.float() if isinstance(rows, torch.Tensor) else torch.from_numpy(np.array(rows, np.float32))
            indices[start:stop], values[start:stop] = sae.codes(rows)
    return indices, values


def forget_codes() -> None:
    """Drop every kept code (tests and benchmarks measure the cold path with it)."""
    with _LOCK:
        _KEPT.clear()


def codes_stats() -> dict:
    """How many codes were computed and how many reads reused a kept one, in this process."""
    with _LOCK:
        return dict(_STATS, kept=len(_KEPT))


__all__ = ["topk_codes", "kept_code", "states_digest", "forget_codes", "codes_stats", "max_codes_bytes", "CHUNK_TOKENS"]
