"""Fine-tuning a causal LM on (prompt, answer) demonstrations, on the trusted side (the model server
or, with executor inline, the worker's own handle): ModelHandle.finetune(..., head="lm").

The loss is the answer's tokens' cross-entropy after the prompt (the prompt's tokens are context
only), the answer ended by the tokenizer's end-of-sequence token so the tuned model learns to stop.
With `lora=R` only rank-R adapters on every linear layer are trained (peft's LoRA, alpha = 2R, no
dropout) and then merged into a copy of the weights; without it every weight of the copy is trained
(full fine-tuning, for small models). Either way the result is a plain model of the same
architecture: edits, generation and the forward cache work on it as on the original.
"""
from __future__ import annotations

import torch

from fairfight.errors import FairfightError

LORA_TARGETS = "all-linear"  # peft: every Linear / Conv1D of the blocks (not the output layer)


def sequences(tokenizer, prompts: list[str], templated: bool, answers: list[str], max_len: int | None):
    """(token ids, index of the first answer token) per demonstration."""
    if any(not a for a in answers):
        raise FairfightError("finetune(head='lm') needs a non-empty answer for every prompt")
    p_ids = tokenizer(prompts, add_special_tokens=not templated)["input_ids"]
    a_ids = tokenizer(answers, add_special_tokens=False)["input_ids"]
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    end = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    out = []
    for i, (p, a) in enumerate(zip(p_ids, a_ids)):
        p = list(p) or ([start] if start is not None else [])
        if not p:
            raise FairfightError("an empty prompt needs a bos or eos token to condition on")
        seq = p + list(a) + end
        if max_len is not None and len(seq) > max_len:
            raise FairfightError(f"demonstration {i} has {len(seq)} tokens, over the model's context of {max_len}")
        out.append((seq, len(p)))
    return out


def tune(model, seqs, schedule, *, lr: float, seed: int, lora: int | None, pad_id: int, device,
         check_time) -> torch.nn.Module:
    """`model` (a copy: it is trained in place) after one optimiser step per batch of `schedule`
    (lists of indices into `seqs`), seeded; LoRA adapters are merged into it at the end."""
    trained = model
    if lora is not None:
        try:
            from peft import LoraConfig, get_peft_model
        except ImportError:
            raise FairfightError("finetune(lora=...) needs the `peft` package (pip install peft; `make setup` "
                                 "installs it)") from None
        with torch.random.fork_rng(devices=[] if str(device) == "cpu" else None):
            torch.manual_seed(int(seed))  # the adapters' initialisation
            trained = get_peft_model(model, LoraConfig(r=int(lora), lora_alpha=2 * int(lora), lora_dropout=0.0,
                                                       target_modules=LORA_TARGETS))
    params = [p for p in trained.parameters() if p.requires_grad]
    with torch.random.fork_rng(devices=[] if str(device) == "cpu" else None):
        torch.manual_seed(int(seed))  # dropout, if the architecture has any
        opt = torch.optim.AdamW(params, lr=lr)
        trained.train()
        for batch in schedule:
            check_time()
            width = max(len(seqs[i][0]) for i in batch)
            ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            labels = torch.full((len(batch), width), -100, dtype=torch.long)  # -100: not scored
            for row, i in enumerate(batch):
                seq, first = seqs[i]
                ids[row, :len(seq)] = torch.tensor(seq)
                mask[row, :len(seq)] = 1
                labels[row, first:len(seq)] = torch.tensor(seq[first:])
            out = trained(input_ids=ids.to(device), attention_mask=mask.to(device), labels=labels.to(device),
                          use_cache=False)
            opt.zero_grad()
            out.loss.backward()
            opt.step()
    trained.eval()
    if lora is not None:
        model = trained.merge_and_unload()
    return model.eval().requires_grad_(False)


__all__ = ["sequences", "tune", "LORA_TARGETS"]
