"""The orchestrator's side of the model server (local executor): start it, open and close each
run on it, and judge a run from what only the trusted side holds.

A run's result is put together here: its ledger comes from the server (a refusal the contender
caught and tried to erase is still in it), its predictions are assembled from the chunks the
orchestrator chose, and the batch check compares them here (contender_side/batching.py's
`assemble`). The worker's own report can only add refusals, and lower the isolation level.
"""
from __future__ import annotations

from multiprocessing.reduction import send_handle

from ...errors import FairfightError


class ServerProcess:
    """The model server (model_side/server.py) in a process of its own, and its control pipe."""

    def __init__(self, context, spec_info: dict, threads: int):
        from ..model_side.server import serve

        self.conn, child = context.Pipe()
        self.process = context.Process(target=serve, args=(child,), daemon=True, name="fairfight-model-server")
        self.process.start()
        child.close()
        self.conn.send((spec_info, threads))

    def _call(self, *message):
        self.conn.send(message)
        status, payload = self.conn.recv()
        if status != "ok":
            raise FairfightError(payload)
        return payload

    def open(self, run_id: str, info: dict, server_end) -> None:
        """Register a run with its grant and budget; the server answers `server_end` from now on."""
        try:  # no reply (the server may still be loading the model); the worker hears any failure
            self.conn.send(("open", run_id, info))
            send_handle(self.conn, server_end.fileno(), self.process.pid)
        finally:
            server_end.close()  # the server has its own copy now

    def attach(self, run_id: str, server_end) -> None:
        """One more connection to an open run, for one predicting process: the server serves it a view
        of the run (the handles made before `ready`; new handles and SAEs its own). No reply."""
        try:
            self.conn.send(("attach", run_id))
            send_handle(self.conn, server_end.fileno(), self.process.pid)
        finally:
            server_end.close()

    def device(self) -> dict | None:
        """{device, dtype} of the model the server holds (asked once)."""
        if not hasattr(self, "_device"):
            try:
                self._device = self._call("device")
            except (EOFError, OSError, FairfightError):
                return None
        return self._device

    def begin_evaluation(self, run_id: str, texts: list) -> None:
        self._call("begin_evaluation", run_id, list(texts))

    def queued(self, run_id: str) -> float:
        """Seconds the run's model requests have waited behind other runs' operations (0 if unknown)."""
        try:
            return float(self._call("queued", run_id))
        except (EOFError, OSError, FairfightError, TypeError, ValueError):
            return 0.0

    def close(self, run_id: str) -> dict | None:
        try:
            return self._call("close", run_id)
        except (EOFError, OSError, FairfightError):
            return None

    def stop(self) -> None:
        try:
            self._call("stop")
        except (EOFError, OSError, FairfightError):
            pass
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


def open_info(desc: dict) -> dict:
    """What the server needs to serve a run: its description, grant and where the shared passes live."""
    return {"run": desc["run"], "forward_cache": desc.get("forward_cache"), "universes": desc.get("universes") or [],
            "pass_threads": desc.get("pass_threads"), "budget": desc.get("budget"), "rules_model": desc.get("rules_model")}


def _report(raw) -> dict:
    """The worker's report, kept to known fields of the right types (a contender may have written it)."""
    raw = raw if isinstance(raw, dict) else {}

    def text(x):
        return x if isinstance(x, str) else None

    def texts(x):
        return [v for v in x if isinstance(v, str)] if isinstance(x, list) else []

    def number(x):
        return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else 0.0

    report = {"status": raw.get("status") if raw.get("status") in ("succeeded", "refused", "failed") else "failed",
              "error": text(raw.get("error")), "reasons": texts(raw.get("reasons")), "log": texts(raw.get("log")),
              "elapsed": number(raw.get("elapsed")), "isolation": text(raw.get("isolation")),
              "isolation_why": text(raw.get("isolation_why")), "chunk_predictions": raw.get("chunk_predictions"),
              "guard": [{"op": text(g.get("op")), "reason": text(g.get("reason"))} for g in raw.get("guard") or []
                        if isinstance(g, dict)] if isinstance(raw.get("guard"), list) else []}
    if isinstance(raw.get("timings"), dict):
        report["timings"] = {k: number(v) for k, v in raw["timings"].items() if isinstance(k, str)}
    if text(raw.get("traceback")):
        report["traceback"] = raw["traceback"]
    if report["status"] == "failed" and report["error"] is None:
        report["error"] = "the worker failed without saying why"
    return report


def judged(result: dict, ledger: dict | None, plan, tier: str | None, expected_level: str, task_classes=None) -> dict:
    """The run's record from the worker's report, the server's ledger and the orchestrator's chunk plan.
    `task_classes`: the labels a prediction may be (batching.rows_problem)."""
    from ..contender_side import batching
    from ..contender_side.sandbox import LEVELS, weakest

    key = result.get("key") if isinstance(result, dict) else None
    result = {"key": key, **_report(result)}
    outputs = result.pop("chunk_predictions", None)
    result["ledger"] = ledger
    reported = result.get("isolation")
    result["isolation"] = weakest(reported if reported in LEVELS else "none", expected_level)
    result["model_access"] = "server"
    if result.get("status") == "succeeded":
        if plan is None or outputs is None:
            result.update(status="failed", error="the worker reported success without predicting the evaluation inputs")
        else:
            n, chunks, recheck = plan
            try:
                rows, classes, check = batching.assemble(n, chunks, recheck, outputs, task_classes)
            except FairfightError as exc:
                result.update(status="failed", error=str(exc))
            else:
                result.update(predictions=rows, classes=classes, batch_check=check)
                if check["differing"] and tier == "fair-fight":
                    reason = batching.describe(check)
                    result.update(status="refused", error=reason, reasons=[reason] + list(result.get("reasons") or []),
                                  predictions=None)
    refused = [e["refused"] for e in (ledger or {}).get("entries", []) if e.get("refused")]
    if refused:  # the server's record: a refusal the contender caught still ends the run refused
        reasons = refused + [r for r in result.get("reasons") or [] if r not in refused]
        result.update(status="refused", reasons=reasons, predictions=None)
        result.setdefault("error", refused[0])
    if result.get("status") == "refused" and result.get("guard") and ledger is not None:
        ledger["guard"] = result["guard"]
    result.pop("guard", None)
    return result
