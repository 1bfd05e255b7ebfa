"""A small TopK SAE trainer: deterministic given its seed, fast enough to run inside a method.

Why not dictionary_learning's trainer: dictionary_learning 0.1.0 (the SHIFT authors' package,
the one on PyPI) requires nnsight<0.4, wandb, umap-learn, circuitsvis, plotly and pandas, and
nnsight 0.3 pulls torchvision, diffusers and accelerate: far too heavy a stack for a trainer of
a hundred lines. Its folders still load (formats.py), and this trainer follows the same
recipe (Gao et al. 2024, "Scaling and evaluating sparse autoencoders", as in dictionary_learning's
TopKTrainer): decoder rows kept at unit norm, encoder initialised as the decoder's transpose,
b_dec initialised at the data mean and subtracted from the input, an AuxK loss that gives dead
latents a gradient, Adam, and a learning rate scaled by 1/sqrt(width / 2^14).
"""
from __future__ import annotations

import math

import torch

from fairfight.errors import FairfightError

from .model import SAE


def train_topk(acts, *, width: int, k: int, seed: int = 0, epochs: int = 5, batch_size: int = 2048,
               lr: float | None = None, aux_k: int | None = None, aux_alpha: float = 1 / 32,
               max_seconds: float | None = None) -> SAE:
    """Train a TopK SAE on activations `acts` [n, d] (token-level hidden states, say).

    width: the number of latents (e.g. 16 * d); k: latents active per input. The same acts
    and seed give the same SAE on the same machine (one seeded generator drives the
    initialisation and the batch order; the caller's RNG state is left alone).
    """
    x = _as_matrix(acts)
    n, d = x.shape
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise FairfightError(f"train_topk: width must be a positive int, got {width!r}")
    if isinstance(k, bool) or not isinstance(k, int) or not 0 < k <= width:
        raise FairfightError(f"train_topk: k must be an int in 1..width ({width}), got {k!r}")
    gen = torch.Generator().manual_seed(int(seed))
    lr = lr if lr is not None else 2e-4 / math.sqrt(width / 2 ** 14)
    aux_k = min(aux_k or max(d // 2, k), width)
    scale = float(x.sub(x.mean(0)).pow(2).sum(1).mean().sqrt()) or 1.0  # inputs scaled to unit RMS norm
    x = x / scale

    w_dec = torch.randn(width, d, generator=gen)
    w_dec = (w_dec / w_dec.norm(dim=1, keepdim=True)).requires_grad_(True)
    w_enc = w_dec.detach().T.clone().requires_grad_(True)
    b_enc = torch.zeros(width, requires_grad=True)
    b_dec = x.mean(0).clone().requires_grad_(True)
    opt = torch.optim.Adam([w_enc, b_enc, w_dec, b_dec], lr=lr, betas=(0.9, 0.999), eps=6.25e-10)
    since_fired = torch.zeros(width, dtype=torch.long)  # inputs seen since each latent last fired
    dead_after = max(n // 2, 1)
    bs = min(batch_size, n)
    import time

    start = time.monotonic()
    for _ in range(int(epochs)):
        for idx in torch.randperm(n, generator=gen).split(bs):
            xb = x[idx]
            pre = (xb - b_dec) @ w_enc + b_enc
            top = torch.relu(pre).topk(k, dim=-1)
            recon = torch.nn.functional.embedding_bag(top.indices, w_dec, per_sample_weights=top.values,
                                                      mode="sum") + b_dec
            err = xb - recon
            loss = err.pow(2).sum(-1).mean()
            fired = torch.zeros(width, dtype=torch.bool)
            fired[top.indices.flatten()] = True
            since_fired = torch.where(fired, 0, since_fired + len(idx))
            dead = since_fired > dead_after
            if dead.any() and aux_alpha > 0:  # AuxK: the dead latents' top-k reconstruct the residual
                dead_pre = torch.relu(pre).masked_fill(~dead, 0.0)
                aux = dead_pre.topk(min(aux_k, int(dead.sum())), dim=-1)
                aux_recon = torch.nn.functional.embedding_bag(aux.indices, w_dec, per_sample_weights=aux.values,
                                                              mode="sum")
                residual = err.detach()
                aux_loss = (residual - aux_recon).pow(2).sum(-1).mean() / residual.pow(2).sum(-1).mean().clamp(min=1e-8)
                loss = loss + aux_alpha * aux_loss
            opt.zero_grad()
            loss.backward()
            with torch.no_grad():  # keep decoder rows at unit norm: remove the gradient along them, renormalise
                w_dec.grad -= (w_dec.grad * w_dec).sum(1, keepdim=True) * w_dec
            opt.step()
            with torch.no_grad():
                w_dec /= w_dec.norm(dim=1, keepdim=True).clamp(min=1e-8)
            if max_seconds is not None and time.monotonic() - start > max_seconds:
                break
        else:
            continue
        break
    with torch.no_grad():  # undo the input scaling: latents scale by `scale`, decoder rows stay unit norm
        return SAE(w_enc.detach(), b_enc.detach() * scale, w_dec.detach(), b_dec.detach() * scale, "topk",
                   k=k, subtract_b_dec=True, source=f"trained: train_topk(width={width}, k={k}, seed={seed}, "
                   f"epochs={epochs}, n={n})")


def _as_matrix(acts) -> torch.Tensor:
    if isinstance(acts, (list, tuple)) and acts and isinstance(acts[0], torch.Tensor):
        acts = torch.cat([a.reshape(-1, a.shape[-1]) for a in acts])  # per-text [T, d] states
    x = torch.as_tensor(acts).detach().to("cpu", torch.float32)
    if x.ndim != 2 or x.shape[0] < 2:
        raise FairfightError(f"train_topk needs activations [n >= 2, d], got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise FairfightError("train_topk: activations hold NaN or infinite values")
    return x.contiguous()


__all__ = ["train_topk"]
