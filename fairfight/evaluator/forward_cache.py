"""Shared forward passes: pooled hidden states computed once and served to every run.

Keyed by (model identity, the exact list of texts, layers, pooling, edits); stored as one
.npy file per layer (memory-mapped when read), written atomically; a lock file makes a second
asker wait for the first instead of computing the same pass twice. Ledgers still record each
run's logical use, so budgets and the affordance matrix do not depend on the cache.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
from contextlib import contextmanager
from pathlib import Path

CACHE_VERSION = 1


class ForwardCache:
    def __init__(self, root, model_identity: dict):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.model = hashlib.sha256(json.dumps(model_identity, sort_keys=True, default=str).encode()).hexdigest()

    def key(self, texts, layers, pool, edits) -> str:
        h = hashlib.sha256()
        h.update(json.dumps([CACHE_VERSION, self.model, list(layers), pool, list(edits)], sort_keys=True,
                            default=str).encode())
        for t in texts:
            h.update(hashlib.sha256(t.encode()).digest())
        return h.hexdigest()[:32]

    def get_or_compute(self, texts, layers, pool, edits, compute) -> dict:
        """layer -> tensor [n, d]; `compute()` runs only if no other run has (or is) computing it."""
        from . import guard

        key = self.key(texts, layers, pool, edits)
        folder = self.root / key
        with guard.trusted(), self._lock(key):
            if not (folder / "done").exists():
                result = compute()
                self._write(folder, result)
                with open(self.root / "computed.log", "a", encoding="utf-8") as log:
                    log.write(f"{key} {len(texts)} {list(layers)} {pool}\n")
                return result
            return self._read(folder, layers)

    @contextmanager
    def _lock(self, key):
        with open(self.root / f"{key}.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @staticmethod
    def _write(folder: Path, result: dict) -> None:
        import numpy as np

        from .bundle import write_dir_atomic

        def fill(tmp):
            for layer, tensor in result.items():
                np.save(tmp / f"layer{layer}.npy", tensor.numpy())
            (tmp / "done").write_text("ok")

        write_dir_atomic(folder, fill)

    @staticmethod
    def _read(folder: Path, layers) -> dict:
        import numpy as np
        import torch

        return {layer: torch.from_numpy(np.array(np.load(folder / f"layer{layer}.npy", mmap_mode="r")))
                for layer in layers}


def computations(root) -> list[str]:
    """Every pass computed in this cache, one line each (for tests and benchmarks)."""
    path = Path(root) / "computed.log"
    return path.read_text().splitlines() if path.exists() else []
