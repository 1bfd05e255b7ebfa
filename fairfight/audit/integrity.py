"""Is the bundle as eval wrote it? Every evidence file against the sha256 manifest."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..evaluator.orchestration.bundle import MANIFEST, sealed_files


def check_integrity(root: Path, finding) -> None:
    path = root / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError):
        finding("integrity", f"{MANIFEST} is missing or unreadable: nothing in the bundle can be vouched for")
        return
    present = set(sealed_files(root))
    for rel, digest in sorted(manifest.items()):
        if rel not in present:
            finding("integrity", f"missing file: {rel}")
        elif hashlib.sha256((root / rel).read_bytes()).hexdigest() != digest:
            finding("integrity", f"edited file: {rel} (its sha256 differs from the manifest)")
    for rel in sorted(present - set(manifest)):
        finding("integrity", f"added file: {rel} (not in the manifest)")
