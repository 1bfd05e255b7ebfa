"""A cluster job: one run's trusted side on its node, and the contender's sandboxed process.

The job's process on the node does for its run what the local executor does on one machine (it
is a local executor with one worker): it starts a model server, which loads the model (on the
node's GPU when the run asks for cuda), and the contender's fresh sandboxed process, which gets
handle stubs and never the model; it judges the run there (the server's ledger, the batch check
over the chunks it chose) and writes the record to result.json. With the parent evaluation it
talks through the run's folder on the shared filesystem, as before: `started` when the
contender's code starts, `ready` when it has trained, then it waits for `inputs.json` (written
by the parent only then). One model server per run job: a node running several jobs loads the
model once per job.
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

    def enter(self, phase: str) -> None:
        super().enter(phase)
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


def run_served_from_folder(folder: str) -> dict:
    """Entry point of a cluster job: desc.json and job.json in, result.json out."""
    from .local import LocalExecutor

    folder = Path(folder)
    desc = json.loads((folder / "desc.json").read_text(encoding="utf-8"))
    job_info = json.loads((folder / "job.json").read_text(encoding="utf-8"))
    job = FolderJob(desc, folder, job_info.get("timeout"))
    results: list[dict] = []
    signal.signal(signal.SIGTERM, _interrupted)  # a cancelled job stops its worker and server (executor's finally)
    try:
        executor = LocalExecutor(1, cores=job_info.get("cores"))
        executor.run([job], lambda job: None, lambda job, record: results.append(record))
        result = results[0] if results else _failed(desc, "the run ended without a record")
    except BaseException:  # noqa: BLE001 - the parent hears why from result.json
        result = _failed(desc, traceback.format_exc())
    write_json(folder / "result.json", result)
    return result


def _failed(desc: dict, error: str) -> dict:
    return {"key": desc["run"]["key"], "status": "failed", "error": error, "log": []}


def _interrupted(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


__all__ = ["run_served_from_folder", "FolderJob"]
