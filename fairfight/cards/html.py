"""cards.html: one self-contained page (inline CSS, a small inline script for the selection, no
network), in the report's style; and cards.json beside it."""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from .compute import FeatureCards


def _pct(x) -> str:
    x = float(x) * 100
    return f"{x:.2g}%" if 0 < x < 1 else f"{x:.1f}%"


def render_cards_html(cards: FeatureCards | dict) -> str:
    import jinja2

    c = cards.to_dict() if isinstance(cards, FeatureCards) else cards
    text = resources.files("fairfight.cards").joinpath("templates/cards.html.j2").read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.policies["json.dumps_kwargs"] = {"sort_keys": False}  # the selection's keys in the documented order
    base = {"format": "fairfight-selection", "version": 1, "sae_sha256": c["sae"].get("artifact_sha256"),
            "layer": c["layer"], "latents": [], "chosen_by": "", "why": "",
            "cards": {"split": c["split"], "texts": c["texts"], "concept": (c.get("concept") or {}).get("name")}}
    return env.from_string(text).render(c=_Obj(c), pct=_pct, title=f"feature cards: layer {c['layer']}",
                                        selection_base=base)


class _Obj(dict):
    """Attribute access for the template (c.sae.d_sae), on the JSON form."""

    def __getattr__(self, name):
        try:
            value = self[name]
        except KeyError:
            raise AttributeError(name) from None
        return _wrap(value)


def _wrap(value):
    if isinstance(value, dict):
        return _Obj(value)
    if isinstance(value, (list, tuple)):
        return [_wrap(v) for v in value]
    return value


def write_cards(cards: FeatureCards, folder) -> tuple[Path, Path]:
    """Write FOLDER/cards.html and FOLDER/cards.json; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = cards.to_dict()
    html_path, json_path = folder / "cards.html", folder / "cards.json"
    html_path.write_text(render_cards_html(data), encoding="utf-8")
    json_path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return html_path, json_path


__all__ = ["render_cards_html", "write_cards"]
