"""wire.decode on whatever a contender makes of the bytes: plain data back, or FairfightError, never
another exception (the orchestrator and the model server catch that one and end only the run)."""
import json
import random
import struct

import pytest
import torch

from fairfight.errors import FairfightError
from fairfight.evaluator.model_side import wire

VALID = [
    ["result", {"status": "succeeded", "chunk_predictions": [[[{"prediction": "nurse", "scores": {"nurse": 0.9,
                                                                                                  "professor": 0.1}}],
                                                              ["nurse", "professor"]]]}],
    ["embed", 0, {"texts": ["a", "b"], "split": "train"}],
    ["sae", 0, {"W_enc": torch.ones(3, 2), "b_enc": torch.zeros(2, dtype=torch.float64), "k": 2}],
    ["started", None],
]


def test_valid_messages_round_trip():
    for message in VALID:
        back = wire.decode(wire.encode(message))
        as_lists = lambda t: t.tolist()  # noqa: E731
        assert json.dumps(back, default=as_lists) == json.dumps(message, default=as_lists)


def _raises_only_fairfight_errors(data):
    try:
        wire.decode(data)
    except FairfightError:
        pass


def test_random_and_mutated_messages_raise_only_fairfight_errors():
    rng = random.Random(0)
    encoded = [wire.encode(m) for m in VALID]
    for _ in range(3000):
        data = bytearray(rng.choice(encoded))
        mutation = rng.randrange(5)
        if mutation == 0:  # flip bytes anywhere
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif mutation == 1:  # cut short
            data = data[: rng.randrange(len(data))]
        elif mutation == 2:  # bytes only
            data = bytearray(rng.randbytes(rng.randrange(64)))
        elif mutation == 3:  # a header that lies about its length
            data[:8] = struct.pack("<Q", rng.choice([0, 1, len(data), len(data) * 2, 2**63, 2**64 - 1]))
        else:  # flip bytes in the JSON header only
            size = struct.unpack_from("<Q", data)[0]
            for _ in range(rng.randint(1, 4)):
                data[8 + rng.randrange(max(1, size))] = rng.choice(b'{}[]",:0123456789-eE.naNIty_ \\x')
        _raises_only_fairfight_errors(bytes(data))


@pytest.mark.parametrize("header", [
    '["result", ' + "[" * 100000 + "]" * 100000 + "]",  # RecursionError in json
    '{"__dict__": [[[{"__dict__": []}], 1]]}',  # an unhashable key
    '{"__dict__": 5}',
    '{"__dict__": [[1]]}',
    '{"__tensor__": ["float32", [2, 2], 16]}',  # no bytes behind it
    '{"__tensor__": ["float32", [2, 2], -16]}',
    '{"__tensor__": ["float32", [2, 2], 8]}',  # fewer bytes than its shape
    '{"__tensor__": ["complex64", [1], 8]}',
    '{"__tensor__": ["float32", [1.5], 4]}',
    '{"__tensor__": ["float32", [1]]}',
    '{"__tensor__": 7}',
    '{"x": 1}',
])
def test_malformed_headers_are_fairfight_errors(header):
    data = struct.pack("<Q", len(header)) + header.encode() + b"\0" * 8
    with pytest.raises(FairfightError):
        wire.decode(data)


def test_a_tensor_reads_exactly_its_own_bytes():
    data = wire.encode([torch.arange(4, dtype=torch.int32), torch.ones(2)])
    a, b = wire.decode(data)
    assert a.tolist() == [0, 1, 2, 3] and b.tolist() == [1.0, 1.0]
    with pytest.raises(FairfightError):
        wire.decode(data[:-1])
