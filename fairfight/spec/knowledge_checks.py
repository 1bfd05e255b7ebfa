"""Semantic checks of knowledge artifacts that are selections of SAE latents (selection.json):
the selection must be well formed and name, by its artifact hash, an SAE folder granted in the
same rules, whose latents it indexes. A mixin of `semantics.Checker`; no torch."""
from __future__ import annotations

import json

from ._access import _d, _s


class KnowledgeChecks:
    def check_selections(self):
        from ..errors import FairfightError
        from ..knowledge import artifact_sha256, sae_layout
        from ..selection import looks_like_selection, parse_selection, sae_latent_count

        items = {name: _s(_d(item).get("artifact")) for name, item in _d(self.rules().get("knowledge")).items()}
        files = {name: self.base_dir / a for name, a in items.items() if a and (self.base_dir / a).exists()}
        saes = {name: p for name, p in files.items() if sae_layout(p) is not None}
        hashes = None
        for name, path in files.items():
            if not path.is_file() or path.suffix.lower() != ".json":
                continue
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if not looks_like_selection(data):
                continue
            at = ("rules", "knowledge", name, "artifact")
            try:
                selection = parse_selection(data, where=f"selection '{items[name]}'")
            except FairfightError as exc:
                self.error(at, str(exc))
                continue
            if hashes is None:
                hashes = {n: artifact_sha256(p) for n, p in saes.items()}
            matching = [n for n, h in hashes.items() if h == selection.sae_sha256]
            if not matching:
                granted = "; ".join(f"'{n}' has {h}" for n, h in sorted(hashes.items())) or "none is granted"
                self.error(at, f"selection '{items[name]}' was made for the SAE with sha256 "
                               f"{selection.sae_sha256}, but no SAE folder in rules.knowledge has that hash "
                               f"({granted}); grant the SAE it was made for, or remake the selection from "
                               "that SAE's feature cards")
                continue
            d_sae = sae_latent_count(saes[matching[0]])
            if d_sae is not None and selection.latents[-1] >= d_sae:
                out = [x for x in selection.latents if x >= d_sae]
                self.error(at, f"selection '{items[name]}' names latent{'s' if len(out) > 1 else ''} "
                               f"{', '.join(map(str, out))}, but the SAE '{matching[0]}' has {d_sae} latents")
