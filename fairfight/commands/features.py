"""`fairfight features SPEC --sae PATH --split NAME --layer L`: feature cards (HTML and JSON)."""
from __future__ import annotations

import sys
from dataclasses import dataclass

EXIT_OK, EXIT_INVALID = 0, 2


@dataclass
class FeaturesOptions:
    spec: str
    sae: str
    split: str
    layer: int
    out: str
    concept: str | None = None
    limit: int | None = None
    latents: tuple = ()
    cards: int = 100
    top: int = 8
    min_fires: int = 3
    device: str | None = None
    overrides: tuple = ()


def run_features(o: FeaturesOptions) -> int:
    from ..cards.build import feature_cards, print_progress
    from ..cards.html import write_cards
    from ..errors import FairfightError, SpecError
    from ..spec.check import load_spec

    try:
        spec = load_spec(o.spec, list(o.overrides))
    except SpecError as exc:
        for d in exc.diagnostics:
            print(d.render(), file=sys.stderr)
        return EXIT_INVALID
    try:
        cards = feature_cards(spec, sae=o.sae, split=o.split, layer=o.layer, concept=o.concept, limit=o.limit,
                              latents=list(o.latents) or None, cards=o.cards, top=o.top, min_fires=o.min_fires,
                              device=o.device, progress=print_progress)
    except (FairfightError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    html_path, json_path = write_cards(cards, o.out)
    print(html_path)
    print(json_path)
    return EXIT_OK
