"""A small TopK SAE trainer: deterministic given its seed, fast enough to run inside a method.

Why not dictionary_learning's trainer: dictionary_learning 0.1.0 (the SHIFT authors' package,
the one on PyPI) requires nnsight<0.4, wandb, umap-learn, circuitsvis, plotly and pandas, and
nnsight 0.3 pulls torchvision, diffusers and accelerate: far too heavy a stack for a trainer of
a hundred lines. Its folders still load (formats.py), and this trainer follows the same
recipe (Gao et al. 2024, "Scaling and evaluating sparse autoencoders", as in dictionary_learning's
TopKTrainer): decoder rows kept at unit norm, encoder initialised as the decoder's transpose,
b_dec initialised at the data mean and subtracted from the input, an AuxK loss that gives dead
latents a gradient, Adam, a learning rate scaled by 1/sqrt(width / 2^14) and decayed linearly
to 0 over the last 20% of the steps.

Training is counted in steps (batches), not epochs: a small input then still gets enough
optimizer steps (at 1,024 inputs a batch, 1,000 steps see 1M token states, drawn again and
again from however many there are). The result carries its history (`sae.training`: loss and
fraction of variance explained per logged interval, dead latents, steps, seconds) and a time
limit that cuts training short warns (a logged warning, also in `sae.training["stopped"]`).

Speed: the encoder's gradient is sparse (only the k selected pre-activations of a row get one),
so the backward pass multiplies only those: a sparse [batch, width] x [batch, d] product instead
of the dense one autograd would run through topk, about half of a step's work at 16x width.
"""
from __future__ import annotations

import logging
import math
import time
import warnings

import torch

from fairfight.errors import FairfightError

from .model import SAE

log = logging.getLogger("fairfight.sae")

DEFAULT_STEPS = 1000
DEFAULT_BATCH = 1024
LOG_EVERY = 100  # steps per history record
DECAY_FROM = 0.8  # the learning rate decays linearly to 0 over the last 20% of the steps


class _SelectedPre(torch.autograd.Function):
    """pre[b, idx[b, j]] (given, computed without autograd) with the gradient of only those entries."""

    @staticmethod
    def forward(ctx, xc, w_enc, b_enc, idx, values):  # noqa: D401 - autograd signature
        ctx.save_for_backward(xc, w_enc, idx)
        return values

    @staticmethod
    def backward(ctx, g):
        xc, w_enc, idx = ctx.saved_tensors
        b, m = idx.shape
        width = w_enc.shape[1]
        rows = torch.arange(b).repeat_interleave(m)
        cols = idx.reshape(-1)
        grads = g.reshape(-1)
        sparse = torch.sparse_coo_tensor(torch.stack([rows, cols]), grads, (b, width), check_invariants=False).coalesce()
        grad_xc = torch.sparse.mm(sparse, w_enc.t()) if ctx.needs_input_grad[0] else None
        grad_w = torch.sparse.mm(sparse.t().coalesce(), xc).t() if ctx.needs_input_grad[1] else None
        grad_b = torch.zeros(width, dtype=g.dtype).index_add_(0, cols, grads) if ctx.needs_input_grad[2] else None
        return grad_xc, grad_w, grad_b, None, None


def _selected(xc, w_enc, b_enc, pre, idx):
    return _SelectedPre.apply(xc, w_enc, b_enc, idx, pre.gather(1, idx))


def train_topk(acts, *, width: int, k: int, seed: int = 0, steps: int | None = None, epochs: int | None = None,
               batch_size: int = DEFAULT_BATCH, lr: float | None = None, aux_k: int | None = None,
               aux_alpha: float = 1 / 32, max_seconds: float | None = None, log_every: int = LOG_EVERY) -> SAE:
    """Train a TopK SAE on activations `acts` [n, d] (token-level hidden states, say).

    width: the number of latents (e.g. 16 * d); k: latents active per input. `steps` Adam
    steps of `batch_size` inputs (default 1,000 of 1,024), or `epochs` passes over the inputs
    instead. `max_seconds` stops early (with a warning). The same acts and seed give the same
    SAE with the same number of torch threads (one seeded generator drives the initialisation
    and the batch order; the caller's RNG state is left alone). `sae.training` holds the
    history: {"steps", "planned_steps", "seconds", "stopped", "history": [{"step", "loss",
    "fve"}...], "fve", "dead"}; "fve" is the fraction of variance explained over the last
    logged interval of training batches, "dead" the latents that fired on none of the last
    `n // 2` inputs (at least one batch).
    """
    x = _as_matrix(acts)
    n, d = x.shape
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise FairfightError(f"train_topk: width must be a positive int, got {width!r}")
    if isinstance(k, bool) or not isinstance(k, int) or not 0 < k <= width:
        raise FairfightError(f"train_topk: k must be an int in 1..width ({width}), got {k!r}")
    bs = min(int(batch_size), n)
    if bs < 1:
        raise FairfightError(f"train_topk: batch_size must be at least 1, got {batch_size!r}")
    if steps is not None and epochs is not None:
        raise FairfightError("train_topk: give steps or epochs, not both")
    total = int(steps) if steps is not None else (int(epochs) * math.ceil(n / bs) if epochs is not None
                                                  else DEFAULT_STEPS)
    if total < 1:
        raise FairfightError(f"train_topk: needs at least one step (steps={steps}, epochs={epochs})")
    gen = torch.Generator().manual_seed(int(seed))
    lr = lr if lr is not None else 2e-4 / math.sqrt(width / 2 ** 14)
    aux_k = min(aux_k or max(d // 2, k), width)
    mean = x.mean(0)
    var = float(x.sub(mean).pow(2).sum(1).mean())
    scale = math.sqrt(var) or 1.0  # inputs scaled to unit RMS norm
    x = x / scale

    w_dec = torch.randn(width, d, generator=gen)
    w_dec = (w_dec / w_dec.norm(dim=1, keepdim=True)).requires_grad_(True)
    w_enc = w_dec.detach().T.clone().contiguous().requires_grad_(True)
    b_enc = torch.zeros(width, requires_grad=True)
    b_dec = (mean / scale).clone().requires_grad_(True)
    opt = torch.optim.Adam([w_enc, b_enc, w_dec, b_dec], lr=lr, betas=(0.9, 0.999), eps=6.25e-10)
    decay_at = int(total * DECAY_FROM)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 1.0 if s < decay_at else max(0.0, (total - s) / max(1, total - decay_at)))
    since_fired = torch.zeros(width, dtype=torch.long)  # inputs seen since each latent last fired
    dead_after = max(n // 2, bs)
    history, interval = [], {"loss": 0.0, "err": 0.0, "var": 0.0, "n": 0}
    order: list = []
    start, stopped, step = time.monotonic(), None, 0
    for step in range(1, total + 1):
        if not order:
            order = list(torch.randperm(n, generator=gen).split(bs))
            if len(order) > 1 and len(order[-1]) < bs:  # a short tail batch joins the next epoch's draw
                order.pop()
        idx = order.pop(0)
        xb = x[idx]
        xc = xb - b_dec
        with torch.no_grad():
            pre = torch.addmm(b_enc, xc, w_enc)
            top = pre.topk(k, dim=-1).indices
        values = torch.relu(_selected(xc, w_enc, b_enc, pre, top))
        recon = torch.nn.functional.embedding_bag(top, w_dec, per_sample_weights=values, mode="sum") + b_dec
        err = xb - recon
        sq = err.pow(2).sum(-1)
        loss = sq.mean()
        with torch.no_grad():
            fired = torch.zeros(width, dtype=torch.bool)
            fired[top[values > 0]] = True
            since_fired = torch.where(fired, 0, since_fired + len(idx))
            dead = since_fired > dead_after
        if dead.any() and aux_alpha > 0:  # AuxK: the dead latents' top-k reconstruct the residual
            with torch.no_grad():
                aux_idx = pre.masked_fill(~dead, -math.inf).topk(min(aux_k, int(dead.sum())), dim=-1).indices
            aux_vals = torch.relu(_selected(xc, w_enc, b_enc, pre, aux_idx))
            aux_recon = torch.nn.functional.embedding_bag(aux_idx, w_dec, per_sample_weights=aux_vals, mode="sum")
            residual = err.detach()
            aux_loss = (residual - aux_recon).pow(2).sum(-1).mean() / residual.pow(2).sum(-1).mean().clamp(min=1e-8)
            loss = loss + aux_alpha * aux_loss
        opt.zero_grad()
        loss.backward()
        with torch.no_grad():  # keep decoder rows at unit norm: remove the gradient along them, renormalise
            w_dec.grad -= (w_dec.grad * w_dec).sum(1, keepdim=True) * w_dec
        opt.step()
        sched.step()
        with torch.no_grad():
            w_dec /= w_dec.norm(dim=1, keepdim=True).clamp(min=1e-8)
            interval["loss"] += float(loss) * len(idx)
            interval["err"] += float(sq.sum())
            interval["var"] += float((xb - mean / scale).pow(2).sum())
            interval["n"] += len(idx)
        if step % max(1, int(log_every)) == 0 or step == total:
            history.append(_record(step, interval))
            interval = {"loss": 0.0, "err": 0.0, "var": 0.0, "n": 0}
        if max_seconds is not None and step < total and time.monotonic() - start > max_seconds:
            stopped = (f"train_topk stopped by max_seconds={max_seconds:g} after {step} of {total} steps "
                       f"({time.monotonic() - start:.1f} s): the SAE is undertrained")
            break
    if interval["n"]:
        history.append(_record(step, interval))
    if stopped:
        warnings.warn(stopped, RuntimeWarning, stacklevel=2)
        log.warning(stopped)
    training = {"steps": step, "planned_steps": total, "batch_size": bs, "inputs": n,
                "seconds": round(time.monotonic() - start, 3), "stopped": stopped, "history": history,
                "fve": history[-1]["fve"] if history else None, "dead": int(dead.sum())}
    with torch.no_grad():  # undo the input scaling: latents scale by `scale`, decoder rows stay unit norm
        sae = SAE(w_enc.detach(), b_enc.detach() * scale, w_dec.detach(), b_dec.detach() * scale, "topk",
                  k=k, subtract_b_dec=True, source=f"trained: train_topk(width={width}, k={k}, seed={seed}, "
                  f"steps={total}, batch_size={bs}, n={n})")
    object.__setattr__(sae, "training", training)
    return sae


def _record(step: int, interval: dict) -> dict:
    n = max(interval["n"], 1)
    fve = 1.0 - interval["err"] / interval["var"] if interval["var"] > 0 else None
    return {"step": step, "loss": round(interval["loss"] / n, 6), "fve": None if fve is None else round(fve, 4)}


def fraction_of_variance_explained(sae: SAE, acts) -> float:
    """1 - |x - reconstruct(x)|^2 / |x - mean(x)|^2 summed over the rows of `acts` (held-out
    states, say): how much of the states' variance the SAE reconstructs."""
    x = _as_matrix(acts)
    with torch.no_grad():
        err = sum(float((rows - sae.reconstruct(rows)).pow(2).sum()) for rows in x.split(4096))
    var = float(x.sub(x.mean(0)).pow(2).sum())
    return 1.0 - err / var if var > 0 else float("nan")


def _as_matrix(acts) -> torch.Tensor:
    if isinstance(acts, (list, tuple)) and acts and isinstance(acts[0], torch.Tensor):
        acts = torch.cat([a.reshape(-1, a.shape[-1]) for a in acts])  # per-text [T, d] states
    x = torch.as_tensor(acts).detach().to("cpu", torch.float32)
    if x.ndim != 2 or x.shape[0] < 2:
        raise FairfightError(f"train_topk needs activations [n >= 2, d], got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise FairfightError("train_topk: activations hold NaN or infinite values")
    return x.contiguous()


__all__ = ["train_topk", "fraction_of_variance_explained", "DEFAULT_STEPS", "DEFAULT_BATCH"]
