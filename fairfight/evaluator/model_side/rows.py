"""One-token passes whose rows are prompts of any lengths, each computed as if it were alone.

A pass runs on exactly as many rows as it has slots (rows no prompt holds compute a dummy token and are
dropped): the matrix products then have one shape whatever the rows hold, and at a fixed shape a
row's result depends on nothing but the row (measured: tests/evaluator/model_side/
test_decode_rows.py). Attention is the one step that reads other positions: here it is computed
row by row, each over its own keys only, at its own length (`_row_attention`, registered with
transformers' AttentionInterface and switched on for these passes only), so that nothing about the
other rows (how many, how long, where) can reach a row's numbers. Each slot keeps its prompt's
keys and values in buffers sized by that prompt alone.
"""
from __future__ import annotations

import torch

ATTENTION = "fairfight_rows"
# model types whose attention is the plain causal softmax(q k^T * scaling) v this file computes (no
# sliding window, soft-capping, ALiBi or sinks), through AttentionInterface and `cache.update`
MODEL_TYPES = frozenset({"llama", "mistral", "qwen2", "qwen3", "gpt2", "gpt_neox", "olmo", "olmo2", "granite"})
_registered = False


def serves(model) -> bool:
    """Whether this model's one-token passes can run here (otherwise: each prompt alone)."""
    config = getattr(model, "config", None)
    if getattr(config, "model_type", None) not in MODEL_TYPES or not getattr(model, "_supports_attention_backend", False):
        return False
    # qwen2 and mistral configs carry a sliding_window that applies only when switched on
    return not getattr(config, "sliding_window", None) or getattr(config, "use_sliding_window", None) is False


def can_hold(cache) -> bool:
    """Whether a prompt's own-pass cache is plain keys and values per layer (transformers 5)."""
    layers = getattr(cache, "layers", None)
    return bool(layers) and all(type(layer).__name__ == "DynamicLayer" for layer in layers)


class Slots:
    """DECODE_ROWS prompts in decoding: their key-value buffers, lengths and positions."""

    def __init__(self, rows: int):
        self._held: list = [None] * rows  # per slot: (prompt index, keys per layer, values per layer)
        self._length = [0] * rows  # tokens in each slot's buffers

    def free(self) -> bool:
        return any(h is None for h in self._held)

    def live(self) -> bool:
        return any(h is not None for h in self._held)

    def members(self) -> list[int]:
        """The prompts held, in slot order."""
        return [h[0] for h in self._held if h is not None]

    def put(self, prompt: int, cache, length: int, capacity: int) -> None:
        """Hold a prompt after its own pass: its cache copied into buffers of `capacity` positions
        (keys transposed, as attention multiplies by them)."""
        slot = self._held.index(None)
        keys, values = [], []
        for layer in cache.layers:
            heads, _, dim = layer.keys.shape[1:]
            k = layer.keys.new_empty((heads, dim, capacity))
            k[:, :, :length] = layer.keys[0].transpose(1, 2)
            v = layer.values.new_empty((heads, capacity, dim))
            v[:, :length] = layer.values[0]
            keys.append(k)
            values.append(v)
        self._held[slot] = (prompt, keys, values)
        self._length[slot] = length

    def release(self, prompt: int) -> None:
        slot = next(s for s, h in enumerate(self._held) if h is not None and h[0] == prompt)
        self._held[slot] = None

    def step(self, model, name: str, device, tokens: list[int]):
        """One pass: each held prompt's next token in (`tokens`, in slot order), [(prompt, logits)] out."""
        _register()
        ids, positions, it = [], [], iter(tokens)
        for slot, held in enumerate(self._held):
            ids.append(next(it) if held is not None else 0)
            positions.append(self._length[slot] if held is not None else 0)
        config = model.config
        before = config._attn_implementation
        config._attn_implementation = ATTENTION
        try:
            result = model(input_ids=torch.tensor(ids, device=device)[:, None], use_cache=True,
                           position_ids=torch.tensor(positions, device=device)[:, None], **{name: _View(self)})
        finally:
            config._attn_implementation = before
        out = []
        for slot, held in enumerate(self._held):
            if held is not None:
                self._length[slot] += 1
                out.append((held[0], result.logits[slot, -1]))
        return out


class _View:
    """What the model's layers see as the cache during a pass: `update` writes each row's new key
    and value into its slot and hands the attention the slots (a `_Layer`), not a padded tensor."""

    def __init__(self, slots: Slots):
        self.slots = slots

    def update(self, key_states, value_states, layer_idx, *args, **kwargs):
        s = self.slots
        for slot, held in enumerate(s._held):
            if held is not None:
                held[1][layer_idx][:, :, s._length[slot]] = key_states[slot, :, -1]
                held[2][layer_idx][:, s._length[slot]] = value_states[slot, :, -1]
        return _Layer(s, layer_idx), None

    def get_seq_length(self, layer_idx: int = 0) -> int:  # asked by models that make positions (given here)
        return 0


class _Layer:
    def __init__(self, slots: Slots, layer: int):
        self.slots, self.layer = slots, layer


def _row_attention(module, query, key, value, attention_mask, dropout=0.0, scaling=None, **kwargs):
    """softmax(q k^T * scaling) v for each held row over its own keys; zeros for empty rows."""
    if not isinstance(key, _Layer):
        raise RuntimeError("fairfight's row attention runs only inside rows.Slots.step")
    s, layer = key.slots, key.layer
    rows, heads, _, dim = query.shape
    scaled = query[:, :, -1] * (dim ** -0.5 if scaling is None else scaling)  # elementwise: row by row
    out = []
    for slot, held in enumerate(s._held):
        if held is None:
            out.append(query.new_zeros((heads, dim)))
            continue
        n = s._length[slot] + 1
        keys_t, values = held[1][layer][:, :, :n], held[2][layer][:, :n]
        q = scaled[slot].reshape(keys_t.shape[0], -1, dim)  # grouped-query: a group per key head
        weights = torch.softmax(torch.matmul(q, keys_t), dim=-1, dtype=torch.float32)
        out.append(torch.matmul(weights.to(values.dtype), values).reshape(heads, dim))
    return torch.stack(out)[:, None], None


def _register() -> None:
    global _registered
    if not _registered:
        from transformers import AttentionInterface

        AttentionInterface.register(ATTENTION, _row_attention)
        _registered = True


__all__ = ["ATTENTION", "MODEL_TYPES", "Slots", "can_hold", "serves"]
