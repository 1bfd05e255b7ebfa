"""Executors: how runs are carried out.

- inline: in this process, one run after another (debugging; run-time isolation is off).
- local: a model server and a fresh sandboxed process per run, `workers` at a time (the default).
- slurm, ray: each run is a job that does on its node what the local executor does (cluster.py).
"""
from __future__ import annotations

from .local import InlineExecutor, LocalExecutor

__all__ = ["EXECUTORS", "InlineExecutor", "LocalExecutor", "make_executor"]


EXECUTORS = ("inline", "local", "slurm", "ray")


def make_executor(name: str, workers: int, options=None, exchange=None, model_type=None, device=None):
    """`options`: the spec's execution.slurm / execution.ray (never part of a run key); `device`: the
    planned device (cluster executors ask for a GPU per run when it is cuda)."""
    from ...errors import FairfightError

    if name == "inline":
        return InlineExecutor(workers)
    if name == "local":
        return LocalExecutor(workers, model_type)
    if name in ("slurm", "ray"):
        from .cluster import RayExecutor, SlurmExecutor

        cls = SlurmExecutor if name == "slurm" else RayExecutor
        return cls(workers, options, exchange, device)
    raise FairfightError(f"executor '{name}' is not available (available: {', '.join(EXECUTORS)})")
