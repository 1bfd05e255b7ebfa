"""A cluster job: the trusted side of its runs on its node, and each contender's sandboxed process.

The job's process on the node does for its runs what the local executor does on one machine (it
is a local executor): it starts a model server, which loads the model once (on the node's GPU
when the runs ask for cuda), and a fresh sandboxed process per run, which gets handle stubs and
never the model; it judges each run there (the server's ledger, the batch check over the chunks
it chose) and writes the record to the run's result.json. With the parent evaluation it
talks through the run's folder on the shared filesystem, as before: `started` when the
contender's code starts, `ready` when it has trained, then it waits for `inputs.json` (written
by the parent only then). A job runs `runs_per_job` runs (execution.slurm / execution.ray;
default 1): one model server serves them all.
"""
from __future__ import annotations

import json
import signal
import time
import traceback
from pathlib import Path

from .bundle import write_atomic, write_json
from .jobs import PREDICT_LIMIT, Job

POLL = 0.2


class FolderJob(Job):
    """A Job whose phases are also markers in the run's folder, and whose evaluation inputs come
    from the parent, through the folder, when the contender has trained."""

    def __init__(self, desc: dict, folder: Path, timeout: float | None):
        self.desc, self.folder, self.timeout, self._texts = desc, folder, timeout, None
        self.phase, self.phase_started = "load", time.monotonic()
        self.entered = {"load": self.phase_started}

    def enter(self, phase: str, at: float | None = None) -> None:
        super().enter(phase, at)
        if phase == "train":
            write_atomic(self.folder / "started", str(time.time()))

    @property
    def eval_texts(self) -> list:
        if self._texts is None:
            write_atomic(self.folder / "ready", str(time.time()))
            inputs, since = self.folder / "inputs.json", time.monotonic()
            while not inputs.exists():
                if time.monotonic() - since > PREDICT_LIMIT:
                    raise TimeoutError("the evaluation never sent the evaluation inputs")
                time.sleep(POLL)
            self._texts = json.loads(inputs.read_text(encoding="utf-8"))
        return self._texts


def run_served_from_folders(folders: list, cores: int | None = None) -> list[dict]:
    """Entry point of a cluster job: for each run, desc.json and job.json in, result.json out.

    The job's runs share one model server and run `cores` at a time at most (each in its own
    sandboxed process); each run's result.json is written as soon as the run is judged."""
    from .jobs import available_cores
    from .local import LocalExecutor

    jobs = []
    for folder in map(Path, folders):
        desc = json.loads((folder / "desc.json").read_text(encoding="utf-8"))
        info = json.loads((folder / "job.json").read_text(encoding="utf-8"))
        jobs.append(FolderJob(desc, folder, info.get("timeout")))
    signal.signal(signal.SIGTERM, _interrupted)  # a cancelled job stops its workers and server (executor's finally)
    cores = max(1, int(cores or available_cores()))
    results: dict[str, dict] = {}

    def done(job, record):
        results[job.key] = record
        write_json(job.folder / "result.json", record)

    try:
        LocalExecutor(min(len(jobs), cores), cores=cores).run(jobs, lambda job: None, done)
    except BaseException:  # noqa: BLE001 - each run not yet judged hears why from its result.json
        error = traceback.format_exc()
    else:
        error = "the run ended without a record"
    for job in jobs:
        if job.key not in results:
            done(job, _failed(job.desc, error))
    return [results[job.key] for job in jobs]


def _failed(desc: dict, error: str) -> dict:
    return {"key": desc["run"]["key"], "status": "failed", "error": error, "log": []}


def _interrupted(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


__all__ = ["run_served_from_folders", "FolderJob"]
