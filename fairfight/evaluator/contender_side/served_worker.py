"""The worker for runs whose model lives in the model server (the local executor).

The worker never loads the model: it connects to the server (its connection was handed to it at
start), finds the walls (the model files, hub caches and the forward cache are out of reach as
well as the data sources), builds the context with handle and ledger stubs, and then supervises:
the contender trains in one child process and each chunk of evaluation inputs is predicted in
another, each behind the walls (predicting.py). It does not judge anything: the orchestrator
assembles the chunks, runs the batch check, and takes the run's ledger from the server
(orchestration/served_runs.py).
"""
from __future__ import annotations

import gc
import time
import traceback

from ...errors import AffordanceError, BudgetExceeded, FairfightError
from . import batching
from .guard import trusted
from .worker import Tables, _contender, _spec, _uses, trained_predictor, walls_of


def _refused_by_os(exc: BaseException, denied) -> bool:
    """EACCES/EPERM, or a native library's error naming a denied path (safetensors reports a refused
    open as 'No such file or directory')."""
    from .sandbox import refused_by_os

    return (isinstance(exc, OSError) and refused_by_os(exc)) or any(d and d in str(exc) for d in denied)


def execute_served(desc: dict, channel, server_conn) -> dict:
    """The supervisor's part of a run (predicting.py): set up, fork the training, then one
    predicting process per chunk. Returns the run's report; the predictions went to the
    orchestrator from the predicting processes themselves."""
    from .context import build_context
    from ...data import GENERATORS
    from .guard import Guard
    from .handle_stub import HandleStub, LedgerStub, ServerLink
    from .predicting import _PR_SET_DUMPABLE, _prctl, serve_chunks, train_in_child
    from .sandbox import Sandbox
    from ..model_side.server import rule_of

    started = time.time()
    run = desc["run"]
    result = {"key": run["key"], "status": "failed", "reasons": [], "model_access": "server"}
    try:
        spec = _spec(desc["spec"])
        if spec.spec_hash != desc["spec"]["hash"]:
            raise FairfightError("the spec changed after the plan was made; run eval again")
        contender = _contender(spec, run)
        link = ServerLink(server_conn)
        hello = link.call("hello")  # waits for the server to have the model
        loaded_at = time.time()
        walls = walls_of(spec, hello["files"], desc)
        guard = Guard(walls["denied"], refused_modules=GENERATORS).install()  # inherited by every child
        ctx = build_context(spec, contender, run["seed"], loaded_model=None, splits=Tables(desc["tables"]),
                            params=run["params"], ledger=LedgerStub(link), grant=_uses(run["grant"]),
                            rule=rule_of(run), classes=desc["classes"], model=HandleStub(link, 0, hello["handle"]))
        pid_namespace = bool((desc.get("walls") or {}).get("pid"))
        sandbox = Sandbox(desc.get("scratch"))
        sandbox.prepare(**walls)  # found once: the training process and each predicting process apply them
        _prctl(_PR_SET_DUMPABLE, 0)  # no contender process may read or write this one's memory
        channel.started()
        keep = [server_conn.fileno(), *_tracker_fd()]
        gc.freeze()  # what the contender's processes inherit: their collections skip it (fewer pages copied)
        report, blob = train_in_child(lambda: _train(spec, run, ctx, guard, sandbox, desc), keep, pid_namespace)
        server_conn.close()
        trained_at = time.time()
        result.update(_training_result(report))
        if result["status"] == "succeeded":
            if blob is None:
                raise FairfightError("the training process reported success without a predictor")
            gc.freeze()
            channel.send("ready", None)
            training = [desc["scratch"]] if desc.get("scratch") else []  # what the training left: read-only
            serve_chunks(channel.conn, lambda conn, server, folder: _predict(blob, conn, server, folder, sandbox,
                                                                             training, hello, guard),
                         pid_namespace, desc.get("scratch"))
            result["timings"] = {"load": loaded_at - started, "train": trained_at - loaded_at,
                                 "predict": time.time() - trained_at}
    except Exception as exc:
        result.update(status="failed", error=str(exc) if isinstance(exc, FairfightError) else repr(exc),
                      traceback=traceback.format_exc())
    result["elapsed"] = time.time() - started
    return result


def _tracker_fd() -> list[int]:
    from multiprocessing import resource_tracker

    fd = getattr(resource_tracker._resource_tracker, "_fd", None)
    return [fd] if fd is not None else []


class _Started:
    """The training child's channel: the supervisor said `started` already, and holds the pipe."""

    def started(self) -> None:
        pass


def _isolation(sandbox, desc) -> tuple[str, str]:
    from .namespaces import describe

    return sandbox.level, "; ".join(w for w in (sandbox.why, describe(desc.get("walls"))) if w)


def _train(spec, run, ctx, guard, sandbox, desc) -> tuple[dict, bytes | None]:
    """In the training child: the walls, the contender's code, its predictor pickled."""
    from . import freezing

    with trusted():  # no contender code has run in this process yet
        sandbox.apply()
    level, why = _isolation(sandbox, desc)
    report = {"status": "failed", "reasons": [], "isolation": level, "isolation_why": why,
              "log": [f"isolation: {level} ({why})"]}  # the run's log says what held
    blob = None
    try:
        predictor = trained_predictor(spec, run, ctx, _Started())
        blob = freezing.dumps(predictor)
        report["status"] = "succeeded"
    except (AffordanceError, BudgetExceeded) as exc:
        report.update(status="refused", error=str(exc), reasons=[str(exc)])
    except Exception as exc:  # noqa: BLE001 - an OS refusal, however a native library words it
        if sandbox.level == "os" and _refused_by_os(exc, guard.denied):
            reason = (f"the OS sandbox refused it: {exc!r} (data sources, model files, the network "
                      "and new processes are out of the contender's reach)")
            report.update(status="refused", error=reason, reasons=[reason])
        else:
            report.update(error=str(exc) if isinstance(exc, FairfightError) else repr(exc),
                          traceback=traceback.format_exc())
    report["log"] += [str(x) for x in ctx.logs]
    if guard.refusals:
        report.update(status="refused", reasons=[r["reason"] for r in guard.refusals] + report["reasons"],
                      guard=list(guard.refusals))
    return report, blob if report["status"] == "succeeded" else None


def _training_result(report: dict) -> dict:
    keys = ("status", "error", "reasons", "log", "isolation", "isolation_why", "guard", "traceback")
    return {k: report[k] for k in keys if k in report}


def _predict(blob, conn, server, folder, sandbox, training, hello, guard) -> None:
    """In a predicting process: the walls (its own scratch folder; the training's read-only), the
    predictor unpickled, its chunk predicted, the report sent to the orchestrator."""
    from . import freezing
    from .handle_stub import HandleStub, ServerLink
    from .predicting import chunk_report
    from ..model_side import wire

    guard.refusals.clear()  # this chunk's own
    with trusted():  # no contender code has run in this process yet
        sandbox.apply(folder, readable=training)

    def predict():
        link = ServerLink(server)
        predictor = freezing.loads(blob, link)
        texts = conn.recv()  # the chunk's inputs, sent by the orchestrator on this process's own connection
        return batching.predict_chunk(predictor, texts, HandleStub(link, 0, hello["handle"]))

    report = chunk_report(predict)
    report["isolation"] = sandbox.level
    conn.send_bytes(wire.encode(["chunk", report]))
