"""Scoring continuations (`logprobs`): the vocabulary projection only where it is read.

A causal LM's logits over every position of a batch are batch x width x vocabulary floats: for
SmolLM2 (49,152 tokens) a batch of 32 few-shot prompts of 500 tokens is 3 GB, and a model server
answering a few such calls at once was killed by the kernel for memory (24 GB). A continuation
of a few tokens needs its own positions alone; transformers' `logits_to_keep` projects only
those (models whose forward does not take it get every position, as before).
"""
from __future__ import annotations

import inspect

import torch


def _keeps_logits(model) -> bool:
    try:
        return "logits_to_keep" in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False


def scored_positions(spans) -> list[int]:
    """The positions whose logits score some row's continuation: token t is scored at t - 1."""
    return sorted({p for s, e in spans for p in range(s - 1, e - 1)})


def continuation_logprobs(model, ids: torch.Tensor, mask: torch.Tensor, spans, device) -> list[torch.Tensor]:
    """Per row, the summed log-probability of its tokens ids[row, s:e] (`spans`: (s, e), s >= 1)."""
    positions = scored_positions(spans)
    if not positions:
        return [torch.zeros(()) for _ in spans]
    extra, column = {}, {p: p for p in positions}
    if _keeps_logits(model):
        extra["logits_to_keep"] = torch.tensor(positions, dtype=torch.long, device=device)
        column = {p: i for i, p in enumerate(positions)}
    logits = model(input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=False, **extra).logits
    out = []
    for row, (s, e) in enumerate(spans):
        if e <= s:
            out.append(torch.zeros(()))
            continue
        lp = logits[row, [column[p] for p in range(s - 1, e - 1)]].float().log_softmax(-1).cpu()
        out.append(lp.gather(-1, ids[row, s:e].unsqueeze(-1)).sum())
    return out
