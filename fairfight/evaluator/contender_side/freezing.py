"""A trained predictor as bytes: what crosses from the training process to the predicting ones.

The training process of a run never receives an evaluation text (predicting.py): once its
contender returns a predictor, the predictor is pickled here (cloudpickle, so closures and the
method file's own functions travel by value) and the process ends. Each chunk of evaluation
inputs is then predicted by a fresh process that unpickles these bytes: everything the predictor
knows is in them, fixed before any evaluation text existed on the contender side.

The run's connection to the model server cannot be pickled, and must not be shared: it travels as
a persistent id and each predicting process puts its own connection in its place (the handles the
training made live in the server, and are named by number).
"""
from __future__ import annotations

import io
import pickle

from ...errors import FairfightError

LIMIT = 2 << 30  # bytes of a pickled predictor, at most
_LINK = "fairfight-server-link"


def dumps(predictor) -> bytes:
    import cloudpickle

    from .handle_stub import ServerLink

    class _Pickler(cloudpickle.Pickler):
        def persistent_id(self, obj):
            return _LINK if isinstance(obj, ServerLink) else None

    buffer = io.BytesIO()
    try:
        _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(predictor)
    except Exception as exc:  # noqa: BLE001 - whatever the object holds that cannot be pickled
        raise FairfightError(
            f"the predictor could not be pickled ({type(exc).__name__}: {exc}): each chunk of evaluation inputs is "
            "predicted in a fresh process from the predictor's pickled state (docs/method-api.md); keep what it "
            "holds to tensors, numbers, containers, functions and model handles (no open files, locks, threads "
            "or generators)") from None
    data = buffer.getvalue()
    if len(data) > LIMIT:
        raise FairfightError(f"the pickled predictor takes {len(data) >> 20} MiB, over the {LIMIT >> 20} MiB "
                             "limit: keep large weights in the model server (ctx.model.finetune, intervene)")
    return data


def loads(data: bytes, link):
    """The predictor, with `link` (this process's own connection) wherever the training's was."""

    class _Unpickler(pickle.Unpickler):
        def persistent_load(self, pid):
            if pid != _LINK:
                raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
            return link

    return _Unpickler(io.BytesIO(data)).load()
