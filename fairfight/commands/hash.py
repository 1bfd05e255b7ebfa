"""`fairfight hash PATH...`: the sha256 to write for a knowledge artifact.

One hash per artifact, the same everywhere a spec or a file names one: `rules.knowledge.NAME.sha256`,
a selection's `sae.sha256`, the ledger's record of the read and the run keys. For a file it is
the sha256 of its bytes; for a folder (an SAE) the sha256 of its files' relative paths and
hashes (fairfight.knowledge.artifact_sha256). No torch: it reads bytes only.
"""
from __future__ import annotations

import sys
from pathlib import Path

EXIT_OK, EXIT_INVALID = 0, 2


def run_hash(paths: list[str]) -> int:
    from ..knowledge import artifact_sha256

    status = EXIT_OK
    for path in paths:
        p = Path(path)
        if not (p.is_file() or p.is_dir()):
            print(f"error: '{path}' is neither a file nor a folder", file=sys.stderr)
            status = EXIT_INVALID
            continue
        digest = artifact_sha256(p)
        print(digest if len(paths) == 1 else f"{digest}  {path}")
    return status
