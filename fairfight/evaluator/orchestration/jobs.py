"""A job: one run handed to an executor, with the time limits of its phases (shared by the
local and cluster executors)."""
from __future__ import annotations

import os
import time

PREDICT_LIMIT = 900.0  # seconds for applying a predictor to the evaluation inputs
LOAD_LIMIT = 600.0  # seconds to start a worker and load the model


class Job:
    """One run to execute: its description and, for after training, its evaluation inputs.

    `timeout` bounds the contender's own code (its wall-time budget plus a little grace); loading
    and predicting have their own generous limits, so a slow load is never blamed on it."""

    def __init__(self, desc: dict, eval_texts: list, timeout: float | None):
        self.desc, self.eval_texts, self.timeout = desc, eval_texts, timeout
        self.phase, self.phase_started = "load", time.monotonic()
        self.entered = {"load": self.phase_started}
        self.queued_before_predict = 0.0  # seconds queued behind other runs while training (overdue)

    def enter(self, phase: str, at: float | None = None) -> None:
        """`at`: when the message that starts the phase was heard (the eval's loop may get to it later)."""
        self.phase, self.phase_started = phase, time.monotonic() if at is None else at
        if phase == "load":  # the worker process starts now: a job waits in the queue before that
            self.entered = {}
        self.entered.setdefault(phase, self.phase_started)

    def measured(self) -> dict:
        """`timings` and `elapsed` as this (trusted) process saw the phases, in place of what the
        worker reported: a contender can patch the worker's clock to look cheap."""
        now, t = time.monotonic(), self.entered
        timings = {"load": t.get("train", now) - t["load"]}
        if "train" in t:
            timings["train"] = t.get("predict", now) - t["train"]
        if "predict" in t:
            timings["predict"] = now - t.get("sent", t["predict"])
        return {"timings": timings, "elapsed": now - t["load"]}

    def overdue(self, now: float, queued=None) -> str | None:
        """Why the run is past a limit, or None. `queued()`: the seconds its model requests have waited
        behind other runs' operations so far (the model server's QueueClock), asked only once a limit is
        passed: that time is not the run's own, so it does not count against its limits."""
        limit = {"load": LOAD_LIMIT, "train": self.timeout, "predict": PREDICT_LIMIT}[self.phase]
        waited = None
        if limit is not None and now - self.phase_started > limit:
            waited = queued() if queued is not None else 0.0
            before = self.queued_before_predict if self.phase == "predict" else 0.0
            if now - self.phase_started - (waited - before) > limit:
                what = {"load": "loading", "train": "the contender", "predict": "predicting"}[self.phase]
                return f"timeout: {what} took longer than {limit:g} s"
        # The wall-time budget is per run, predicting included (the ledger stops model calls after it):
        # a predictor that trains in its first predict() without the model must meet it too.
        # Counted from when the worker had the inputs: a cluster job waits for them (node.py).
        if self.phase == "predict" and self.timeout is not None and "sent" in self.entered:
            spent = (self.entered["predict"] - self.entered["train"]) + (now - self.entered["sent"])
            if spent > self.timeout:
                waited = waited if waited is not None else (queued() if queued is not None else 0.0)
                if spent - waited > self.timeout:
                    return f"timeout: the contender (training and predicting) took longer than {self.timeout:g} s"
        return None

    @property
    def key(self):
        return self.desc["run"]["key"]


def available_cores() -> int:
    """Cores this process may run on (a Slurm job's cpuset, a container's limit), not the machine's."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
