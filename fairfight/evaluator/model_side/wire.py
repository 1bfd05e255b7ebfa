"""What crosses from a contender process to the model server: plain data, never pickles.

The server must not unpickle what a contender sends (unpickling runs code). Requests are
encoded here instead: None, bool, int, float, str, lists, tuples (as lists), dicts (any of
these as keys) and tensors / numpy arrays of plain numeric dtypes, as a JSON header followed by
the tensors' raw bytes. Anything else is refused when encoding. Replies go the other way
(trusted to untrusted) and are ordinary pickles of results.
"""
from __future__ import annotations

import json
import struct

import numpy as np
import torch

from fairfight.errors import FairfightError

_DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
           "bfloat16": torch.bfloat16, "int64": torch.int64, "int32": torch.int32, "bool": torch.bool,
           "uint8": torch.uint8}
_NAMES = {v: k for k, v in _DTYPES.items()}


def encode(obj) -> bytes:
    buffers: list[bytes] = []
    header = json.dumps(_plain(obj, buffers)).encode()
    return struct.pack("<Q", len(header)) + header + b"".join(buffers)


def _plain(obj, buffers):
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    if isinstance(obj, (list, tuple)):
        return [_plain(x, buffers) for x in obj]
    if isinstance(obj, dict):
        return {"__dict__": [[_plain(k, buffers), _plain(v, buffers)] for k, v in obj.items()]}
    if isinstance(obj, np.ndarray):
        obj = torch.from_numpy(np.ascontiguousarray(obj))
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        if t.dtype not in _NAMES:
            raise FairfightError(f"a tensor of dtype {t.dtype} cannot be sent to the model server")
        data = t.view(torch.uint8).numpy().tobytes() if t.numel() else b""
        buffers.append(data)
        return {"__tensor__": [_NAMES[t.dtype], list(t.shape), len(data)]}
    raise FairfightError(f"{type(obj).__name__} cannot be sent to the model server (only plain data and tensors: "
                         "contender code never runs on the trusted side)")


def decode(data: bytes):
    (size,) = struct.unpack_from("<Q", data, 0)
    header = json.loads(data[8: 8 + size].decode())
    cursor = [8 + size]

    def back(x):
        if isinstance(x, list):
            return [back(v) for v in x]
        if isinstance(x, dict):
            if "__tensor__" in x:
                dtype, shape, length = x["__tensor__"]
                if dtype not in _DTYPES or not all(isinstance(s, int) and s >= 0 for s in shape):
                    raise FairfightError("malformed tensor in a request")
                start = cursor[0]
                cursor[0] += int(length)
                raw = bytearray(data[start: cursor[0]])
                t = torch.frombuffer(raw, dtype=torch.uint8) if raw else torch.zeros(0, dtype=torch.uint8)
                return t.view(_DTYPES[dtype]).reshape(shape)
            return {_key(back(k)): back(v) for k, v in x["__dict__"]}
        return x

    return back(header)


def _key(k):
    return tuple(k) if isinstance(k, list) else k
