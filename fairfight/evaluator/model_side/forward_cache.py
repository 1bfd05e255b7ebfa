"""Shared forward passes on disk: computed once per eval (or across evals with --cache).

Two kinds of entry, each keyed by the model's identity and the exact list of texts:
- pooled: (pool, edits, layers) -> one .npy per layer, [n, hidden];
- states: the plain token-level hidden states at one layer, [total tokens, hidden] plus
  offsets, from which an edited pass resumes (see passes.py).
Entries are written atomically and read memory-mapped; a lock file per entry makes a second
asker wait for the first instead of computing the same pass twice. With `pass_threads` (the
local executor's workers, which share one machine), one lock for the whole cache lets only one
pass compute at a time, on that many torch threads (all the cores), instead of passes splitting
the cores and slowing each other down. Ledgers still record each run's logical use, so budgets
and the affordance matrix do not depend on the cache.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
from contextlib import contextmanager
from pathlib import Path

CACHE_VERSION = 2  # 2: plain entries hold every layer; token-level states entries
SMALL_PASS = 64  # texts: a pass this small computes without waiting for the machine's pass lock


class ForwardCache:
    shared = True

    def __init__(self, root, model_identity: dict, *, pass_threads: int | None = None, universes=()):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.model = hashlib.sha256(json.dumps(model_identity, sort_keys=True, default=str).encode()).hexdigest()
        self.pass_threads = pass_threads
        self.universes = [(list(u), frozenset(u)) for u in universes]

    def add_universe(self, texts) -> None:
        """Serve reads of subsets of `texts` (the evaluation inputs, predicted in chunks) from one
        pass over all of them: shared by every contender, and the same rows whatever the chunk."""
        self.universes.append((list(texts), frozenset(texts)))

    def universe_for(self, texts) -> list | None:
        """A whole split (evaluate.resample) that holds every one of `texts`, if `texts` is a sample of one:
        plain passes then run over the whole split once and each seed's sample takes its rows."""
        for universe, members in self.universes:
            if len(texts) and list(texts) != universe and members.issuperset(texts):
                return universe
        return None

    def key(self, kind, texts, *parts) -> str:
        h = hashlib.sha256()
        h.update(json.dumps([CACHE_VERSION, kind, self.model, *parts], sort_keys=True, default=str).encode())
        for t in texts:
            h.update(hashlib.sha256(t.encode()).digest())
        return h.hexdigest()[:32]

    # -- the two kinds of entry ------------------------------------------------------------
    def pooled(self, texts, pool, edits, layers, compute) -> dict:
        """layer -> tensor [n, d]; `compute()` runs only if no other run has (or is) computing it."""
        key = self.key("pooled", texts, list(layers), pool, [_as_dict(e) for e in edits])
        return self._entry(key, compute, self._write_pooled, lambda folder: self._read_pooled(folder, layers),
                           f"{len(texts)} {list(layers)} {pool}" + (" edited" if edits else ""), len(texts))

    def states(self, texts, layer, compute):
        """(flat [total tokens, d] float32, offsets [n+1]) of the plain pass at `layer`."""
        key = self.key("states", texts, layer)
        return self._entry(key, compute, self._write_states, self._read_states, f"{len(texts)} states@{layer}",
                           len(texts))

    # -- machinery -----------------------------------------------------------------------------
    def _entry(self, key, compute, write, read, note, size):
        from ..contender_side import guard

        folder = self.root / key
        with guard.trusted(), self._lock(f"{key}.lock"):
            if (folder / "done").exists():
                return read(folder)
            with self._exclusive(size > SMALL_PASS):
                result = compute()
            write(folder, result)
            with open(self.root / "computed.log", "a", encoding="utf-8") as log:
                log.write(f"{key} {note}\n")
            return result

    @contextmanager
    def _exclusive(self, wanted: bool):
        if not (self.pass_threads and wanted):
            yield
            return
        import torch

        with self._lock("compute.lock"):
            before = torch.get_num_threads()
            torch.set_num_threads(int(self.pass_threads))
            try:
                yield
            finally:
                torch.set_num_threads(before)

    @contextmanager
    def _lock(self, name):
        with open(self.root / name, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @staticmethod
    def _write_pooled(folder: Path, result: dict) -> None:
        import numpy as np

        _write(folder, {f"layer{layer}.npy": (lambda p, t=tensor: np.save(p, t.numpy()))
                        for layer, tensor in result.items()})

    @staticmethod
    def _read_pooled(folder: Path, layers) -> dict:
        import numpy as np
        import torch

        return {layer: torch.from_numpy(np.array(np.load(folder / f"layer{layer}.npy", mmap_mode="r")))
                for layer in layers}

    @staticmethod
    def _write_states(folder: Path, result) -> None:
        import numpy as np

        flat, offsets = result
        _write(folder, {"states.npy": lambda p: np.save(p, flat), "offsets.npy": lambda p: np.save(p, offsets)})

    @staticmethod
    def _read_states(folder: Path):
        import numpy as np

        return np.load(folder / "states.npy", mmap_mode="r"), np.load(folder / "offsets.npy")


def _write(folder: Path, files: dict) -> None:
    from ..orchestration.bundle import write_dir_atomic

    def fill(tmp):
        for name, save in files.items():
            save(tmp / name)
        (tmp / "done").write_text("ok")

    write_dir_atomic(folder, fill)


def _as_dict(edit):
    return edit.to_dict() if hasattr(edit, "to_dict") else edit


def computations(root) -> list[str]:
    """Every pass computed in this cache, one line each (for tests and benchmarks)."""
    path = Path(root) / "computed.log"
    return path.read_text().splitlines() if path.exists() else []
