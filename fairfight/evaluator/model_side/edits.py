"""Declarative edits to hidden states (the hooks that apply them are in hooks.py).

Edits are frozen dataclasses holding plain tuples of floats, so a contender's intervention
can be logged in the ledger, hashed, pickled to a worker and replayed by an auditor.

Layer numbering (shared with `ModelHandle.activations`): 0 is the embedding output, the input
of the first block (`hidden_states[0]` of transformers); i in 1..n-1 is the output of block i;
n is the model's `last_hidden_state` (for GPT-2-like models that is after the final layer
norm, exactly as `hidden_states[n]` in transformers). Negative layers count from the end.
An edit at layer L therefore changes exactly what `activations(layers=[L])` reads, and
everything computed from it.
"""
from __future__ import annotations

import contextvars
import functools
import hashlib
import math
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from fairfight.errors import FairfightError

Vector = tuple[float, ...]

# Which part of a sequence a forward pass computes while the model server generates (decoding.py):
# "turns" (a chat prompt's earlier turns, computed once per run), "prompt" (the rest of the prompt,
# ending at its last token), or "generated" (one pass per generated token); None outside generate.
_PHASE: contextvars.ContextVar[str | None] = contextvars.ContextVar("fairfight_decoding_phase", default=None)
POSITIONS = ("all", "prompt_last", "generated")


@contextmanager
def decoding_phase(phase: str):
    token = _PHASE.set(phase)
    try:
        yield
    finally:
        _PHASE.reset(token)


# -- coercion and hashing -------------------------------------------------------------
def _as_vector(x, what: str) -> Vector:
    if isinstance(x, torch.Tensor):
        x = x.detach().to("cpu", torch.float64).numpy()
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise FairfightError(f"{what} must be a non-empty 1-D vector, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise FairfightError(f"{what} contains NaN or infinite values")
    return tuple(float(v) for v in arr)


def _as_matrix(x, what: str) -> tuple[Vector, ...]:
    if isinstance(x, torch.Tensor):
        x = x.detach().to("cpu", torch.float64).numpy()
    if isinstance(x, np.ndarray):
        rows = [x] if x.ndim == 1 else list(x)
    else:
        x = list(x)
        rows = [x] if x and isinstance(x[0], (int, float, np.number)) else x
    if not rows:
        raise FairfightError(f"{what} must hold at least one direction")
    out = tuple(_as_vector(r, what) for r in rows)
    if len({len(r) for r in out}) != 1:
        raise FairfightError(f"{what}: all directions must have the same length")
    if all(not any(r) for r in out):
        raise FairfightError(f"{what}: directions are all zero")
    return out


def _sha256(values) -> str:
    return hashlib.sha256(np.asarray(values, dtype="<f8").tobytes()).hexdigest()


def _check_layer(layer) -> int:
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
        raise FairfightError(f"edit layer must be an int, got {layer!r}")
    return int(layer)


def _dump(d: dict, name: str, values) -> None:
    if values is not None:
        d[name] = [list(v) for v in values] if values and isinstance(values[0], tuple) else list(values)
        d[name + "_sha256"] = _sha256(values)


def _load(d: dict, name: str):
    if d.get(name) is None:
        return None
    values = d[name]
    digest = d.get(name + "_sha256")
    if digest is not None and _sha256(values) != digest:
        raise FairfightError(f"edit {d.get('type')!r} at layer {d.get('layer')}: '{name}' does not "
                             "match its sha256 (was the file edited or corrupted?)")
    return values


# Cached so a forward pass per batch does not redo the SVD or the list->tensor copy.
@functools.lru_cache(maxsize=256)
def _tensor(values: Vector, dtype: torch.dtype, device: str) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64).to(device=device, dtype=dtype)


@functools.lru_cache(maxsize=256)
def _basis(directions: tuple[Vector, ...], dtype: torch.dtype, device: str) -> torch.Tensor:
    """Orthonormal rows spanning `directions` (SVD, so dependent directions are tolerated)."""
    m = torch.tensor(directions, dtype=torch.float64)
    _, s, vh = torch.linalg.svd(m, full_matrices=False)
    keep = s > s.max() * 1e-10
    return vh[keep].to(device=device, dtype=dtype)


def _check_width(h: torch.Tensor, n: int, what: str) -> None:
    if h.shape[-1] != n:
        raise FairfightError(f"{what} has length {n} but the hidden state has size {h.shape[-1]}")


def _remove_span(h: torch.Tensor, directions, replace_with=None) -> torch.Tensor:
    _check_width(h, len(directions[0]), "edit direction")
    q = _basis(directions, h.dtype, str(h.device))
    out = h - (h @ q.T) @ q
    if replace_with is not None:
        m = _tensor(replace_with, h.dtype, str(h.device))
        out = out + (m @ q.T) @ q
    return out


# -- the edits ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ProjectOut:
    """Remove the span of one or more directions from the hidden state at `layer`."""

    layer: int
    directions: tuple[Vector, ...]

    def __post_init__(self):
        object.__setattr__(self, "layer", _check_layer(self.layer))
        object.__setattr__(self, "directions", _as_matrix(self.directions, "ProjectOut.directions"))

    def apply(self, h: torch.Tensor) -> torch.Tensor:
        return _remove_span(h, self.directions)

    def to_dict(self) -> dict:
        d = {"type": "project_out", "layer": self.layer}
        _dump(d, "directions", self.directions)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ProjectOut:
        return cls(d["layer"], _load(d, "directions"))


@dataclass(frozen=True)
class Ablate:
    """Zero- or mean-ablate hidden dimensions (`dims`) or the span of `directions`.

    `mean` is a full hidden-size vector (e.g. the average activation a contender computed);
    mode="mean" replaces the ablated part with the matching part of `mean`.
    """

    layer: int
    dims: tuple[int, ...] | None = None
    directions: tuple[Vector, ...] | None = None
    mode: str = "zero"
    mean: Vector | None = None

    def __post_init__(self):
        object.__setattr__(self, "layer", _check_layer(self.layer))
        if (self.dims is None) == (self.directions is None):
            raise FairfightError("Ablate needs exactly one of dims= or directions=")
        if self.mode not in ("zero", "mean"):
            raise FairfightError(f"Ablate mode must be 'zero' or 'mean', got {self.mode!r}")
        if self.dims is not None:
            dims = tuple(int(i) for i in (self.dims.tolist() if hasattr(self.dims, "tolist") else self.dims))
            if not dims or min(dims) < 0:
                raise FairfightError("Ablate dims must be a non-empty list of non-negative ints")
            object.__setattr__(self, "dims", tuple(sorted(set(dims))))
        else:
            object.__setattr__(self, "directions", _as_matrix(self.directions, "Ablate.directions"))
        if self.mode == "mean" and self.mean is None:
            raise FairfightError("Ablate mode='mean' needs mean= (a hidden-size vector)")
        if self.mean is not None:
            object.__setattr__(self, "mean", _as_vector(self.mean, "Ablate.mean"))

    def apply(self, h: torch.Tensor) -> torch.Tensor:
        fill = self.mean if self.mode == "mean" else None
        if self.directions is not None:
            return _remove_span(h, self.directions, fill)
        d = h.shape[-1]
        if self.dims[-1] >= d:
            raise FairfightError(f"Ablate dim {self.dims[-1]} is out of range for hidden size {d}")
        mask = torch.zeros(d, dtype=h.dtype, device=h.device)
        mask[list(self.dims)] = 1
        out = h * (1 - mask)  # multiplicative, not in-place: gradients flow through edits
        if fill is not None:
            _check_width(h, len(fill), "Ablate.mean")
            out = out + mask * _tensor(fill, h.dtype, str(h.device))
        return out

    def to_dict(self) -> dict:
        d = {"type": "ablate", "layer": self.layer, "mode": self.mode}
        if self.dims is not None:
            d["dims"] = list(self.dims)
        _dump(d, "directions", self.directions)
        _dump(d, "mean", self.mean)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Ablate:
        return cls(d["layer"], dims=d.get("dims"), directions=_load(d, "directions"),
                   mode=d.get("mode", "zero"), mean=_load(d, "mean"))


@dataclass(frozen=True)
class AddVector:
    """Add `scale * vector` to the hidden state at `layer`, at `positions`:

    - "all": every token of every pass (any operation);
    - "prompt_last": the prompt's last token only, in generate (the prompt's own pass);
    - "generated": every generated token only, in generate (CAA's "every position after the prompt").

    The last two mean something only while the server generates; any other operation refuses them.
    """

    layer: int
    vector: Vector
    scale: float = 1.0
    positions: str = "all"

    def __post_init__(self):
        object.__setattr__(self, "layer", _check_layer(self.layer))
        object.__setattr__(self, "vector", _as_vector(self.vector, "AddVector.vector"))
        if not math.isfinite(float(self.scale)):
            raise FairfightError("AddVector.scale must be finite")
        object.__setattr__(self, "scale", float(self.scale))
        if self.positions not in POSITIONS:
            raise FairfightError(f"AddVector.positions must be one of {', '.join(POSITIONS)}, got {self.positions!r}")

    def apply(self, h: torch.Tensor) -> torch.Tensor:
        _check_width(h, len(self.vector), "AddVector.vector")
        push = self.scale * _tensor(self.vector, h.dtype, str(h.device))
        if self.positions == "all":
            return h + push
        phase = _PHASE.get()
        if phase is None:
            raise FairfightError(f"AddVector(positions={self.positions!r}) applies while generating only "
                                 "(model.generate); use positions='all' for other operations")
        if self.positions == "generated":
            return h + push if phase == "generated" else h
        if phase != "prompt":
            return h
        last = torch.zeros(h.shape[-2], 1, dtype=h.dtype, device=h.device)
        last[-1] = 1  # the prompt's last position (generate pads prompts on the left only)
        return h + last * push

    def to_dict(self) -> dict:
        d = {"type": "add_vector", "layer": self.layer, "scale": self.scale}
        if self.positions != "all":  # absent for "all": the records (and run keys) of earlier edits stand
            d["positions"] = self.positions
        _dump(d, "vector", self.vector)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> AddVector:
        return cls(d["layer"], _load(d, "vector"), d.get("scale", 1.0), d.get("positions", "all"))


@dataclass(frozen=True)
class AblateFeatures:
    """Ablate SAE latents at `layer`, per token: encode the hidden state with the SAE, set the
    chosen latents to zero (mode="zero") or to `fill` (mode="mean": one value per feature, e.g.
    their mean activation), decode, and (keep_error=True, SHIFT's convention) add back the SAE's
    reconstruction error, so only the chosen latents' contribution changes.

    The SAE is named by its sha256 (`SAE.sha256`): an SAE object is accepted and replaced by its
    name; the weights are looked up among the SAEs loaded or trained in this process.

    Cost, with keep_error=True: a ReLU or JumpReLU latent depends only on its own pre-activation,
    so only the chosen latents' columns of W_enc are multiplied ([tokens, d] x [d, |features|]).
    A TopK latent's activity depends on every pre-activation: the dense encode is needed, unless
    the TopK code of the same states is kept (fairfight.sae.codes; see passes.run), or, for
    rarely active chosen latents, on the tokens where screening proves them all zero
    (fairfight.sae.screen; exact: the other tokens are encoded densely).
    keep_error=False always encodes and decodes densely.
    """

    layer: int
    sae: str
    features: tuple[int, ...]
    mode: str = "zero"
    keep_error: bool = True
    fill: Vector | None = None

    def __post_init__(self):
        object.__setattr__(self, "layer", _check_layer(self.layer))
        sae = self.sae
        name = getattr(sae, "sha256", sae)
        if not isinstance(name, str) or len(name) != 64 or any(c not in "0123456789abcdef" for c in name):
            raise FairfightError(f"AblateFeatures.sae must be an SAE or its sha256 (64 hex digits), got {sae!r}")
        object.__setattr__(self, "sae", name)
        feats = self.features.tolist() if hasattr(self.features, "tolist") else self.features
        feats = [feats] if isinstance(feats, (int, np.integer)) else list(feats)
        if not feats or any(isinstance(f, bool) or not isinstance(f, (int, np.integer)) or f < 0 for f in feats):
            raise FairfightError("AblateFeatures.features must be a non-empty list of latent indices (ints >= 0)")
        order = sorted(set(int(f) for f in feats))
        if self.mode not in ("zero", "mean"):
            raise FairfightError(f"AblateFeatures mode must be 'zero' or 'mean', got {self.mode!r}")
        if self.mode == "mean":
            if self.fill is None:
                raise FairfightError("AblateFeatures mode='mean' needs fill= (one value per feature): an edit reads no "
                                     "data itself; fairfight.sae.latent_means(ctx.model, texts, sae, layer=L, "
                                     "features=F) gives the latents' means on granted texts")
            fill = _as_vector(self.fill, "AblateFeatures.fill")
            if len(fill) != len(feats):
                raise FairfightError(f"AblateFeatures.fill has {len(fill)} values for {len(feats)} features")
            by_feature = dict(zip((int(f) for f in feats), fill))
            object.__setattr__(self, "fill", tuple(by_feature[f] for f in order))
        elif self.fill is not None:
            raise FairfightError("AblateFeatures fill= is for mode='mean'")
        object.__setattr__(self, "features", tuple(order))
        object.__setattr__(self, "keep_error", bool(self.keep_error))
        if hasattr(sae, "sha256"):
            self.check_model(sae.d_in, sae)

    def _sae(self):
        from fairfight.sae.model import registered

        return registered(self.sae)

    def check_model(self, hidden_size: int, sae=None) -> None:
        sae = sae or self._sae()
        if sae.d_in != hidden_size:
            raise FairfightError(f"AblateFeatures at layer {self.layer}: the SAE reads vectors of size {sae.d_in}, "
                                 f"but the model's hidden size is {hidden_size}")
        if self.features[-1] >= sae.d_sae:
            raise FairfightError(f"AblateFeatures feature {self.features[-1]} is out of range: the SAE has "
                                 f"{sae.d_sae} latents")

    def apply(self, h: torch.Tensor) -> torch.Tensor:
        sae = self._sae()
        _check_width(h, sae.d_in, "the SAE's input")
        x = h.float()
        idx = torch.tensor(self.features, device=h.device)
        if self.keep_error:
            # ReLU/JumpReLU: only the chosen latents' pre-activations are computed (chosen_latents)
            return self._swap(x, sae.chosen_latents(x, idx), sae, idx).to(h.dtype)
        z = sae.encode(x).clone()  # not in place on encode's output: autograd may need it
        z[..., idx] = self._target(h.device)
        return sae.decode(z).to(h.dtype)

    def uses_codes(self) -> bool:
        """Whether `apply_coded` serves this edit: a TopK SAE with the error kept."""
        return self.keep_error and self._sae().activation == "topk"

    def apply_coded(self, x: torch.Tensor, indices: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """apply() to token rows x [tokens, d_in] whose TopK code (SAE.codes: indices and values
        [tokens, k]) is known: the chosen latents are read off the code, no encode."""
        from fairfight.sae.screen import chosen_from_code

        return self.apply_chosen(x, chosen_from_code(self._sae().d_sae, self.features, indices, values))

    def apply_chosen(self, x: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
        """apply() to token rows x [tokens, d_in] whose chosen latents' values are known
        (chosen [tokens, len(features)], in the order of `features`: encode(x)[:, features])."""
        return self._swap(x.float(), chosen.float(), self._sae(), torch.tensor(self.features)).to(x.dtype)

    def _target(self, device) -> torch.Tensor:
        return (torch.zeros(len(self.features), device=device) if self.fill is None
                else _tensor(self.fill, torch.float32, str(device)))

    def _swap(self, x, chosen, sae, idx) -> torch.Tensor:
        # decode(z') + (x - decode(z)) = x + (z'[f] - z[f]) @ W_dec[f]: the same, without the dense decode
        w_dec = sae._weights(x.device, torch.float32)["W_dec"]
        return x + (self._target(x.device) - chosen) @ w_dec.index_select(0, idx)

    def to_dict(self) -> dict:
        d = {"type": "ablate_features", "layer": self.layer, "sae_sha256": self.sae, "features": list(self.features),
             "mode": self.mode, "keep_error": self.keep_error}
        _dump(d, "fill", self.fill)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> AblateFeatures:
        return cls(d["layer"], d["sae_sha256"], d["features"], mode=d.get("mode", "zero"),
                   keep_error=d.get("keep_error", True), fill=_load(d, "fill"))


EDIT_TYPES = {"project_out": ProjectOut, "ablate": Ablate, "add_vector": AddVector,
              "ablate_features": AblateFeatures}
Edit = ProjectOut | Ablate | AddVector | AblateFeatures


def edit_from_dict(d: dict) -> Edit:
    try:
        cls = EDIT_TYPES[d["type"]]
    except KeyError:
        raise FairfightError(f"unknown edit type {d.get('type')!r}; expected one of {sorted(EDIT_TYPES)}") from None
    return cls.from_dict(d)


def random_direction(edit: Edit, seed: int) -> Edit:
    """The random_direction control's stand-in for an edit: an AddVector becomes an AddVector at the
    same layer, scale and positions whose vector has the same norm and a random direction (uniform
    on the sphere: a normalised standard normal draw); any other edit is kept. The draw comes from
    the run's seed and the vector itself, so the same vector gets the same stand-in in every handle
    and process of the run (a predictor re-applying its edits in each chunk), and another seed
    another one."""
    if not isinstance(edit, AddVector):
        return edit
    v = np.asarray(edit.vector, dtype=np.float64)
    digest = hashlib.sha256(f"random_direction:{int(seed)}:{edit.layer}:".encode() + v.tobytes()).digest()
    draw = np.random.default_rng(int.from_bytes(digest[:8], "little")).standard_normal(v.size)
    norm = float(np.linalg.norm(v))
    return AddVector(edit.layer, draw * (norm / float(np.linalg.norm(draw))), edit.scale, edit.positions)


def edit_vectors(edit: Edit) -> list[Vector]:
    """Every vector an edit holds (to check their length against the model's hidden size)."""
    vecs = list(getattr(edit, "directions", None) or ())
    for name in ("vector", "mean"):
        if getattr(edit, name, None) is not None:
            vecs.append(getattr(edit, name))
    return vecs


def apply_edits(hidden: torch.Tensor, edits_for_layer) -> torch.Tensor:
    """Apply edits in order (later edits see the result of earlier ones)."""
    for e in edits_for_layer:
        hidden = e.apply(hidden)
    return hidden


__all__ = ["ProjectOut", "Ablate", "AddVector", "AblateFeatures", "Edit", "EDIT_TYPES", "edit_from_dict",
           "apply_edits", "edit_vectors", "decoding_phase", "POSITIONS"]
