"""Shared forward passes on disk: computed once, shared by every eval that uses the same user cache
(the `forward` area of fairfight/cache.py, which evicts least recently used entries past its cap).

Two kinds of entry, each keyed by the model's identity and the exact list of texts:
- pooled: (pool, edits, layers) -> one .npy per layer, [n, hidden];
  plain pooled entries (no edits) are also indexed per text (`plain`): a read of texts that
  earlier entries hold between them takes its rows from them, and only the texts no entry
  holds are computed. The evaluation inputs reach a predictor in chunks drawn per run, so a
  contender that reads texts of its own making (token_deletion's edited texts) reads them in a
  different composition at every seed: without the index each seed computed them again;
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
import threading
from contextlib import contextmanager
from pathlib import Path

from ...cache import touch

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
        texts = [t for t in texts if isinstance(t, str)]  # chat prompts (generation) have no pooled reads
        self.universes.append((texts, frozenset(texts)))

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
    def plain(self, texts, pool, layers, compute) -> dict:
        """layer -> tensor [n, d] of the plain pooled pass: each text's rows from whichever entry
        holds the text; `compute(missing)` runs once for the texts that none holds (in order)."""
        layers = list(layers)
        key = self.key("pooled", texts, layers, pool, [])
        if (self.root / key / "done").exists():
            touch(self.root / key)
            return self._read_pooled(self.root / key, layers)
        index = TextIndex.of(self.root, self.key("by-text", [], layers, pool))
        digests = [_digest(t) for t in texts]
        found = index.lookup(digests)
        todo = {t: d for t, d in zip(texts, digests) if d not in found}  # each text once, in order
        if not todo:
            return self._gather(found, digests, layers)
        missing, ids = list(todo), list(todo.values())
        sub = key if len(missing) == len(texts) else self.key("pooled", missing, layers, pool, [])
        computed = self._entry(sub, lambda: compute(missing), lambda f, r: self._write_pooled(f, r, ids),
                               lambda f: self._read_pooled(f, layers), f"{len(missing)} {layers} {pool}",
                               len(missing), on_write=index.add)
        if sub == key:
            return computed
        return self._gather(found, digests, layers, extra=(ids, computed))

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

    def stored_sae(self, texts, layer, params: dict):
        """The SAE an earlier run trained on the plain token states of `texts` at `layer` with
        `params` (sae_cache.py), or None: none stored, or the stored one fails its sha256 check."""
        from . import sae_cache

        folder = self.root / self.key("sae", texts, layer, params)
        with _trusted():
            return sae_cache.read(folder) if (folder / "done").exists() else None

    def sae(self, texts, layer, params: dict, compute):
        """(SAE, reused): `compute()` trains it unless another run stored (or is training) the same one."""
        from . import sae_cache

        key = self.key("sae", texts, layer, params)
        trained = []

        def train():
            trained.append(True)
            return compute()

        sae = self._entry(key, train, sae_cache.write, sae_cache.read, f"{len(texts)} sae@{layer} "
                          f"{params.get('width')}x{params.get('k')} {params.get('steps')} steps", 1 << 30)
        if sae is None:  # the stored entry fails its check: train again, keep nothing
            sae, trained = compute(), [True]
        return sae, not trained

    # -- machinery -----------------------------------------------------------------------------
    def _entry(self, key, compute, write, read, note, size, on_write=None):
        from ..contender_side import guard

        folder = self.root / key
        with guard.trusted(), self._lock(f"{key}.lock"):
            if (folder / "done").exists():
                touch(folder)  # the user cache evicts the least recently used entries first
                return read(folder)
            with self._exclusive(size > SMALL_PASS):
                result = compute()
            write(folder, result)
            if on_write is not None:
                on_write(key)
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

    def _gather(self, found: dict, digests: list, layers, extra=None) -> dict:
        """The rows of `digests`, in order: from the entries that hold them (read memory-mapped),
        and from `extra` = (digests, {layer: rows}) just computed."""
        import numpy as np
        import torch

        sources: dict = {}
        for i, d in enumerate(digests):
            if d in found:
                sources.setdefault(found[d][0], []).append((i, found[d][1]))
        if extra is not None:
            where = {d: row for row, d in enumerate(extra[0])}
            sources[None] = [(i, where[d]) for i, d in enumerate(digests) if d not in found]
        out = {}
        for layer in layers:
            rows = None
            for entry, pairs in sources.items():
                block = (extra[1][layer].numpy() if entry is None else
                         np.load(self.root / entry / f"layer{layer}.npy", mmap_mode="r"))
                if rows is None:
                    rows = np.zeros((len(digests), block.shape[1]), dtype=np.float32)
                rows[[i for i, _ in pairs]] = block[[r for _, r in pairs]]
            out[layer] = torch.from_numpy(rows)
        return out

    @staticmethod
    def _write_pooled(folder: Path, result: dict, digests=None) -> None:
        import numpy as np

        files = {f"layer{layer}.npy": (lambda p, t=tensor: np.save(p, t.numpy())) for layer, tensor in result.items()}
        if digests is not None:  # which text each row is (the per-text index reads it)
            files["texts.npy"] = lambda p: np.save(p, np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(-1, 32))
        _write(folder, files)

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


def _trusted():
    from ..contender_side import guard

    return guard.trusted()


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


class TextIndex:
    """text sha256 -> (entry, row) over the plain pooled entries of one (model, layers, pool).

    On disk: `.by-text/<family>.log`, one line per entry, appended once the entry is complete
    (entries are immutable, so a line never goes stale). In memory: one index per process and
    family, brought up to date from the log's tail at each lookup (the model server's runs share it).
    """

    _open: dict = {}
    _guard = threading.Lock()

    def __init__(self, root: Path, family: str):
        self.root, self.log = root, root / ".by-text" / f"{family}.log"
        self.rows: dict[bytes, tuple[str, int]] = {}
        self.read_to = 0
        self.lock = threading.Lock()

    @classmethod
    def of(cls, root: Path, family: str) -> "TextIndex":
        with cls._guard:
            key = (str(root), family)
            if key not in cls._open:
                cls._open[key] = cls(root, family)
            return cls._open[key]

    def add(self, entry: str) -> None:
        self.log.parent.mkdir(exist_ok=True)
        with open(self.log, "ab") as log:  # one short appended line: atomic
            log.write(entry.encode() + b"\n")

    def lookup(self, digests) -> dict:
        with self.lock:
            self._read_tail()
            found = {d: self.rows[d] for d in digests if d in self.rows}
            if any(not (self.root / e / "done").exists() for e in {e for e, _ in found.values()}):
                # an entry was deleted by hand (a cache may be pruned any time): index the live ones again
                self.rows, self.read_to = {}, 0
                self._read_tail()
                found = {d: self.rows[d] for d in digests if d in self.rows}
            for entry in {e for e, _ in found.values()}:
                touch(self.root / entry)
            return found

    def _read_tail(self) -> None:
        import numpy as np

        if not self.log.exists():
            return
        with open(self.log, "rb") as log:
            log.seek(self.read_to)
            tail = log.read()
        complete = tail[: tail.rfind(b"\n") + 1]  # a line still being appended waits for the next lookup
        self.read_to += len(complete)
        for entry in complete.decode().split():
            if not (self.root / entry / "done").exists():  # deleted since it was logged
                continue
            for row, d in enumerate(np.load(self.root / entry / "texts.npy")):
                self.rows.setdefault(bytes(d), (entry, row))


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
