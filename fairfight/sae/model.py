"""The SAE record: weights, activation, and the sha256 that names it.

One record for every on-disk format (formats.py) and for SAEs trained in a method (train.py):

    pre     = (x - b_dec if subtract_b_dec else x) @ W_enc + b_enc      # [..., d_sae]
    latents = relu(pre)                                  activation "relu"
            = relu(pre) kept only in its k largest        activation "topk"
            = relu(pre) kept only where pre > threshold   activation "jumprelu"
    decode  = latents @ W_dec + b_dec                                    # [..., d_in]

`sha256` hashes the weights and the activation, not the files they came from, so the same
SAE saved in either layout has the same name. Every SAE made in this process is registered
under that name: an `AblateFeatures` edit names its SAE by sha256 and finds it here.
"""
from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field

import torch

from fairfight.errors import FairfightError

ACTIVATIONS = ("relu", "topk", "jumprelu")
_REGISTRY: dict[str, "SAE"] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True, eq=False)
class SAE:
    W_enc: torch.Tensor  # [d_in, d_sae]
    b_enc: torch.Tensor  # [d_sae]
    W_dec: torch.Tensor  # [d_sae, d_in]
    b_dec: torch.Tensor  # [d_in]
    activation: str = "relu"
    k: int | None = None  # topk
    threshold: torch.Tensor | None = None  # jumprelu: [d_sae]
    subtract_b_dec: bool = True  # subtract b_dec from the input before encoding
    source: str = ""  # where it came from: a folder and its format, or "trained: ..."
    # the folder's artifact hash when loaded from one (fairfight.knowledge.artifact_sha256: what a
    # spec's sha256: and a selection.json name); `sha256` below names the weights, in this process
    artifact_sha256: str | None = None
    sha256: str = field(init=False)
    training = None  # not a field: train_topk's history ({"steps", "fve", "dead", "history", ...}), else None

    def __post_init__(self):
        def fix(name, shape):
            t = getattr(self, name)
            t = torch.as_tensor(t).detach().to("cpu", torch.float32).contiguous()
            if tuple(t.shape) != shape:
                raise FairfightError(f"SAE {name} has shape {tuple(t.shape)}, expected {shape}")
            if not torch.isfinite(t).all():
                raise FairfightError(f"SAE {name} holds NaN or infinite values")
            object.__setattr__(self, name, t)

        if self.activation not in ACTIVATIONS:
            raise FairfightError(f"SAE activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}")
        w = torch.as_tensor(self.W_enc)
        if w.ndim != 2:
            raise FairfightError(f"SAE W_enc must be a matrix [d_in, d_sae], got shape {tuple(w.shape)}")
        d_in, d_sae = w.shape
        fix("W_enc", (d_in, d_sae))
        fix("b_enc", (d_sae,))
        fix("W_dec", (d_sae, d_in))
        fix("b_dec", (d_in,))
        if self.activation == "topk":
            if isinstance(self.k, bool) or not isinstance(self.k, int) or not 0 < self.k <= d_sae:
                raise FairfightError(f"a TopK SAE needs an int k in 1..{d_sae}, got {self.k!r}")
        elif self.k is not None:
            raise FairfightError(f"k is for TopK SAEs; this one is {self.activation}")
        if self.activation == "jumprelu":
            if self.threshold is None:
                raise FairfightError("a JumpReLU SAE needs a threshold per latent")
            t = torch.as_tensor(self.threshold)
            object.__setattr__(self, "threshold", t.expand(d_sae) if t.ndim == 0 else t)
            fix("threshold", (d_sae,))
        elif self.threshold is not None:
            raise FairfightError(f"threshold is for JumpReLU SAEs; this one is {self.activation}")
        object.__setattr__(self, "subtract_b_dec", bool(self.subtract_b_dec))
        object.__setattr__(self, "sha256", _digest(self))
        object.__setattr__(self, "_on", {})
        with _LOCK:
            _REGISTRY.setdefault(self.sha256, self)

    d_in = property(lambda self: self.W_enc.shape[0])
    d_sae = property(lambda self: self.W_enc.shape[1])

    def __repr__(self):
        k = f", k={self.k}" if self.k else ""
        return (f"SAE({self.activation}{k}, d_in={self.d_in}, d_sae={self.d_sae}, "
                f"sha256={self.sha256[:12]}..., source={self.source!r})")

    def config(self) -> dict:
        """What, besides the tensors, says how this SAE computes."""
        return {"activation": self.activation, "k": self.k, "subtract_b_dec": self.subtract_b_dec,
                "d_in": self.d_in, "d_sae": self.d_sae}

    # -- computing ------------------------------------------------------------------------
    def _weights(self, device, dtype) -> dict:
        key = (str(device), dtype)
        if key not in self._on:
            names = ("W_enc", "b_enc", "W_dec", "b_dec") + (("threshold",) if self.threshold is not None else ())
            self._on[key] = {n: getattr(self, n).to(device=device, dtype=dtype) for n in names}
        return self._on[key]

    def pre_activations(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        w = self._weights(x.device, x.dtype)
        if self.subtract_b_dec:
            x = x - w["b_dec"]
        return _affine(x, w["W_enc"], w["b_enc"])

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Latents [..., d_sae] of hidden states [..., d_in] (any leading shape)."""
        if self.activation == "topk":
            indices, values = self.codes(x)
            return torch.zeros(values.shape[:-1] + (self.d_sae,), dtype=values.dtype,
                               device=values.device).scatter(-1, indices, values)
        pre = self.pre_activations(x)
        acts = torch.relu(pre)
        if self.activation == "jumprelu":
            return acts * (pre > self._weights(x.device, x.dtype)["threshold"])
        return acts

    def codes(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A TopK SAE's sparse code of hidden states [..., d_in]: (indices [..., k] int64, values
        [..., k]), the k largest relu'd pre-activations; `encode` scatters exactly these."""
        if self.activation != "topk":
            raise FairfightError(f"codes are for TopK SAEs; this one is {self.activation}")
        # relu is monotone, so the k largest relu'd pre-activations are the relu'd k largest
        # pre-activations: topk of pre, then relu of k values, skips a pass over [..., d_sae].
        # (Where fewer than k are positive, the zero-valued slots name other latents than
        # relu-then-topk would; their value is 0 either way, so encode() is the same.)
        top = self.pre_activations(x).topk(self.k, dim=-1)
        return top.indices, torch.relu(top.values)

    def chosen_latents(self, x: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """encode(x)[..., features] ([..., len(features)]), computing no more than it needs: for
        ReLU and JumpReLU each latent depends only on its own pre-activation, so only the chosen
        columns of W_enc are multiplied; a TopK latent depends on every pre-activation (full encode)."""
        if self.activation == "topk":
            return self.encode(x).index_select(-1, features)
        self._check_input(x)
        w = self._weights(x.device, x.dtype)
        if self.subtract_b_dec:
            x = x - w["b_dec"]
        pre = _affine(x, w["W_enc"].index_select(1, features), w["b_enc"].index_select(0, features))
        acts = torch.relu(pre)
        if self.activation == "jumprelu":
            return acts * (pre > w["threshold"].index_select(0, features))
        return acts

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        w = self._weights(latents.device, latents.dtype)
        return latents @ w["W_dec"] + w["b_dec"]

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def _check_input(self, x) -> None:
        if not isinstance(x, torch.Tensor):
            raise FairfightError(f"SAE input must be a tensor, got {type(x).__name__}")
        if x.shape[-1] != self.d_in:
            raise FairfightError(f"this SAE reads vectors of size {self.d_in}, but the input has size {x.shape[-1]}")

    def save(self, folder, format: str = "saelens", dtype: str = "float32"):
        """Write the SAE in an on-disk layout ("saelens" or "dictionary_learning"; "float16" halves
        a SAELens folder); returns the folder."""
        from .writing import save_sae

        return save_sae(self, folder, format, dtype)


def _affine(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """x @ w + b for x of any leading shape, as one addmm (the bias is added in the matmul's
    output pass, not in a second pass over [..., d_sae]). Every pre-activation in this module is
    computed here: the dense encode and the TopK code agree bit for bit; chosen columns alone
    (chosen_latents) agree within float rounding (a narrower matmul may take another kernel)."""
    flat = x.reshape(-1, x.shape[-1])
    return torch.addmm(b, flat, w).reshape(x.shape[:-1] + (w.shape[1],))


def _digest(sae: SAE) -> str:
    h = hashlib.sha256(json.dumps({k: v for k, v in sae.config().items()}, sort_keys=True).encode())
    for name in ("W_enc", "b_enc", "W_dec", "b_dec", "threshold"):
        t = getattr(sae, name)
        if t is not None:
            h.update(name.encode())
            h.update(t.numpy().astype("<f4").tobytes())
    return h.hexdigest()


def registered(sha256: str) -> SAE:
    """The SAE with this sha256, made (loaded or trained) in this process."""
    try:
        return _REGISTRY[sha256]
    except KeyError:
        raise FairfightError(f"no SAE with sha256 {sha256[:16]}... is loaded in this process: load it first "
                             "(fairfight.sae.load_sae(folder), or the knowledge artifact that holds it)") from None


__all__ = ["SAE", "ACTIVATIONS", "registered"]
