"""The executors on this machine: inline (in this process, one run after another; debugging,
run-time isolation off) and local (a model server, and a fresh sandboxed process per run,
`workers` at a time: the default; a cluster job runs one run this way on its node)."""
from __future__ import annotations

import multiprocessing as mp
import os
import time

from ...errors import FairfightError
from .child_env import export_child_import_env
from ..contender_side.entry import worker_main
from ..contender_side.worker import DirectChannel, execute


class InlineExecutor:
    name = "inline"
    isolation = ("none", "executor 'inline' runs contenders in the evaluating process")

    def __init__(self, workers: int = 1):  # `fairfight eval` warns that isolation is off
        pass

    def run(self, jobs, on_start, on_done) -> None:
        for job in jobs:
            on_start(job)
            on_done(job, execute(job.desc, DirectChannel(job.eval_texts)))


class LocalExecutor:
    """Contenders in fresh sandboxed processes; the model, the ledgers and the judging on the
    trusted side (a model server process, and this one). See docs/trust-boundary.md."""

    name = "local"

    def __init__(self, workers: int = 2, model_type: str | None = None, cores: int | None = None):
        from ..contender_side.sandbox import expected
        from .jobs import available_cores

        self.workers = max(1, int(workers))
        self.cores = max(1, int(cores or available_cores()))  # shared by the workers and the model server
        self.isolation = expected()
        export_child_import_env()  # before the fork server starts: it inherits the environment
        if model_type:
            os.environ["FAIRFIGHT_PRELOAD_MODEL_TYPE"] = model_type  # read by the fork server's preload
        # A fresh process per run, forked from a clean server process that has only imported
        # torch and transformers (never the parent's state): isolation as with spawn, without
        # paying those imports on every run.
        self._context = mp.get_context("forkserver")
        self._context.set_forkserver_preload(["fairfight.evaluator.contender_side.preload"])
        self.server = None

    def run(self, jobs, on_start, on_done) -> None:
        import queue

        pending, live, self._events = list(jobs), {}, queue.Queue()
        self._chunks = {}  # a chunk's link -> its run's link (contender_side/predicting.py)
        try:
            while pending or live:
                while pending and len(live) < self.workers:
                    job = pending.pop(0)
                    live[self._start(job)] = job
                    on_start(job)
                try:
                    events = [self._events.get(timeout=1.0)]
                except queue.Empty:
                    events = []
                while True:
                    try:
                        events.append(self._events.get_nowait())
                    except queue.Empty:
                        break
                for event in events:
                    if event.link in live:  # a run already finished (killed) may still report its pipe closing
                        self._receive(event, live, on_done)
                    elif event.link in self._chunks:
                        self._receive_chunk(event, live, on_done)
                self._reap_timeouts(live, on_done)
        finally:
            for link, job in list(live.items()):  # interrupted: stop every worker still running
                _kill(job)
                job.process.join(5)
                link.close()
                _output_lines(job)  # removes its file
                _remove_scratch(job)
            if self.server is not None:
                self.server.stop()
                self.server = None

    def _server(self, desc):
        from .served_runs import ServerProcess

        if self.server is None:  # one per eval: the model is loaded once, in parallel with the first workers
            info = {**desc["spec"], "device": desc.get("device"), "weights_cache": desc.get("weights_cache")}
            self.server = ServerProcess(self._context, info, self.cores)
        return self.server

    def _start(self, job):
        parent, child = self._context.Pipe()
        server_end, worker_end = self._context.Pipe()
        job.process = self._context.Process(target=worker_main, args=(child, worker_end), daemon=True)
        try:
            job.process.start()
        except OSError as exc:
            if "AF_UNIX path too long" not in str(exc):
                raise
            import tempfile

            raise FairfightError(f"the temp folder's path ({tempfile.gettempdir()}) is too long for the unix socket "
                                 "the fork server listens on (108 bytes on Linux); set TMPDIR to a shorter folder, "
                                 "such as TMPDIR=/tmp") from exc
        child.close()
        worker_end.close()
        job.enter("load")
        job.plan = None
        # Workers share the cores; a forward pass takes them all (one pass at a time, see
        # forward_cache.py). More torch threads than cores makes everything crawl: OpenMP threads
        # spin while they wait for each other, and a 0.2 s probe fit took 3 s next to a pass.
        job.desc["threads"] = max(1, self.cores // self.workers)
        job.desc["pass_threads"] = self.cores
        job.output = RunOutput()
        job.desc["output"] = job.output.path
        from .scratch import Scratch

        job.scratch = Scratch()
        job.desc["scratch"] = job.scratch.path
        parent.send({**job.desc, "spec": {**job.desc["spec"], "ir": self._spec_ir(job.desc["spec"])}})
        from .served_runs import open_info

        try:
            self._server(job.desc).open(job.key, open_info(job.desc), server_end)
        except Exception as exc:  # the model server could not take the run: the worker waits in vain
            _kill(job)
            job.open_error = f"{exc}"
        from .worker_link import WorkerLink

        return WorkerLink(parent, self._events)  # from now on only its threads touch `parent`

    def _receive(self, event, live, on_done):
        link = event.link
        job = live[link]
        kind = event.kind
        if kind is None:  # the pipe closed (the worker died), or the worker sent what ends its run
            if event.problem:
                _kill(job)
            job.process.join(5)
            code = job.process.exitcode
            signal = f": signal {code - 128}" if isinstance(code, int) and code > 128 else ""  # the keeper's 128 + n
            error = (event.problem or getattr(job, "open_error", None)
                     or f"the worker process died (exit code {code}{signal})")
            self._finish(link, live, on_done, {"key": job.key, "status": "failed", "log": [], "error": error})
            return
        # A phase's clock starts once: the contender holds the worker's pipe (a caller's frame) and
        # could say `started` or `ready` again and again to restart it, outliving its wall_time budget.
        if kind == "started":
            if job.phase == "load":
                job.output.unlink()  # the worker has it open by now (entry.py)
                job.enter("train", event.at)
        elif kind == "ready":
            from ..contender_side.batching import chunk_texts

            if job.phase == "predict":  # the inputs go out once: a second `ready` is not the protocol
                self._fail(link, live, on_done, "the worker said `ready` twice")
                return
            job.enter("predict", event.at)
            chunks, recheck, texts = chunk_texts(job.eval_texts, job.key)  # drawn here, from the run key
            job.plan = (len(job.eval_texts), chunks, recheck)
            job.chunk_texts, job.outputs, job.chunk_reports = texts, [], []
            try:
                job.queued_before_predict = self.server.queued(job.key)
                self.server.begin_evaluation(job.key, job.eval_texts)
                self._next_chunk(link, job)
            except (EOFError, OSError, FairfightError) as exc:  # the server is gone: this run cannot finish
                self._fail(link, live, on_done, f"the model server failed: {exc!r}")
                return
            job.entered.setdefault("sent", time.monotonic())
        else:
            from .served_runs import judged

            overdue = job.overdue(event.at, self._queued(job))  # a result heard after the deadline (a busy loop, a slow
            if overdue:  # server call) does not count: the run would have been stopped at its limit
                self._fail(link, live, on_done, overdue)
                return
            job.process.join(10)
            result = _with_chunks(event.payload, job)
            queued = self.server.queued(job.key)
            record = judged(result, self.server.close(job.key), job.plan, job.desc.get("tier"), self.isolation[0],
                            task_classes=job.desc.get("classes"))
            record["device"] = self.server.device()
            record.update(job.measured())
            record["timings"]["queued"] = queued  # of load, train and predict: waiting for other runs' operations
            self._finish(link, live, on_done, record)

    def _next_chunk(self, link, job) -> None:
        """Send the run's supervisor the next chunk's two connections (to here, where its texts go
        out, and to the model server), or `done` after the last."""
        from .worker_link import WorkerLink

        index = len(job.outputs)
        if index == len(job.chunk_texts) or any(r.get("status") != "succeeded" for r in job.chunk_reports):
            link.send(("done", None))
            return
        ours, theirs = self._context.Pipe()
        server_end, worker_end = self._context.Pipe()
        self.server.attach(job.key, server_end)
        link.send(("chunk", index), fds=[os.dup(theirs.fileno()), os.dup(worker_end.fileno())])
        theirs.close()
        worker_end.close()
        chunk = WorkerLink(ours, self._events, kinds=("chunk",), final="chunk")
        chunk.send(job.chunk_texts[index])  # read only by the process forked for this chunk
        self._chunks[chunk] = link

    def _receive_chunk(self, event, live, on_done) -> None:
        link = self._chunks.pop(event.link)
        event.link.close()
        job = live.get(link)
        if job is None:
            return
        index = len(job.outputs)
        report = event.payload if isinstance(event.payload, dict) else None
        if event.kind is None or report is None:
            why = event.problem or "it ended without its predictions"
            self._fail(link, live, on_done, f"the process predicting chunk {index} of the evaluation inputs: {why}")
            return
        job.chunk_reports.append(report)
        if report.get("status") == "succeeded":
            job.outputs.append(report.get("output"))
        try:
            self._next_chunk(link, job)
        except (EOFError, OSError, FairfightError) as exc:
            self._fail(link, live, on_done, f"the model server failed: {exc!r}")

    def _spec_ir(self, info: dict):
        """The spec's IR, checked once here and sent to every worker (checking it took each worker
        ~0.25 s of its start). Keyed by the spec's hash: one eval has one spec."""
        from ..contender_side.worker import _spec

        if getattr(self, "_ir", (None, None))[0] != info["hash"]:
            self._ir = (info["hash"], _spec(info))
        return self._ir[1]

    def _queued(self, job):
        """The run's seconds behind other runs at the model server, asked for when a limit is passed."""
        server = self.server
        return None if server is None else (lambda: server.queued(job.key))

    def _fail(self, link, live, on_done, error: str) -> None:
        job = live[link]
        _kill(job)
        job.process.join(5)
        self._finish(link, live, on_done, {"key": job.key, "status": "failed", "log": [], "error": error})

    def _reap_timeouts(self, live, on_done):
        now = time.monotonic()
        for link, job in list(live.items()):
            overdue = job.overdue(now, self._queued(job)) or _output_overflow(job) or _scratch_overflow(job)
            if overdue:
                self._fail(link, live, on_done, overdue)

    def _finish(self, link, live, on_done, result):
        job = live[link]
        _kill(job)  # whatever the contender forked dies with its run (it could slow the runs after it)
        result["log"] = list(result.get("log") or []) + _output_lines(job)
        _remove_scratch(job)
        if self.server is not None and result.get("ledger") is None:  # a dead or killed run: its ledger so far
            result["ledger"] = self.server.close(job.key)
        live.pop(link)
        link.close()
        for chunk, owner in list(self._chunks.items()):
            if owner is link:
                self._chunks.pop(chunk)
                chunk.close()
        on_done(job, result)


def _with_chunks(payload, job) -> dict:
    """The supervisor's report with what only the orchestrator heard: the chunks' predictions (the
    report cannot bring its own), their refusals and failures, their isolation and logs."""
    from ..contender_side.sandbox import LEVELS, weakest

    result = dict(payload) if isinstance(payload, dict) else {}
    result["key"] = job.key
    result["chunk_predictions"] = list(getattr(job, "outputs", None) or []) if job.plan is not None else None
    reports = getattr(job, "chunk_reports", None) or []
    levels = [r.get("isolation") for r in reports if r.get("isolation") in LEVELS]
    if levels and result.get("isolation") in LEVELS:
        result["isolation"] = weakest(result["isolation"], *levels)
    for i, report in enumerate(reports):
        log = [str(x) for x in report.get("log") or [] if isinstance(x, str)]
        result["log"] = list(result.get("log") or []) + [f"chunk {i}: {line}" for line in log]
        status = report.get("status")
        if status == "refused":
            reasons = [r for r in report.get("reasons") or [] if isinstance(r, str)] or [str(report.get("error"))]
            result.update(status="refused", error=reasons[0], reasons=list(result.get("reasons") or []) + reasons)
            result["guard"] = list(result.get("guard") or []) + list(report.get("guard") or [])
        elif status != "succeeded" and result.get("status") == "succeeded":
            result.update(status="failed", error=f"predicting chunk {i}: {report.get('error')}",
                          traceback=report.get("traceback"))
    return result


class RunOutput:
    """A file for a worker's stdout and stderr (contender_side/entry.py), read into the run's log
    (its last 64 kB: the end, where errors are). Its name goes once the worker has opened it, so
    an eval killed outright leaves nothing behind; this process reads it through its own descriptor."""

    KEPT = 64 * 1024
    # A run that writes more is stopped (checked about once a second, so it may overshoot by what it
    # writes in that second): a contender printing in a loop would otherwise fill the temp folder.
    LIMIT = 64 * 1024 * 1024

    def __init__(self):
        import tempfile

        self.fd, self.path = tempfile.mkstemp(prefix="fairfight-output-", suffix=".txt")

    def unlink(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def lines(self) -> list[str]:
        """The output as log lines; afterwards the file is gone."""
        if self.fd is None:
            return []
        try:
            size = os.lseek(self.fd, 0, os.SEEK_END)
            data = os.pread(self.fd, self.KEPT, max(0, size - self.KEPT))
        finally:
            os.close(self.fd)
            self.fd = None
            self.unlink()
        text = data.decode("utf-8", "replace").rstrip()
        if not text:
            return []
        cut = f" (its last {self.KEPT // 1024} kB)" if size > self.KEPT else ""
        return [f"output (stdout and stderr){cut}:", *text.splitlines()]


def _output_overflow(job) -> str | None:
    output = getattr(job, "output", None)
    if output is None or output.fd is None:
        return None
    st = os.fstat(output.fd)  # blocks too: fallocate(FALLOC_FL_KEEP_SIZE) takes the disk and leaves the size
    if max(st.st_size, st.st_blocks * 512) <= RunOutput.LIMIT:
        return None
    return (f"its output (stdout and stderr) passed {RunOutput.LIMIT >> 20} MiB: stopped before it filled the "
            "disk (print less; the run's log keeps only the output's end)")


def _scratch_overflow(job) -> str | None:
    scratch = getattr(job, "scratch", None)
    return scratch.overflow() if scratch is not None else None


def _remove_scratch(job) -> None:
    scratch = getattr(job, "scratch", None)
    if scratch is not None:
        scratch.remove()


def _output_lines(job) -> list[str]:
    output = getattr(job, "output", None)
    return output.lines() if output is not None else []


def _kill(job) -> None:
    """Kill a run's worker and every process its contender forked: the worker leads a process group
    of its own (contender_side/entry.py) that the sandbox keeps them in."""
    import signal

    pid = job.process.pid
    if pid is not None:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:  # no such group (the worker never got as far as setsid, or all have exited)
            pass
    job.process.kill()
