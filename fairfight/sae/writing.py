"""SAEs written to disk in the SAELens or dictionary_learning layout (formats.py reads them back).

Apart from formats.py so that `SAE.save` (model.py) and the readers (which build SAEs) do not import
each other: this module takes any object with the SAE's attributes and imports neither.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from fairfight.errors import FairfightError

from fairfight.knowledge import SAE_LAYOUTS

SAELENS_FILES = SAE_LAYOUTS["saelens"]
DICTIONARY_LEARNING_FILES = SAE_LAYOUTS["dictionary_learning"]
FORMATS = tuple(SAE_LAYOUTS)


def save_sae(sae, folder, format: str = "saelens", dtype: str = "float32") -> Path:
    """Write `sae` into `folder` (created) in one of FORMATS. dtype "float16" (SAELens layout only)
    halves the files; loading gives float32 weights equal to the float16 values, so the loaded
    SAE's sha256 is that of the rounded weights, not of `sae`."""
    folder = Path(folder)
    if dtype not in ("float32", "float16"):
        raise FairfightError(f"save_sae dtype must be float32 or float16, got {dtype!r}")
    if dtype != "float32" and format != "saelens":
        raise FairfightError("save_sae writes float16 in the SAELens layout only")
    folder.mkdir(parents=True, exist_ok=True)
    if format == "saelens":
        from safetensors.torch import save_file

        arch = {"relu": "standard"}.get(sae.activation, sae.activation)
        cfg = {"architecture": arch, "d_in": sae.d_in, "d_sae": sae.d_sae, "apply_b_dec_to_input": sae.subtract_b_dec,
               "normalize_activations": "none", "dtype": dtype}
        if sae.k is not None:
            cfg["k"] = sae.k
        tensors = {"W_enc": sae.W_enc, "b_enc": sae.b_enc, "W_dec": sae.W_dec, "b_dec": sae.b_dec}
        if sae.threshold is not None:
            tensors["threshold"] = sae.threshold
        save_file({k: v.to(getattr(torch, dtype)).contiguous() for k, v in tensors.items()},
                  str(folder / "sae_weights.safetensors"))
        (folder / "cfg.json").write_text(json.dumps(cfg, indent=2, sort_keys=True), encoding="utf-8")
        return folder
    if format == "dictionary_learning":
        trainer = {"activation_dim": sae.d_in, "dict_size": sae.d_sae}
        if sae.activation == "relu" and sae.subtract_b_dec:
            trainer["dict_class"] = "AutoEncoder"
            sd = {"encoder.weight": sae.W_enc.T, "encoder.bias": sae.b_enc, "decoder.weight": sae.W_dec.T,
                  "bias": sae.b_dec}
        elif sae.activation == "topk" and sae.subtract_b_dec:
            trainer.update(dict_class="AutoEncoderTopK", k=sae.k)
            sd = {"encoder.weight": sae.W_enc.T, "encoder.bias": sae.b_enc, "decoder.weight": sae.W_dec.T,
                  "b_dec": sae.b_dec, "k": torch.tensor(sae.k, dtype=torch.int), "threshold": torch.tensor(-1.0)}
        elif sae.activation == "jumprelu":
            trainer.update(dict_class="JumpReluAutoEncoder", apply_b_dec_to_input=sae.subtract_b_dec)
            sd = {"W_enc": sae.W_enc, "b_enc": sae.b_enc, "W_dec": sae.W_dec, "b_dec": sae.b_dec,
                  "threshold": sae.threshold}
        else:
            raise FairfightError(f"dictionary_learning has no layout for a {sae.activation} SAE without the "
                                 "input shift")
        torch.save({k: v.contiguous().clone() for k, v in sd.items()}, folder / "ae.pt")
        (folder / "config.json").write_text(json.dumps({"trainer": trainer}, indent=2, sort_keys=True),
                                            encoding="utf-8")
        return folder
    raise FairfightError(f"unknown SAE format {format!r}; expected one of {', '.join(FORMATS)}")



__all__ = ["save_sae", "FORMATS", "SAELENS_FILES", "DICTIONARY_LEARNING_FILES"]
