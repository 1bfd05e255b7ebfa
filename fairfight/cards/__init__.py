"""Feature cards: per SAE latent, its firing rate, top-activating contexts, share of activation
on a concept's words and decoder norm, drawn from granted text on the trusted side, as a
self-contained HTML page (where a person ticks the latents to keep: selection.json) and JSON.

    from fairfight.cards import feature_cards, write_cards
    cards = feature_cards("spec.yaml", sae="gender_sae", split="generic", layer=4, concept="spurious_concept")
    write_cards(cards, "cards/")

`fairfight features SPEC --sae PATH --split NAME --layer L` does the same. See docs/feature-cards.md.
"""
from __future__ import annotations


def __getattr__(name):  # lazy: importing fairfight.cards imports no torch
    if name == "feature_cards":
        from .build import feature_cards

        return feature_cards
    if name in ("write_cards", "render_cards_html"):
        from . import html

        return getattr(html, name)
    if name in ("compute_cards", "FeatureCards", "Card", "Example", "TokenText"):
        from . import compute

        return getattr(compute, name)
    raise AttributeError(name)


__all__ = ["feature_cards", "write_cards", "render_cards_html", "compute_cards", "FeatureCards", "Card", "Example",
           "TokenText"]
