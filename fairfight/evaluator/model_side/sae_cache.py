"""A trained SAE as an entry of the forward cache (forward_cache.ForwardCache.sae).

`ctx.model.train_sae(...)` trains on the trusted side (the model server, or the handle itself
inline), from plain token states the model side computed, with `fairfight.sae.train_topk`:
deterministic given its inputs, its parameters and the number of torch threads. So the result
is named by what went in (the forward cache's key: model identity, texts, layer, parameters and
threads), stored beside the forward passes it was trained on, and a later run with the same
inputs reads it instead of training again. No contender reads or writes this folder: an SAE
reaches a contender only as the server's reply.

On disk: `weights.safetensors` (W_enc, b_enc, W_dec, b_dec) and `sae.json` (k, the SAE's
sha256, the training history). Reading rebuilds the SAE and checks its sha256 against
sae.json: an entry that fails (edited or damaged) is not used (the run trains again).
"""
from __future__ import annotations

import json
from pathlib import Path

NAMES = ("W_enc", "b_enc", "W_dec", "b_dec")


def write(folder: Path, sae) -> None:
    from safetensors.torch import save_file

    from ..orchestration.bundle import write_dir_atomic

    meta = {"sha256": sae.sha256, "activation": sae.activation, "k": sae.k, "subtract_b_dec": sae.subtract_b_dec,
            "source": sae.source, "training": getattr(sae, "training", None)}

    def fill(tmp: Path):  # the forward cache's entry layout: complete once "done" is there
        save_file({n: getattr(sae, n).contiguous() for n in NAMES}, str(tmp / "weights.safetensors"))
        (tmp / "sae.json").write_text(json.dumps(meta, sort_keys=True), encoding="utf-8")
        (tmp / "done").write_text("ok")

    write_dir_atomic(folder, fill)


def read(folder: Path):
    """The stored SAE, or None where the entry is incomplete or its weights do not hash to its name."""
    from safetensors.torch import load_file

    from fairfight.sae.model import SAE

    try:
        meta = json.loads((folder / "sae.json").read_text(encoding="utf-8"))
        w = load_file(str(folder / "weights.safetensors"))
        sae = SAE(*(w[n] for n in NAMES), meta["activation"], k=meta["k"], subtract_b_dec=meta["subtract_b_dec"],
                  source=meta["source"])
    except Exception:  # noqa: BLE001 - a damaged entry is a miss, never a crash
        return None
    if sae.sha256 != meta.get("sha256"):
        return None
    object.__setattr__(sae, "training", meta.get("training"))
    return sae


__all__ = ["read", "write"]
