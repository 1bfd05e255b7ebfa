"""Latents of token-level states, pooled per text without ever holding every token's latents."""
from __future__ import annotations

import numpy as np
import torch

from fairfight.errors import FairfightError

from .codes import CHUNK_TOKENS, topk_codes

POOLS = ("mean", "max", "last", "sum", "none")


def pooled_latents(sae, flat, offsets, pool: str = "mean"):
    """flat: [total tokens, d_in] states, offsets: [n+1] (text i is flat[offsets[i]:offsets[i+1]]).

    Returns [n, d_sae] (mean, max or sum over a text's tokens, or its last token's latents),
    or for pool="none" a list of [tokens_i, d_sae] tensors. A TopK SAE's code of every token is
    kept (codes.py), so an `AblateFeatures` read of the same states that follows skips the encode.
    """
    if pool not in POOLS:
        raise FairfightError(f"features pool must be one of {', '.join(POOLS)}, got {pool!r}")
    offsets = np.asarray(offsets, dtype=np.int64)
    n, total = len(offsets) - 1, int(offsets[-1])
    lengths = torch.from_numpy(np.diff(offsets))
    owner = torch.repeat_interleave(torch.arange(n), lengths)  # the text of each token
    if pool == "last":
        rows = torch.from_numpy(np.asarray(flat[np.maximum(offsets[1:] - 1, 0)], dtype=np.float32))
        out = sae.encode(rows)
        return out.masked_fill((lengths == 0)[:, None], 0.0)
    pieces = [] if pool == "none" else None
    out = torch.zeros((n, sae.d_sae)) if pool != "max" else torch.full((n, sae.d_sae), 0.0)
    codes = topk_codes(sae, flat) if getattr(sae, "activation", None) == "topk" and total else None
    with torch.no_grad():
        for start in range(0, total, CHUNK_TOKENS):
            stop = min(start + CHUNK_TOKENS, total)
            if codes is not None:  # the same numbers encode() gives: it scatters this code
                z = torch.zeros((stop - start, sae.d_sae)).scatter(-1, codes[0][start:stop], codes[1][start:stop])
            else:
                z = sae.encode(torch.from_numpy(np.array(flat[start:stop], dtype=np.float32)))
            who = owner[start:stop]
            if pieces is not None:
                pieces.append(z)
            elif pool == "max":  # latents are >= 0, so 0 is the identity of max here
                out.scatter_reduce_(0, who[:, None].expand_as(z), z, reduce="amax")
            else:
                out.index_add_(0, who, z)
    if pieces is not None:
        every = torch.cat(pieces) if pieces else torch.zeros((0, sae.d_sae))
        return list(every.split(lengths.tolist()))
    if pool == "mean":
        out /= lengths.clamp(min=1)[:, None].to(out.dtype)
    return out


__all__ = ["pooled_latents", "POOLS"]
