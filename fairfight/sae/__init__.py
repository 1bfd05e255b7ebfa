"""Sparse autoencoders as first-class objects: load (SAELens, dictionary_learning), encode,
decode, train (a small deterministic TopK trainer), and name by sha256.

    sae = fairfight.sae.load_sae("saes/minilm-l4")          # or a granted knowledge artifact
    sae = fairfight.sae.train_topk(acts, width=6144, k=32, seed=ctx.seed)
    latents = ctx.model.features(texts, sae, layer=4)      # [n, d_sae], mean over tokens
    edited = ctx.model.intervene([AblateFeatures(4, sae, features=[12, 80])])

See docs/method-api.md ("SAEs").
"""
from __future__ import annotations

from .formats import FORMATS, detect_format, load_sae, save_sae
from .means import latent_means
from .model import ACTIVATIONS, SAE, registered
from .train import train_topk

__all__ = ["SAE", "ACTIVATIONS", "FORMATS", "load_sae", "save_sae", "detect_format", "train_topk", "registered",
           "latent_means"]
