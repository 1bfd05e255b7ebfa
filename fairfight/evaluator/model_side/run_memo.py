"""What a run's model calls computed, by everything the result depends on, so the same request
again costs nothing (trusted side: the model server, or the in-process handle).

The batch check predicts up to 64 evaluation inputs a second time in another composition; a
contender that asks the same thing the second time (an honest one) would make the server compute
it again. A prompt's greedy decoding (generation.py: batch-invariant) is a pure function of (model, edits, prompt
tokens, max_new_tokens); a continuation's log-probability is one up to float noise of the padded
batch it was computed in, which the batch check's tolerance is for (the memo gives the first
value). So they are remembered, per run: never shared across runs, because a hit is faster than a
computation, and a contender must not learn from timing what another run asked. Models are held
weakly: a tuned model freed and another made at its address is a new model.
"""
from __future__ import annotations

import hashlib
import pickle
import weakref
from array import array
from collections import OrderedDict


class RunMemo:
    def __init__(self, size: int = 32768, state_bytes: int = 256 << 20):
        self.size = size  # per model; keys are 32-byte digests, values texts or floats
        self.state_bytes = state_bytes  # per model: key-value caches of prompts' earlier turns (decoding.py)
        self._by_model: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._states: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @staticmethod
    def edits_key(edits) -> bytes:
        # the exact floats (pickle keeps -0.0 and NaN bits that == and hash() would merge)
        return hashlib.sha256(pickle.dumps(tuple(edits), protocol=4)).digest()

    @staticmethod
    def key(kind: str, edits_key: bytes, ids, *extra) -> bytes:
        """A request's key: what it is, the edits' key, its token ids and anything else it depends on."""
        h = hashlib.sha256(kind.encode() + b"\0" + edits_key)
        h.update(array("q", ids).tobytes())
        h.update(repr(extra).encode())
        return h.digest()

    def get(self, model, key: bytes):
        values = self._by_model.get(model)
        if values is None or key not in values:
            return None
        values.move_to_end(key)
        return values[key]

    def get_state(self, model, key: bytes):
        states = self._states.get(model)
        if states is None or key not in states:
            return None
        states.move_to_end(key)
        return states[key][0]

    def put_state(self, model, key: bytes, state, size: int) -> None:
        """Remember a computed state of `size` bytes; the least recently used go past state_bytes."""
        states = self._states.setdefault(model, OrderedDict())
        states[key] = (state, size)
        while len(states) > 1 and sum(s for _, s in states.values()) > self.state_bytes:
            states.popitem(last=False)

    def put(self, model, key: bytes, value) -> None:
        values = self._by_model.setdefault(model, OrderedDict())
        values[key] = value
        if len(values) > self.size:
            values.popitem(last=False)
