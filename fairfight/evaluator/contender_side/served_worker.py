"""The worker for runs whose model lives in the model server (the local executor).

The contender process never loads the model: it connects to the server (its connection was
handed to it at start), locks itself down (the model files, hub caches and the forward cache are
out of its reach as well as the data sources), builds the context with handle and ledger stubs,
calls the contender, and then predicts the chunks of evaluation inputs the orchestrator sends.
It does not judge anything: the orchestrator assembles the chunks, runs the batch check, and
takes the run's ledger from the server (orchestration/served_runs.py).
"""
from __future__ import annotations

import time
import traceback

from ...errors import AffordanceError, BudgetExceeded, FairfightError
from . import batching
from .worker import Tables, _contender, _lock_down, _spec, _uses, trained_predictor


def _refused_by_os(exc: BaseException, denied) -> bool:
    """EACCES/EPERM, or a native library's error naming a denied path (safetensors reports a refused
    open as 'No such file or directory')."""
    from .sandbox import refused_by_os

    return (isinstance(exc, OSError) and refused_by_os(exc)) or any(d and d in str(exc) for d in denied)


def execute_served(desc: dict, channel, server_conn) -> dict:
    from .context import build_context
    from ...data import GENERATORS
    from .guard import Guard
    from .handle_stub import HandleStub, LedgerStub, ServerLink
    from ..model_side.server import rule_of

    started = time.time()
    run, logs, guard, sandbox, os_refusals, ctx = desc["run"], [], None, None, [], None
    result = {"key": run["key"], "status": "failed", "reasons": [], "model_access": "server"}
    try:
        spec = _spec(desc["spec"])
        if spec.spec_hash != desc["spec"]["hash"]:
            raise FairfightError("the spec changed after the plan was made; run eval again")
        contender = _contender(spec, run)
        link = ServerLink(server_conn)
        hello = link.call("hello")  # waits for the server to have the model
        loaded_at = time.time()
        grant = _uses(run["grant"])
        sandbox, denied = _lock_down(spec, hello["files"], desc)
        guard = Guard(denied, refused_modules=GENERATORS).install()
        from .namespaces import describe

        walls = describe(desc.get("walls"))
        result["isolation"], result["isolation_why"] = sandbox.level, "; ".join(w for w in (sandbox.why, walls) if w)
        logs.append(f"isolation: {result['isolation']} ({result['isolation_why']})")  # the run's log says what held
        ctx = build_context(spec, contender, run["seed"], loaded_model=None, splits=Tables(desc["tables"]),
                            params=run["params"], ledger=LedgerStub(link), grant=grant, rule=rule_of(run),
                            classes=desc["classes"], model=HandleStub(link, 0, hello["handle"]))
        try:
            predictor = trained_predictor(spec, run, ctx, channel)
            trained_at = time.time()
            chunks = channel.evaluation_chunks()
            result["chunk_predictions"] = [batching.predict_chunk(predictor, texts, ctx.model) for texts in chunks]
            result["status"] = "succeeded"
            result["timings"] = {"load": loaded_at - started, "train": trained_at - loaded_at,
                                 "predict": time.time() - trained_at}
        except (AffordanceError, BudgetExceeded) as exc:
            result.update(status="refused", error=str(exc))
        except Exception as exc:  # noqa: BLE001 - an OS refusal, however a native library words it
            if not (sandbox and sandbox.level == "os" and _refused_by_os(exc, guard.denied)):
                raise
            os_refusals.append(f"the OS sandbox refused it: {exc!r} (data sources, model files, the network "
                               "and new processes are out of the contender's reach)")
            result.update(status="refused", error=os_refusals[-1])
        finally:
            logs += ctx.logs
        refused = [r["reason"] for r in guard.refusals] + os_refusals
        if refused:  # the orchestrator adds the refusals the server's ledger holds
            result.update(status="refused", reasons=refused, guard=list(guard.refusals))
    except Exception as exc:
        result.update(status="failed", error=str(exc) if isinstance(exc, FairfightError) else repr(exc),
                      traceback=traceback.format_exc())
    finally:
        if guard is not None:
            guard.active = False
        if sandbox is not None:
            sandbox.close()
    result["log"] = [str(x) for x in logs]
    result["elapsed"] = time.time() - started
    return result
