"""Executors on existing engines: Slurm through submitit, and Ray. Optional extras, imported only
when chosen (pip install 'fairfight[slurm]' or 'fairfight[ray]').

Each job (one run, or `runs_per_job` runs) has the entry point `node.run_served_from_folders`,
which does on its node what the local executor does on one machine: a model server holds the
model (on the node's GPU when the runs ask for cuda), each contender runs in a fresh sandboxed
process with handle stubs, and each run is judged there. Each run has a folder in the bundle (a
shared filesystem on a cluster): desc.json and job.json in; `started`/`ready` markers out;
inputs.json (the evaluation texts) written by the parent only after `ready`; result.json (the
judged record) out.
A job lost on the cluster (preemption, a dead node, a killed job) comes back as a failed run,
which a re-run of the same eval tries again.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from ...errors import FairfightError
from .bundle import write_atomic, write_json
from .child_env import export_child_import_env
from .jobs import LOAD_LIMIT, PREDICT_LIMIT


GPU_OPTIONS = {"slurm": "gpus", "ray": "num_gpus"}  # the engine's option that asks for GPUs per run


def with_gpus(engine: str, options: dict, device: str | None) -> dict:
    """The executor options, asking for one GPU per run when the model runs on cuda and they name none.

    `device` is the planned device (auto already resolved: devices.planned_device); an explicit
    request in the options (even 0) is kept as written.
    """
    from ..model_side.devices import device_type

    options = dict(options or {})
    if device is not None and device_type(device) == "cuda" and options.get(GPU_OPTIONS[engine]) is None:
        options[GPU_OPTIONS[engine]] = 1
    return options


class _FolderExecutor:
    poll = 0.5

    def __init__(self, workers: int = 2, options=None, exchange: Path | None = None, device: str | None = None):
        from ..contender_side.sandbox import expected

        self.workers = max(1, int(workers))
        self.isolation = expected()  # on this machine; each node's runs report their own
        self.options = with_gpus(self.name, options, device)
        self.exchange = Path(exchange) if exchange else None
        self.child_env = export_child_import_env()  # submitit's jobs and a local Ray inherit it

    def run(self, jobs, on_start, on_done) -> None:
        if self.exchange is None:
            raise FairfightError("a cluster executor needs an exchange folder on a shared filesystem")
        pending, live, size = list(jobs), [], max(1, int(self.options.get("runs_per_job", 1)))
        try:
            while pending or live:
                while pending and len({id(job.handle) for job in live}) < self.workers:  # jobs, not runs
                    shard, pending = pending[:size], pending[size:]
                    folders = [self._prepare(job) for job in shard]
                    handle = self.submit([str(f) for f in folders])
                    for job, folder in zip(shard, folders):
                        job.folder, job.handle, job.started_at = folder, handle, time.monotonic()
                        live.append(job)
                        on_start(job)
                for job in list(live):
                    result = self._step(job)
                    if result is not None:
                        live.remove(job)
                        shutil.rmtree(job.folder, ignore_errors=True)
                        on_done(job, result)
                time.sleep(self.poll)
        finally:
            for handle in {id(job.handle): job.handle for job in live}.values():
                self.cancel(handle)

    def _prepare(self, job) -> Path:
        folder = self.exchange / job.key
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        write_json(folder / "desc.json", job.desc)
        write_json(folder / "job.json", {"timeout": job.timeout})
        return folder

    def _step(self, job):
        folder, now = job.folder, time.monotonic()
        ready, inputs = folder / "ready", folder / "inputs.json"
        if ready.exists() and not inputs.exists():
            write_atomic(inputs, json.dumps(job.eval_texts))  # only now: the evaluation inputs
            job.predict_since = now
        if (folder / "result.json").exists() or self.finished(job.handle):  # a job's runs end one by one
            return self.outcome(job)
        started = folder / "started"
        if started.exists() and not ready.exists() and job.timeout is not None:
            if time.time() - float(started.read_text() or 0) > job.timeout:
                return self._kill(job, f"timeout: the contender took longer than {job.timeout:g} s")
        if not started.exists() and now - job.started_at > LOAD_LIMIT + self.options.get("queue_time", 3600):
            return self._kill(job, "timeout: the job did not start (queue or loading)")
        if getattr(job, "predict_since", None) and now - job.predict_since > PREDICT_LIMIT:
            return self._kill(job, f"timeout: predicting took longer than {PREDICT_LIMIT:g} s")
        return None

    def _kill(self, job, why):
        self.cancel(job.handle)
        return {"key": job.key, "status": "failed", "error": why, "log": []}

    def outcome(self, job) -> dict:
        path = job.folder / "result.json"
        if path.exists():
            return json.loads(path.read_text(encoding="utf-8"))
        return {"key": job.key, "status": "failed", "log": [],
                "error": f"the {self.name} job ended without a result ({self.failure(job.handle)})"}


class SlurmExecutor(_FolderExecutor):
    """Slurm via submitit; `cluster: local` (submitit's local executor) for testing without Slurm."""

    name = "slurm"

    def __init__(self, workers=2, options=None, exchange=None, device=None):
        super().__init__(workers, options, exchange, device)
        try:
            import submitit
        except ImportError:
            raise FairfightError("the slurm executor needs submitit: pip install 'fairfight[slurm]'") from None
        self._submitit = submitit
        self._executor = None

    def _make(self):
        opts = self.options
        cluster = opts.get("cluster")
        ex = self._submitit.AutoExecutor(folder=str(self.exchange / "_submitit"), cluster=cluster)
        params = {"timeout_min": int(opts.get("time", 60)) if str(opts.get("time", "60")).isdigit() else 60,
                  "cpus_per_task": int(opts.get("cpus", 2))}
        if cluster != "local":
            for key, name in (("partition", "slurm_partition"), ("account", "slurm_account"), ("qos", "slurm_qos"),
                              ("mem", "slurm_mem"), ("array_parallelism", "slurm_array_parallelism")):
                if opts.get(key) is not None:
                    params[name] = opts[key]
            if opts.get("gpus") is not None:
                params["gpus_per_node"] = int(opts["gpus"])
        ex.update_parameters(**params)
        return ex

    def cores_per_job(self) -> int:
        return int(self.options.get("threads") or self.options.get("cpus", 2))

    def submit(self, folders: list):
        from .node import run_served_from_folders

        if self._executor is None:
            self._executor = self._make()
        return self._executor.submit(run_served_from_folders, folders, self.cores_per_job())

    def finished(self, handle) -> bool:
        return handle.done()

    def failure(self, handle) -> str:
        try:
            handle.result()
        except Exception as exc:  # submitit reports preemption, lost nodes and killed jobs this way
            return str(exc).splitlines()[0][:300]
        return "no result.json"

    def cancel(self, handle) -> None:
        try:
            handle.cancel(check=False)
        except Exception:  # already gone
            pass


class RayExecutor(_FolderExecutor):
    """Ray tasks (one fresh worker process per run: max_calls=1), on an existing cluster
    (`address`) or a local one."""

    name = "ray"

    def __init__(self, workers=2, options=None, exchange=None, device=None):
        super().__init__(workers, options, exchange, device)
        try:
            import ray
        except ImportError:
            raise FairfightError("the ray executor needs ray: pip install 'fairfight[ray]'") from None
        self._ray = ray
        if not ray.is_initialized():
            kwargs = {"address": self.options["address"]} if self.options.get("address") else {
                "num_cpus": self.options.get("num_cpus") or workers}
            if self.child_env:  # a running cluster's workers do not inherit this process's environment
                kwargs["runtime_env"] = {"env_vars": self.child_env}
            ray.init(include_dashboard=False, log_to_driver=False, **kwargs)
        from .node import run_served_from_folders

        self._task = ray.remote(max_calls=1, num_cpus=self.cores_per_job(),
                                num_gpus=self.options.get("num_gpus", 0), max_retries=0)(run_served_from_folders)

    def cores_per_job(self) -> int:
        return int(self.options.get("cpus_per_run", 1))

    def submit(self, folders: list):
        return self._task.remote(folders, self.cores_per_job())

    def finished(self, handle) -> bool:
        done, _ = self._ray.wait([handle], timeout=0)
        return bool(done)

    def failure(self, handle) -> str:
        try:
            self._ray.get(handle)
        except Exception as exc:
            return str(exc).splitlines()[0][:300]
        return "no result.json"

    def cancel(self, handle) -> None:
        try:
            self._ray.cancel(handle, force=True)
        except Exception:
            pass
