"""A few chosen latents of a TopK SAE, without the dense encode of tokens where it can be proved.

An `AblateFeatures` edit with keep_error=True needs only z[:, features] (what encode() gives
for the chosen latents): z_i is relu(pre_i) where latent i is among the token's k largest
pre-activations, else 0. It is 0 for sure where either
- pre_i <= 0 (relu), or
- k other latents have larger pre-activations (then i is not among the k largest, whichever
  way torch.topk breaks ties: it must keep k values >= each kept one).
The second is checked against a fixed screening set G of SCREEN_LATENTS latents (those most
often active in a dense-encoded sample of the states, the chosen ones left out): its exact
pre-activations for every token cost |G| / d_sae of the dense encode, and if the k-th largest
of them exceeds pre_i, i is out. A token where every chosen latent is proved zero gets zeros;
every other token is encoded densely (SAE.codes, as the kept-code path does), so the answer is
the dense code's, never an approximation. "i is in the top k" is never proved this way (that
needs a bound on every latent; benchmarks/sae.py measures why none cheap is tight enough).

Rounding: G's and the chosen latents' pre-activations come from a narrower matmul than the
dense encode's, so they may differ from the dense ones in the last bits. Every comparison
keeps a margin of twice the worst-case float32 rounding error of a length-d_in dot product
plus the bias (gamma_{d+1} * (|x| |w_j| + |b_j|), Higham's bound, which holds in any summation
order), so a proof holds for the dense numbers too: near-ties go to the dense encode. The tokens
that are encoded are encoded together (SAE.codes of those rows), not in codes.py's fixed chunks:
the same numbers as long as a row's matmul result does not depend on the other rows in the call,
which holds for torch's CPU matmul here (tests/sae/test_screen.py compares bit for bit); a BLAS
that broke it would change a value only in its last bits.

Whether it pays is decided on the sample: the chosen latents are screened only when the
screening set plus the tokens expected to need the dense encode cost at most MAX_COST of the
dense encode (frequent latents, like the benchmark's 32 most active ones, fail that: most
tokens have one active, and a proof never makes a latent active), and on at least MIN_TOKENS
tokens. Otherwise None: the caller computes (and keeps) the full code.
"""
from __future__ import annotations

import threading

import numpy as np
import torch

from .codes import CHUNK_TOKENS

SAMPLE_TOKENS = 512  # tokens encoded densely (evenly spaced) to pick G and to predict the payoff
SCREEN_LATENTS = 512  # |G|
MAX_COST = 0.6  # screen only if |G|/d_sae + (fraction of sample tokens not proved) <= this
MIN_TOKENS = 4 * SAMPLE_TOKENS  # fewer: the sample would be much of the encode it hopes to save

_STATS = {"screened_reads": 0, "proved_tokens": 0, "dense_tokens": 0, "declined_reads": 0}
_LOCK = threading.Lock()


def chosen_from_code(d_sae: int, features, indices: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """z[:, features] [tokens, len(features)] from a TopK code (indices, values [tokens, k])."""
    idx = torch.as_tensor(features, dtype=torch.long)
    slot = torch.full((d_sae,), len(idx), dtype=torch.long)  # latent -> its column; the rest -> a spare one
    slot[idx] = torch.arange(len(idx))
    # a token's k latents are distinct, so each chosen column receives at most one value
    return torch.zeros((len(indices), len(idx) + 1)).scatter_(1, slot[indices], values.float())[:, :-1]


def _rows(flat, start, stop) -> torch.Tensor:
    rows = flat[start:stop]
    return rows.float() if isinstance(rows, torch.Tensor) else torch.from_numpy(np.array(rows, np.float32))


def screened_latents(sae, flat, features) -> torch.Tensor | None:
    """z[:, features] ([tokens, len(features)] float32, features sorted) of every row of `flat`
    for a TopK SAE, proving zeros where it can (see the module docstring); None where screening
    would not pay (the caller then encodes densely)."""
    feats = torch.as_tensor(list(features), dtype=torch.long)
    total, k = len(flat), sae.k
    m = min(SCREEN_LATENTS, sae.d_sae - len(feats))
    if total < max(MIN_TOKENS, 1) or m < k or (m + len(feats)) / sae.d_sae > MAX_COST:
        return _declined()
    with torch.no_grad():
        pick = np.linspace(0, total - 1, min(total, SAMPLE_TOKENS)).astype(np.int64)
        sample = (flat[torch.from_numpy(pick)].float() if isinstance(flat, torch.Tensor)
                  else torch.from_numpy(np.asarray(flat[pick], np.float32)))
        s_idx, s_val = sae.codes(sample)
        active = torch.zeros(sae.d_sae).index_add_(0, s_idx[s_val > 0], torch.ones(int((s_val > 0).sum())))
        active[feats] = -1  # never in G
        screen = active.topk(m).indices.sort().values
        cols = torch.cat([screen, feats])
        w = sae._weights(torch.device("cpu"), torch.float32)
        w_cols, b_cols = w["W_enc"].index_select(1, cols).contiguous(), w["b_enc"].index_select(0, cols)
        d = sae.d_in
        gamma = (d + 1) * 2.0 ** -24 / (1 - (d + 1) * 2.0 ** -24)
        w_norm, b_abs = float(w_cols.norm(dim=0).max()), float(b_cols.abs().max())

        def proved(rows):
            x = rows - w["b_dec"] if sae.subtract_b_dec else rows  # the same op as SAE.pre_activations
            pre = torch.addmm(b_cols, x, w_cols)
            kth = pre[:, :m].topk(k, dim=-1).values[:, -1:]
            chosen = pre[:, m:]
            margin = 2 * gamma * (x.norm(dim=1, keepdim=True) * w_norm + b_abs) * 1.01  # 1.01: the norm's own rounding
            return ((chosen <= -margin) | (chosen + 2 * margin < kth)).all(1)

        if (m + len(feats)) / sae.d_sae + float((~proved(sample)).float().mean()) > MAX_COST:
            return _declined()
        out = torch.zeros((total, len(feats)))
        n_dense = 0
        for start in range(0, total, CHUNK_TOKENS):
            stop = min(start + CHUNK_TOKENS, total)
            rows = _rows(flat, start, stop)
            dense = torch.nonzero(~proved(rows)).flatten()
            if len(dense):
                indices, values = sae.codes(rows[dense])
                out[start + dense] = chosen_from_code(sae.d_sae, feats, indices, values)
                n_dense += len(dense)
    with _LOCK:
        _STATS["screened_reads"] += 1
        _STATS["dense_tokens"] += n_dense
        _STATS["proved_tokens"] += total - n_dense
    return out


def _declined():
    with _LOCK:
        _STATS["declined_reads"] += 1
    return None


def screen_stats() -> dict:
    """Reads screened and declined, tokens proved (no encode) and encoded densely, in this process."""
    with _LOCK:
        return dict(_STATS)


__all__ = ["screened_latents", "chosen_from_code", "screen_stats", "SAMPLE_TOKENS", "SCREEN_LATENTS", "MAX_COST", "MIN_TOKENS"]
