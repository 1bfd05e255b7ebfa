"""Feature cards from token-level data: per SAE latent, how often it fires, its top-activating
tokens with a few words of context, its share of activation on a concept's words, its decoder norm.

Pure computation on what the trusted side read (build.py does the reading): texts, each text's
token-level hidden states [tokens, d] and each token's character span. Tokens are encoded in
chunks, and only a running top list per latent is kept, so [all tokens, d_sae] is never held.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import torch

CHUNK_TOKENS = 4096
_WORD = re.compile(r"[A-Za-z']+")


@dataclass(frozen=True)
class Example:
    text: int  # index of the text among those read
    token: str  # the token as it appears in the text (or the tokenizer's name for a special token)
    left: str  # a few words before it
    right: str  # a few words after it
    activation: float


@dataclass(frozen=True)
class Card:
    latent: int
    fires: int  # tokens on which it is > 0
    firing_rate: float  # fires / tokens
    mean_when_firing: float
    max_activation: float
    decoder_norm: float
    concept_share: float | None  # share of its activation (summed over tokens) on the concept's words
    top: tuple[Example, ...] = ()


@dataclass(frozen=True)
class TokenText:
    """One text as the model read it: its tokens' character spans ((0, 0) for a special token) and
    the token strings, in the order of the hidden states."""

    text: str
    spans: tuple[tuple[int, int], ...]
    names: tuple[str, ...]


@dataclass(frozen=True)
class FeatureCards:
    sae: dict  # artifact_sha256, weights sha256, source, activation, k, d_in, d_sae
    model: str
    layer: int
    split: str
    texts: int
    tokens: int
    concept: dict | None  # {"name", "words", "token_rate"}: what the share is of, and its base rate
    dead: int  # latents that never fired on these texts
    order: str  # how the cards are sorted
    cards: tuple[Card, ...]
    latents: dict = field(default_factory=dict)  # per latent, every latent: firing_rate, concept_share, decoder_norm

    def to_dict(self) -> dict:
        out = asdict(self)
        out = {"format": "fairfight-feature-cards", "version": 1, **out}
        return out


def concept_mask(tt: TokenText, words: frozenset) -> torch.Tensor:
    """Per token: does its character span overlap a word of the concept (case-insensitive)."""
    marked = bytearray(len(tt.text) + 1)
    for m in _WORD.finditer(tt.text):
        if m.group(0).lower() in words:
            marked[m.start():m.end()] = b"\x01" * (m.end() - m.start())
    return torch.tensor([any(marked[a:b]) if b > a else False for a, b in tt.spans], dtype=torch.bool)


def context(tt: TokenText, position: int, words: int = 8) -> tuple[str, str, str]:
    """(left, token, right): the token as written and about `words` words either side."""
    a, b = tt.spans[position]
    if b <= a:  # a special token ([CLS], <s>, ...): no place in the text; show the text's start after it
        return "", tt.names[position], _words(tt.text, 0, words, forward=True)
    return _words(tt.text, a, words, forward=False), tt.text[a:b], _words(tt.text, b, words, forward=True)


def _words(text: str, at: int, n: int, *, forward: bool) -> str:
    if forward:
        part = text[at:at + 12 * n]
        pieces = part.split(" ")
        out = " ".join(pieces[:n + 1])
        return out + ("…" if len(pieces) > n + 1 or at + 12 * n < len(text) else "")
    part = text[max(0, at - 12 * n):at]
    pieces = part.split(" ")
    out = " ".join(pieces[-(n + 1):])
    return ("…" if len(pieces) > n + 1 or at - 12 * n > 0 else "") + out


def compute_cards(sae, states, texts: list[TokenText], *, concept_words=None, concept_name=None, top: int = 8,
                  cards: int = 100, latents=None, min_fires: int = 3, progress=None, meta=None) -> FeatureCards:
    """Cards for `sae` from per-text token states (`states[i]`: [tokens_i, d_in], aligned with
    texts[i].spans). Which latents get a card: `latents` if given; else the `cards` latents with
    the largest concept share among those firing on at least `min_fires` tokens (with a
    concept), or the most often firing ones (without)."""
    if len(states) != len(texts):
        raise ValueError(f"{len(states)} state blocks for {len(texts)} texts")
    d_sae = sae.d_sae
    words = frozenset(w.lower() for w in concept_words) if concept_words else None
    flat = torch.cat([torch.as_tensor(s, dtype=torch.float32).reshape(-1, sae.d_in) for s in states]) \
        if states else torch.zeros((0, sae.d_in))
    owner = torch.repeat_interleave(torch.arange(len(texts)), torch.tensor([len(t.spans) for t in texts]))
    position = torch.cat([torch.arange(len(t.spans)) for t in texts]) if texts else torch.zeros(0, dtype=torch.long)
    on_concept = torch.cat([concept_mask(t, words) for t in texts]) if words and texts else None
    total = flat.shape[0]
    keep = min(3 * top, max(total, 1))  # candidates per latent, so `top` distinct texts remain
    fires = torch.zeros(d_sae, dtype=torch.long)
    mass = torch.zeros(d_sae, dtype=torch.float64)
    concept_mass = torch.zeros(d_sae, dtype=torch.float64)
    best_val = torch.full((0, d_sae), float("-inf"))
    best_idx = torch.zeros((0, d_sae), dtype=torch.long)
    with torch.no_grad():
        for start in range(0, total, CHUNK_TOKENS):
            z = sae.encode(flat[start:start + CHUNK_TOKENS])
            fires += (z > 0).sum(0)
            mass += z.sum(0, dtype=torch.float64)
            if on_concept is not None:
                concept_mass += z[on_concept[start:start + CHUNK_TOKENS]].sum(0, dtype=torch.float64)
            k = min(keep, z.shape[0])
            t = z.topk(k, dim=0)
            vals = torch.cat([best_val, t.values])
            idx = torch.cat([best_idx, t.indices + start])
            order = vals.topk(min(keep, vals.shape[0]), dim=0)
            best_val, best_idx = order.values, idx.gather(0, order.indices)
            if progress:
                progress(min(start + CHUNK_TOKENS, total), total)
    norms = sae.W_dec.norm(dim=-1)
    share = (concept_mass / mass.clamp(min=1e-12)).float() if on_concept is not None else None
    if share is not None:
        share = torch.where(mass > 0, share, torch.zeros_like(share))
    if latents is not None:
        chosen = [int(x) for x in latents]
        bad = [x for x in chosen if not 0 <= x < d_sae]
        if bad:
            raise ValueError(f"latent(s) {bad} out of range: the SAE has {d_sae} latents")
        order_text = "as asked"
    elif share is not None:
        score = torch.where(fires >= min_fires, share, torch.full_like(share, -1.0))
        chosen = [int(i) for i in score.topk(min(cards, d_sae)).indices if score[i] >= 0]
        order_text = f"largest share of activation on the concept's words first (latents firing on >= {min_fires} tokens)"
    else:
        chosen = [int(i) for i in fires.topk(min(cards, d_sae)).indices if fires[i] > 0]
        order_text = "most often firing first"
    out = []
    for i in chosen:
        examples, seen = [], set()
        for v, flat_i in zip(best_val[:, i].tolist(), best_idx[:, i].tolist()):
            if v <= 0 or len(examples) >= top:
                break
            text_i = int(owner[flat_i])
            if text_i in seen:
                continue
            seen.add(text_i)
            left, tok, right = context(texts[text_i], int(position[flat_i]))
            examples.append(Example(text_i, tok, left, right, round(float(v), 4)))
        n = int(fires[i])
        out.append(Card(i, n, round(n / max(total, 1), 6), round(float(mass[i]) / n, 4) if n else 0.0,
                        round(float(best_val[0, i]) if best_val.shape[0] else 0.0, 4) if n else 0.0,
                        round(float(norms[i]), 4), None if share is None else round(float(share[i]), 4),
                        tuple(examples)))
    concept = None
    if words is not None:
        rate = float(on_concept.float().mean()) if total else 0.0
        concept = {"name": concept_name, "words": len(words), "token_rate": round(rate, 6)}
    every = {"firing_rate": [round(int(f) / max(total, 1), 6) for f in fires],
             "decoder_norm": [round(float(x), 4) for x in norms]}
    if share is not None:
        every["concept_share"] = [round(float(x), 4) for x in share]
    meta = meta or {}
    return FeatureCards(sae=meta.get("sae", {"sha256": sae.sha256, "d_sae": d_sae}), model=meta.get("model", ""),
                        layer=meta.get("layer", -1), split=meta.get("split", ""), texts=len(texts), tokens=total,
                        concept=concept, dead=int((fires == 0).sum()), order=order_text, cards=tuple(out),
                        latents=every)


__all__ = ["Card", "Example", "FeatureCards", "TokenText", "compute_cards", "concept_mask", "context"]
