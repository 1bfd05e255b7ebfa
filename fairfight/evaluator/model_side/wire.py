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


# Caps on what a contender process may send (a message is read in full before it is decoded: without
# a cap, one message could take the trusted side's memory). A request to the model server may carry an
# SAE's weights (a 65k x 4096 float32 encoder is 1 GiB); a message to the orchestrator carries at most
# a run's predictions. A run's messages to the orchestrator together may not pass RUN_OUTPUT_LIMIT.
SERVER_REQUEST_LIMIT = 2 << 30
ORCHESTRATOR_MESSAGE_LIMIT = 256 << 20
RUN_OUTPUT_LIMIT = 512 << 20
_ITEMSIZE = {"float32": 4, "float64": 8, "float16": 2, "bfloat16": 2, "int64": 8, "int32": 4, "bool": 1, "uint8": 1}


def decode(data: bytes):
    """The plain data in `data`; anything malformed (whatever a contender made of the bytes) raises
    FairfightError, never another exception, and never reads past the message."""
    try:
        return _decode(data)
    except FairfightError:
        raise
    except (Exception, RecursionError) as exc:  # noqa: BLE001 - struct, json, unicode, torch, recursion, memory
        raise FairfightError(f"an undecodable message ({type(exc).__name__}: {str(exc)[:200]})") from None


def _decode(data: bytes):
    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) < 8:
        raise FairfightError("an undecodable message (shorter than its header)")
    (size,) = struct.unpack_from("<Q", data, 0)
    if size > len(data) - 8:
        raise FairfightError("an undecodable message (its header claims more bytes than it has)")
    header = json.loads(bytes(data[8: 8 + size]).decode())
    cursor = [8 + size]

    def back(x):
        if isinstance(x, list):
            return [back(v) for v in x]
        if isinstance(x, dict):
            if "__tensor__" in x:
                return tensor(x["__tensor__"])
            pairs = x["__dict__"]
            if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 for p in pairs):
                raise FairfightError("an undecodable message (a malformed dict)")
            return {_key(back(k)): back(v) for k, v in pairs}
        return x  # NaN and infinities are data here: the orchestrator judges them (batching.py)

    def tensor(spec):
        if not (isinstance(spec, list) and len(spec) == 3):
            raise FairfightError("malformed tensor in a request")
        dtype, shape, length = spec
        if (dtype not in _DTYPES or not isinstance(shape, list) or len(shape) > 32
                or not all(type(s) is int and s >= 0 for s in shape) or type(length) is not int):
            raise FairfightError("malformed tensor in a request")
        numel = 1
        for s in shape:
            numel *= s
        if length != numel * _ITEMSIZE[dtype] or cursor[0] + length > len(data):
            raise FairfightError("malformed tensor in a request (its size does not match its shape or the message)")
        start = cursor[0]
        cursor[0] += length
        raw = bytearray(data[start: cursor[0]])
        t = torch.frombuffer(raw, dtype=torch.uint8) if raw else torch.zeros(0, dtype=torch.uint8)
        return t.view(_DTYPES[dtype]).reshape(shape)

    return back(header)


def _key(k):
    return tuple(k) if isinstance(k, list) else k
