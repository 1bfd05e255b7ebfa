"""Train the example's SAE on MiniLM's layer-4 token states of the fight's unlabeled text.

Trusted side: run by the spec's author before the fight, with fairfight's own tools, on text the
rules grant (the texts of `ambiguous` and `generic`; no label is read). The result is knowledge:
granted in offline.yaml's rules as `gender_sae`, next to the selection made from its feature cards.

    python examples/bios/saes/train_sae.py            # writes examples/bios/saes/minilm-l4/

Deterministic given its seed on one machine (train_topk's note); saved in float16 (SAELens layout).
"""
import sys
import time
from pathlib import Path

import torch

from fairfight.data.splits import SplitLoader
from fairfight.evaluator.model_side.ledger import Budget, Ledger
from fairfight.evaluator.model_side.model_handle import ModelHandle
from fairfight.evaluator.model_side.models import load_model
from fairfight.sae import train_topk
from fairfight.spec.check import load_spec

HERE = Path(__file__).resolve().parent
LAYER, WIDTH, K, SEED, EPOCHS, MAX_TOKENS = 4, 8 * 384, 32, 0, 8, 120_000


def main(out=HERE / "minilm-l4"):
    spec = load_spec(HERE.parent / "offline.yaml")
    loader = SplitLoader(spec)
    texts = [t for split in ("generic", "ambiguous") for t in loader.split(split).columns["text"]]
    model = load_model(spec.model.source, base_dir=spec.base_dir)
    handle = ModelHandle(model, frozenset({"activations"}), Ledger(Budget()))
    start = time.monotonic()
    tokens = torch.cat(handle.activations(texts, layers=[LAYER], pool="none")[LAYER])
    print(f"read {len(texts)} texts: {len(tokens):,} token states at layer {LAYER} "
          f"({time.monotonic() - start:.0f} s)", file=sys.stderr)
    gen = torch.Generator().manual_seed(SEED)
    tokens = tokens[torch.randperm(len(tokens), generator=gen)[:MAX_TOKENS]]
    start = time.monotonic()
    sae = train_topk(tokens, width=WIDTH, k=K, seed=SEED, epochs=EPOCHS)
    recon = sae.reconstruct(tokens[:20000])
    fvu = float((recon - tokens[:20000]).pow(2).sum() / (tokens[:20000] - tokens[:20000].mean(0)).pow(2).sum())
    print(f"trained {sae!r} on {len(tokens):,} tokens in {time.monotonic() - start:.0f} s; "
          f"fraction of variance unexplained {fvu:.3f}", file=sys.stderr)
    sae.save(out, dtype="float16")
    print(out)


if __name__ == "__main__":
    main()
