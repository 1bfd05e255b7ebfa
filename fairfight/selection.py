"""A person's (or a model's) choice of SAE latents, as knowledge: `selection.json`.

SHIFT's human step (Marks et al. 2025): someone reads each candidate latent's top-activating
contexts and keeps the ones about the spurious concept. Here the choice is a small file, granted
in `rules.knowledge` like any prior, and named on the verdicts of every method that reads it
(human judgement is an affordance no baseline has):

    {"format": "fairfight-selection", "version": 1,
     "sae_sha256": "<the SAE folder's artifact hash: `fairfight hash FOLDER`>",
     "layer": 4, "latents": [12, 80, 311],
     "chosen_by": "a person reading the feature cards", "why": "these fire on she/her/his/he",
     "notes": {"12": "she, her"}}                       # optional: a word per latent

`sae_sha256` is the artifact hash of the SAE's folder (fairfight.knowledge.artifact_sha256),
the one hash a spec's `sha256:` takes too; `validate` checks it against the SAE folders granted
in the same rules. Nothing here imports torch (validate reads selections).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import FairfightError

FORMAT = "fairfight-selection"
VERSION = 1
FIELDS = ("format", "version", "sae_sha256", "layer", "latents", "chosen_by", "why", "notes", "cards")
_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Selection:
    sae_sha256: str  # the SAE folder's artifact hash
    layer: int
    latents: tuple[int, ...]  # sorted, distinct
    chosen_by: str  # who chose: "a person ...", "an AI assistant reading the feature cards"
    why: str
    notes: dict = field(default_factory=dict)  # latent (str) -> a few words
    cards: dict = field(default_factory=dict)  # where the cards came from (split, texts, concept), if known

    def to_dict(self) -> dict:
        out = {"format": FORMAT, "version": VERSION, "sae_sha256": self.sae_sha256, "layer": self.layer,
               "latents": list(self.latents), "chosen_by": self.chosen_by, "why": self.why}
        if self.notes:
            out["notes"] = dict(self.notes)
        if self.cards:
            out["cards"] = dict(self.cards)
        return out

    def judgement(self) -> str:
        """One line for reports and lints: what was chosen, by whom."""
        return (f"{len(self.latents)} SAE latent{'s' if len(self.latents) != 1 else ''} at layer {self.layer} "
                f"chosen by {self.chosen_by}")


def looks_like_selection(data) -> bool:
    return isinstance(data, dict) and data.get("format") == FORMAT


def parse_selection(data, where: str = "selection") -> Selection:
    """A Selection from a selection.json's text, bytes or parsed object; FairfightError naming
    every problem otherwise."""
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise FairfightError(f"{where}: not JSON ({exc})") from None
    if not looks_like_selection(data):
        raise FairfightError(f"{where}: not a selection (a JSON object with \"format\": \"{FORMAT}\")")
    problems = []
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        problems.append(f"unknown key(s) {', '.join(unknown)} (known: {', '.join(FIELDS)})")
    if data.get("version", VERSION) != VERSION:
        problems.append(f"version {data.get('version')!r} is not {VERSION}")
    sha = data.get("sae_sha256")
    if not isinstance(sha, str) or not _HEX.fullmatch(sha):
        problems.append("sae_sha256 must be the SAE folder's artifact hash, 64 lowercase hex digits "
                        "(`fairfight hash FOLDER` prints it)")
    layer = data.get("layer")
    if isinstance(layer, bool) or not isinstance(layer, int):
        problems.append(f"layer must be an int, got {layer!r}")
    latents = data.get("latents")
    if (not isinstance(latents, list) or not latents
            or any(isinstance(x, bool) or not isinstance(x, int) or x < 0 for x in latents)):
        problems.append("latents must be a non-empty list of latent indices (ints >= 0)")
    elif len(set(latents)) != len(latents):
        problems.append("latents lists a latent twice")
    for key in ("chosen_by", "why"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            problems.append(f"{key} must say {'who chose' if key == 'chosen_by' else 'why'} (a non-empty string)")
    notes = data.get("notes", {})
    if not isinstance(notes, dict) or not all(isinstance(v, str) for v in notes.values()):
        problems.append("notes must map latents to strings")
    cards = data.get("cards", {})
    if not isinstance(cards, dict):
        problems.append("cards must be an object")
    if problems:
        raise FairfightError(f"{where}: " + "; ".join(problems))
    return Selection(sha, layer, tuple(sorted(latents)), data["chosen_by"].strip(), data["why"].strip(),
                     {str(k): v for k, v in notes.items()}, dict(cards))


def read_selection(path) -> Selection | None:
    """The selection in a file, or None if the file is not one (not JSON, or no selection format)."""
    path = Path(path)
    if not path.is_file() or path.suffix.lower() != ".json":
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return parse_selection(data, where=str(path.name)) if looks_like_selection(data) else None


def sae_latent_count(folder) -> int | None:
    """d_sae of an SAE folder, from its config alone (no torch): SAELens cfg.json d_sae, or
    dictionary_learning config.json trainer.dict_size; None when the config does not say."""
    folder = Path(folder)
    for name, keys in (("cfg.json", ("d_sae",)), ("config.json", ("trainer", "dict_size"))):
        try:
            value = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


__all__ = ["Selection", "FORMAT", "parse_selection", "read_selection", "looks_like_selection", "sae_latent_count"]
