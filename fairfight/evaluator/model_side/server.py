"""The model server: the trusted side of the wall for the local executor.

One process per eval loads the model once (and the randomized copy each random_model control
seed needs; a random_direction control's handle replaces the vectors it adds: redirect_seed), holds the forward cache and, per run, the ModelHandle built with that run's grant,
ledger and budget. Contender processes hold only a connection to it (contender_side/handle_stub.py):
every model operation is checked against the grant and charged to the ledger here, and only
results cross back (tensors and lists, pickled; never module objects). What a contender sends is
decoded as plain data (wire.py), never unpickled, and contender code (a callable gradients
objective) never runs here. At the end of a run the orchestrator takes the run's ledger from
here, not from the worker. See docs/trust-boundary.md.

The orchestrator talks to the server over a control pipe: ("open", run_id, info) followed by the
file descriptor of the run's own connection (passed with SCM_RIGHTS; no reply, so the orchestrator
never waits for the model to load: a run that cannot be opened hears why on its own connection),
("begin_evaluation", run_id, texts), ("attach", run_id) followed by the descriptor of one more
connection to the run, for one process predicting one chunk of the evaluation inputs (it is
served a view of the run: contender_side/predicting.py), ("close", run_id) -> the run's ledger,
("stop",). After `begin_evaluation` the training process's own connection is refused: only the
predicting processes' views serve the run.
"""
from __future__ import annotations

import dataclasses
import os
import pickle
import threading
import traceback
from multiprocessing.connection import Connection

from fairfight.errors import AffordanceError, BudgetExceeded, FairfightError

from .run_state import QueueClock, RunState

# Per operation: the keyword arguments a contender may pass (nothing else reaches the handle).
HANDLE_OPS = {
    "facts": (), "embed": ("texts", "split"), "activations": ("texts", "layers", "pool", "split"),
    "features": ("texts", "sae", "layer", "pool", "split"), "intervene": ("edits",),
    "gradients": ("texts", "objective", "wrt", "layer", "pool", "split"), "weights": (),
    "finetune": ("texts", "labels", "steps", "epochs", "lr", "head", "split", "seed", "lora"),
    "generate": ("prompts", "max_new_tokens", "split"), "logprobs": ("prompts", "continuations", "split"),
    "tokens": ("texts", "split"),
    "train_sae": ("texts", "layer", "width", "k", "steps", "batch_size", "lr", "seed", "max_tokens", "max_seconds",
                  "split"),
}
SAE_FIELDS = ("W_enc", "b_enc", "W_dec", "b_dec", "activation", "k", "threshold", "subtract_b_dec", "source")
LEDGER_OPS = ("hello", "read", "refuse", "ledger", "sae")
ERRORS = {"AffordanceError": AffordanceError, "BudgetExceeded": BudgetExceeded, "FairfightError": FairfightError,
          "ValueError": ValueError, "TypeError": TypeError, "IndexError": IndexError, "KeyError": KeyError,
          "RuntimeError": RuntimeError}


def rule_of(run: dict) -> str:
    """The rule a run's grant comes from (named in refusals)."""
    if not run["declared"]:
        return "rules"
    return f"methods.{run['name']}.uses" if run["role"] in ("method", "control") else f"{run['name']} uses"


def randomized(loaded, seed: int):
    """The same architecture with freshly initialised weights (the random_model control)."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fresh = type(loaded.model)(loaded.model.config)
    fresh.to(loaded.device, getattr(torch, loaded.dtype)).eval()
    return dataclasses.replace(loaded, model=fresh, identity={**loaded.identity, "randomized_seed": seed})


def redirect_seed(run: dict) -> int | None:
    """The random_direction control's seed (the run's): its handle replaces every AddVector it is given
    by a random vector of the same norm at the same place (edits.random_direction). None otherwise."""
    return int(run["seed"]) if run["control"] == "random_direction" else None


def error_reply(exc: BaseException) -> tuple:
    name = type(exc).__name__
    for base in type(exc).__mro__:  # the nearest type the contender side knows (SpecError -> FairfightError)
        if base.__name__ in ERRORS:
            name = base.__name__
            break
    else:
        return ("error", "FairfightError", f"{name}: {exc}")
    return ("error", name, str(exc) if not isinstance(exc, KeyError) else repr(exc))


def raise_reply(reply: tuple):
    _, name, message = reply
    raise ERRORS.get(name, FairfightError)(message)


class ModelServer:
    """The runs of one eval on one loaded model (`spec`: the IR, for its rules and budget)."""

    def __init__(self, spec, loaded):
        self.spec, self.loaded = spec, loaded
        self.random_copies: dict[int, object] = {}
        self.runs: dict[str, RunState] = {}
        self.compute = threading.Lock()  # one model: one operation at a time (edits are hooks on it)

    @classmethod
    def from_spec_info(cls, spec_info: dict) -> "ModelServer":
        """Check the spec text the plan was made from, and load its model (the one place it is loaded)."""
        from fairfight.errors import SpecError
        from fairfight.spec.check import check_text
        from .models import load_model

        report = check_text(spec_info["text"], name=spec_info["name"], base_dir=spec_info["base_dir"],
                            overrides=spec_info["overrides"], refusals_ok=True, member=spec_info.get("member"))
        if not report.ok:
            raise SpecError(report.diagnostics)
        m = report.spec.model
        return cls(report.spec, load_model(m.source, revision=m.revision, kind=m.kind, dtype=m.dtype,
                                           base_dir=report.spec.base_dir,
                                           device=spec_info.get("device") or report.spec.execution.device,
                                           weights_cache=spec_info.get("weights_cache")))

    def model_for(self, run: dict):
        if run["control"] != "random_model":
            return self.loaded
        seed = int(run["seed"])
        if seed not in self.random_copies:
            self.random_copies[seed] = randomized(self.loaded, seed)
        return self.random_copies[seed]

    def open(self, run_id: str, info: dict) -> RunState:
        from .forward_cache import ForwardCache
        from .ledger import Budget, Ledger
        from .model_handle import ModelHandle
        from .models import private_paths
        from fairfight.spec.ir import Budget as IRBudget

        run = info["run"]
        loaded = self.model_for(run)
        # the run's own spec's (a family's members share one server; an axis may change the rules)
        budget = IRBudget(**info["budget"]) if info.get("budget") else self.spec.rules.budget
        rules = frozenset(info["rules_model"]) if info.get("rules_model") is not None else self.spec.rules.grant.model
        queue = QueueClock()
        ledger = Ledger(Budget.of(budget),
                        clock=queue.own_time)
        forward = None
        if info.get("forward_cache"):
            forward = ForwardCache(info["forward_cache"], loaded.identity, pass_threads=info.get("pass_threads"),
                                   universes=info.get("universes") or ())
        handle = ModelHandle(loaded, frozenset(run["grant"]["model"]), ledger, rule_source=f"{rule_of(run)}.model",
                             forward_cache=forward, rules=rules,
                             redirect_seed=redirect_seed(run))
        state = RunState(ledger, {0: handle}, private_paths(loaded), forward=forward, queue=queue)
        self.runs[run_id] = state
        return state

    def begin_evaluation(self, run_id: str, texts: list) -> None:
        state = self.runs[run_id]
        with state.lock:
            state.ledger.begin_evaluation(texts)
            state.evaluating, state.at_evaluation = True, state.ledger.to_dict()
            if state.forward is not None:  # chunks of the inputs take their rows of one pass over all of them
                state.forward.add_universe(texts)

    def queued(self, run_id: str) -> float:
        """Seconds the run's requests have waited behind other runs' operations (QueueClock)."""
        state = self.runs.get(run_id)
        return 0.0 if state is None else state.queue.seconds()

    def close(self, run_id: str) -> dict | None:
        state = self.runs.pop(run_id, None)
        if state is None:
            return None
        with state.lock:
            state.handles.clear()  # tuned copies go with the run
            return state.ledger.to_dict()

    # -- one run's requests ------------------------------------------------------------------
    def serve_run(self, state: RunState, conn: Connection) -> None:
        from . import wire

        while True:
            try:  # capped: a request's bytes are held in full before they are decoded
                data = conn.recv_bytes(wire.SERVER_REQUEST_LIMIT)
            except (EOFError, OSError):  # the run's worker is gone, or sent more than the cap: that run ends
                break
            try:
                request = wire.decode(data)
                if not (isinstance(request, list) and len(request) == 3 and isinstance(request[0], str)
                        and isinstance(request[1], int) and isinstance(request[2], dict)):
                    raise FairfightError("malformed request to the model server")
                reply = ("ok", self.call(state, *request))
            except Exception as exc:  # noqa: BLE001 - every failure goes back to the contender as its type
                reply = error_reply(exc)
            try:
                conn.send_bytes(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))
            except (BrokenPipeError, OSError):
                break
        conn.close()

    def call(self, state: RunState, op: str, hid: int, kw: dict):
        if state.evaluating and not state.is_view:
            raise FairfightError("the training process's connection to the model server closed at `ready`: "
                                 "the evaluation inputs are predicted in processes of their own")
        if op in LEDGER_OPS:
            with state.lock:
                return self._ledger_op(state, op, kw)
        if op not in HANDLE_OPS:
            raise FairfightError(f"unknown model server operation {op!r}")
        extra = sorted(set(kw) - set(HANDLE_OPS[op]))
        if extra:
            raise TypeError(f"{op}() got unexpected keyword argument(s) {extra}")
        handle = state.handles.get(hid)
        if handle is None:
            raise FairfightError(f"no model handle {hid} in this run")
        with state.queue.waiting():
            self.compute.acquire()
        try:
            with state.lock:
                return self._handle_op(state, handle, op, dict(kw))
        finally:
            self.compute.release()

    def _ledger_op(self, state, op, kw):
        ledger = state.ledger
        if op == "hello":
            return {"files": state.files, "handle": facts(state.handles[0])}
        if op == "read":
            sha = kw.get("sha256")
            ledger.read(str(kw["split"]), str(kw["column"]), int(kw["rows"]), None if sha is None else str(sha))
            return None
        if op == "refuse":
            ledger.refuse(str(kw["op"]), str(kw["reason"]), split=str(kw.get("split", "inputs")))
            return None
        if op == "sae":  # an SAE the contender trained or loaded: its weights, rebuilt here as data
            from fairfight.sae.model import SAE

            fields = {k: kw.get(k) for k in SAE_FIELDS}
            name = SAE(**{k: v for k, v in fields.items() if v is not None}).sha256
            state.saes.add(name)
            return name
        return state.at_evaluation if state.is_view else ledger.to_dict()

    def _handle_op(self, state, handle, op, kw):
        if op == "facts":
            return facts(handle)
        if op == "intervene":
            from .edits import edit_from_dict

            edits = kw["edits"] if isinstance(kw["edits"], list) else [kw["edits"]]
            for e in edits:
                if isinstance(e, dict) and "sae_sha256" in e:
                    _own_sae(state, e["sae_sha256"])
            return self._add(state, handle.intervene([edit_from_dict(e) if isinstance(e, dict) else e for e in edits]))
        if op == "finetune":
            texts, labels = kw.pop("texts"), kw.pop("labels")
            return self._add(state, handle.finetune(texts, labels, **kw))
        if op == "gradients":
            from .objectives import NAMES, objective_from_dict

            texts, objective = kw.pop("texts"), kw.pop("objective", None)
            if not (isinstance(objective, dict) and objective.get("objective") != "callable"):
                handle._gate("gradients", kw.get("split") or "inputs")  # a refusal comes before argument errors
                raise FairfightError("through the model server, gradients takes a declarative objective "
                                     f"(fairfight.objectives: {NAMES}); a callable objective is contender code "
                                     "and runs only with executor 'inline'")
            return handle.gradients(texts, objective_from_dict(objective), **kw)
        if op == "weights":
            return handle.weights()
        if op == "features":
            texts, sae = kw.pop("texts"), kw.pop("sae")
            if not isinstance(sae, str):
                raise FairfightError("features: the SAE goes to the model server by its sha256")
            _own_sae(state, sae)
            return handle.features(texts, sae, **kw)
        if op == "train_sae":  # trained (or read from the cache) here; the run may name it from now on
            sae = handle.train_sae(kw.pop("texts"), **kw)
            state.saes.add(sae.sha256)
            return {"sae": {f: getattr(sae, f) for f in SAE_FIELDS}, "sha256": sae.sha256, "training": sae.training}
        first = kw.pop("prompts" if op in ("generate", "logprobs") else "texts")
        if op == "logprobs":
            return handle.logprobs(first, kw.pop("continuations"), **kw)
        return getattr(handle, op)(first, **kw)

    @staticmethod
    def _add(state, handle) -> dict:
        hid = max(state.handles) + 1
        state.handles[hid] = handle
        return {"id": hid, **facts(handle)}


def _own_sae(state: RunState, name) -> None:
    """A run names only SAEs it sent itself (another run's SAE on this server is not its to use)."""
    if name not in state.saes:
        raise FairfightError(f"no SAE with sha256 {str(name)[:16]}... was sent by this run: load or train it first "
                             "(fairfight.sae.load_sae(folder), or the knowledge artifact that holds it)")


def facts(handle) -> dict:
    """The harmless facts a stub shows: sizes, grant, edits, and a tuned handle's linear head."""
    head = handle.head
    return {"kind": handle.kind, "num_layers": handle.num_layers, "hidden_size": handle.hidden_size,
            "chat": handle.chat,
            "grant": sorted(handle.grant), "edits": [e.to_dict() for e in handle.edits],
            "head": None if head is None else head.state()}


def _refuse_all(conn: Connection, exc: BaseException) -> None:
    """A run the server could not open: every request gets the reason."""
    reply = pickle.dumps(error_reply(exc))
    from . import wire

    try:
        while True:
            conn.recv_bytes(wire.SERVER_REQUEST_LIMIT)
            conn.send_bytes(reply)
    except (EOFError, OSError):
        conn.close()


def serve(control: Connection) -> None:
    """Process entry point: load the model, then serve the orchestrator and every run's connection."""
    import torch
    from multiprocessing.reduction import recv_handle

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    spec_info, threads = control.recv()
    torch.set_num_threads(max(1, int(threads or 1)))
    server, failure = None, None
    try:
        server = ModelServer.from_spec_info(spec_info)
    except Exception as exc:  # noqa: BLE001 - every run opened after this gets the reason
        failure = f"the model server could not load the model: {exc if isinstance(exc, FairfightError) else repr(exc)}"
    while True:
        try:
            message = control.recv()
        except (EOFError, OSError):
            break
        kind = message[0]
        try:
            if kind == "stop":
                control.send(("ok", None))
                break
            if kind == "open":  # no reply: the orchestrator does not wait for the model to load
                conn = Connection(recv_handle(control))
                try:
                    if server is None:
                        raise FairfightError(failure)
                    state = server.open(message[1], message[2])
                except Exception as exc:  # noqa: BLE001 - the run's worker hears why
                    threading.Thread(target=_refuse_all, args=(conn, exc), daemon=True).start()
                    continue
                threading.Thread(target=server.serve_run, args=(state, conn), daemon=True).start()
            elif kind == "attach":  # no reply, as for "open"
                conn = Connection(recv_handle(control))
                state = server.runs.get(message[1]) if server is not None else None
                if state is None:
                    threading.Thread(target=_refuse_all, args=(conn, FairfightError("the run is closed")),
                                     daemon=True).start()
                    continue
                threading.Thread(target=server.serve_run, args=(state.view(), conn), daemon=True).start()
            elif kind == "begin_evaluation":
                server.begin_evaluation(message[1], message[2])
                control.send(("ok", None))
            elif kind == "queued":
                control.send(("ok", server.queued(message[1]) if server else 0.0))
            elif kind == "close":
                control.send(("ok", server.close(message[1]) if server else None))
            elif kind == "device":  # where the model runs, for each run's record (devices.py)
                from .devices import used

                control.send(("ok", used(server.loaded) if server else None))
            else:
                raise FairfightError(f"unknown control message {kind!r}")
        except Exception as exc:  # noqa: BLE001
            control.send(("error", str(exc) if isinstance(exc, FairfightError) else traceback.format_exc()))
    control.close()


__all__ = ["ModelServer", "serve", "rule_of", "randomized", "facts", "HANDLE_OPS"]
