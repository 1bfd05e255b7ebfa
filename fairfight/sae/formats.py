"""SAEs on disk: the SAELens and dictionary_learning folder layouts, read here and written by writing.py.

SAELens: `cfg.json` (d_in, d_sae, architecture "standard" | "topk" | "jumprelu", or the older
activation_fn_str "relu" | "topk" with activation_fn_kwargs.k; k; apply_b_dec_to_input;
normalize_activations; rescale_acts_by_decoder_norm) and `sae_weights.safetensors` (W_enc
[d_in, d_sae], b_enc, W_dec [d_sae, d_in], b_dec, and threshold or log_threshold for JumpReLU).
SAELens v6's conventions (sae_lens/saes/sae.py, topk_sae.py, loading/pretrained_sae_loaders.py
at v6.18.0): `apply_b_dec_to_input` defaults to true for every architecture, JumpReLU included
(SAEConfig's default; configs older than 6.0 get the same default); a TopK config's
`rescale_acts_by_decoder_norm` multiplies the pre-activations by the decoder rows' norms before
the top k and divides the latents by them before decoding: honoured here by folding the norms
into the weights (W_enc and b_enc times the norm, W_dec rows divided by it), which gives the
same latents and the same reconstruction; SAELens has it for TopK configs only, so another
architecture that sets it is refused rather than read some other way.

dictionary_learning (the SHIFT authors' package): `config.json` ({"trainer": {"dict_class",
"activation_dim", "dict_size", "k", ...}}) and `ae.pt` (a state dict): AutoEncoder (ReLU,
encoder/decoder Linear layers, input minus `bias`), AutoEncoderTopK (TopK, input minus
`b_dec`), BatchTopKSAE (inference uses its one global threshold: a JumpReLU with that
threshold for every latent) and JumpReluAutoEncoder (W_enc/W_dec, no input shift).

Only safetensors and torch read the files (`torch.load(weights_only=True)`: no code runs).
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from fairfight.errors import FairfightError
from fairfight.knowledge import SAE_LAYOUTS, sae_layout

from .model import SAE
from .writing import DICTIONARY_LEARNING_FILES, FORMATS, SAELENS_FILES, save_sae


def detect_format(folder) -> str | None:
    return sae_layout(folder)


def load_sae(folder) -> SAE:
    """An SAE from a folder in the SAELens or dictionary_learning layout."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FairfightError(f"SAE folder '{folder}' does not exist (or is not a folder)")
    fmt = detect_format(folder)
    if fmt in FORMATS:
        from fairfight.knowledge import artifact_sha256

        sae = _load_saelens(folder) if fmt == "saelens" else _load_dictionary_learning(folder)
        # set once, here, on the record just made (dataclasses.replace would hash the weights again)
        object.__setattr__(sae, "artifact_sha256", artifact_sha256(folder))
        return sae
    raise FairfightError(f"'{folder}' is not an SAE folder: expected {' + '.join(SAELENS_FILES)} (SAELens) or "
                         f"{' + '.join(DICTIONARY_LEARNING_FILES)} (dictionary_learning)")


def _json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FairfightError(f"cannot read '{path}': {exc}") from None
    if not isinstance(data, dict):
        raise FairfightError(f"'{path}' must hold a JSON object")
    return data


def _load_saelens(folder: Path) -> SAE:
    from safetensors.torch import load_file

    cfg = _json(folder / "cfg.json")
    w = load_file(str(folder / "sae_weights.safetensors"))
    where = f"{folder} (SAELens)"
    norm = cfg.get("normalize_activations") or "none"
    if norm != "none":
        raise FairfightError(f"{where}: normalize_activations={norm!r} is not supported (only 'none')")
    arch = cfg.get("architecture")
    fn = cfg.get("activation_fn_str") or cfg.get("activation_fn")
    if arch in (None, "standard"):
        activation = "topk" if fn == "topk" else "relu"
        if fn not in (None, "relu", "topk"):
            raise FairfightError(f"{where}: activation function {fn!r} is not supported (relu, topk)")
    elif arch in ("topk", "jumprelu"):
        activation = arch
    else:
        raise FairfightError(f"{where}: architecture {arch!r} is not supported (standard, topk, jumprelu)")
    k = None
    if activation == "topk":
        k = cfg.get("k", (cfg.get("activation_fn_kwargs") or {}).get("k"))
    threshold = None
    if activation == "jumprelu":
        threshold = w["threshold"] if "threshold" in w else torch.exp(w["log_threshold"]) if "log_threshold" in w \
            else None
    missing = [n for n in ("W_enc", "b_enc", "W_dec", "b_dec") if n not in w]
    if missing:
        raise FairfightError(f"{where}: sae_weights.safetensors lacks {', '.join(missing)}")
    subtract = cfg.get("apply_b_dec_to_input", True)  # SAELens v6: true unless the config says otherwise
    if not isinstance(subtract, bool):
        raise FairfightError(f"{where}: apply_b_dec_to_input must be true or false, got {subtract!r}")
    w_enc, b_enc, w_dec = w["W_enc"], w["b_enc"], w["W_dec"]
    rescale = cfg.get("rescale_acts_by_decoder_norm", False)
    if rescale not in (True, False):
        raise FairfightError(f"{where}: rescale_acts_by_decoder_norm must be true or false, got {rescale!r}")
    if rescale:
        if activation != "topk":
            raise FairfightError(f"{where}: rescale_acts_by_decoder_norm is set, but SAELens applies it to TopK SAEs "
                                 f"only and this one is {activation}; remove the key if the weights are already "
                                 "folded, or fold the decoder norms into W_enc, b_enc and W_dec first")
        w_enc, b_enc, w_dec = _fold_decoder_norm(w_enc, b_enc, w_dec, where)
    return SAE(w_enc, b_enc, w_dec, w["b_dec"], activation, k=None if k is None else int(k),
               threshold=threshold, subtract_b_dec=subtract, source=f"{folder} (SAELens)")


def _fold_decoder_norm(w_enc, b_enc, w_dec, where):
    """SAELens's rescale_acts_by_decoder_norm, folded: latents pre * |W_dec[i]| and decoder rows
    W_dec[i] / |W_dec[i]| (its own _fold_norm_topk, which it runs when saving for inference)."""
    norms = w_dec.float().norm(dim=-1)
    if not bool((norms > 0).all()):
        raise FairfightError(f"{where}: rescale_acts_by_decoder_norm divides by the decoder rows' norms, and "
                             f"{int((norms == 0).sum())} of them are zero")
    return w_enc * norms, b_enc * norms, w_dec / norms[:, None]


def _load_dictionary_learning(folder: Path) -> SAE:
    cfg = _json(folder / "config.json")
    trainer = cfg.get("trainer", cfg)
    kind = trainer.get("dict_class", "AutoEncoder")
    where = f"{folder} (dictionary_learning {kind})"
    try:
        sd = torch.load(folder / "ae.pt", map_location="cpu", weights_only=True)
    except Exception as exc:  # a pickle with code in it, or not a state dict at all
        raise FairfightError(f"{where}: cannot read ae.pt as a state dict: {exc}") from None
    if not isinstance(sd, dict):
        raise FairfightError(f"{where}: ae.pt must hold a state dict")

    def get(name):
        if name not in sd:
            raise FairfightError(f"{where}: ae.pt lacks '{name}' (has {', '.join(sorted(sd))})")
        return sd[name]

    source = f"{folder} (dictionary_learning)"
    if kind == "AutoEncoder":
        return SAE(get("encoder.weight").T, get("encoder.bias"), get("decoder.weight").T, get("bias"), "relu",
                   subtract_b_dec=True, source=source)
    if kind in ("AutoEncoderTopK", "BatchTopKSAE"):
        k = int(sd["k"]) if "k" in sd else int(trainer["k"])
        if kind == "AutoEncoderTopK":
            return SAE(get("encoder.weight").T, get("encoder.bias"), get("decoder.weight").T, get("b_dec"), "topk",
                       k=k, subtract_b_dec=True, source=source)
        # inference (use_threshold=True) keeps relu(pre) > threshold: a JumpReLU whose threshold, if
        # negative (never calibrated), lets every positive latent through
        thr = float(get("threshold"))
        return SAE(get("encoder.weight").T, get("encoder.bias"), get("decoder.weight").T, get("b_dec"), "jumprelu",
                   threshold=torch.full((get("encoder.bias").shape[0],), max(thr, 0.0)), subtract_b_dec=True,
                   source=source)
    if kind == "JumpReluAutoEncoder":
        return SAE(get("W_enc"), get("b_enc"), get("W_dec"), get("b_dec"), "jumprelu", threshold=get("threshold"),
                   subtract_b_dec=bool(trainer.get("apply_b_dec_to_input", False)), source=source)
    raise FairfightError(f"{where}: dict_class {kind!r} is not supported (AutoEncoder, AutoEncoderTopK, "
                         "BatchTopKSAE, JumpReluAutoEncoder)")


__all__ = ["load_sae", "save_sae", "detect_format", "FORMATS"]
