"""What the model server keeps per run: its handles, SAEs and ledger (RunState), and the seconds its
requests waited behind other runs' operations (QueueClock). A predicting process gets a view of its
run's state (RunState.view)."""
from __future__ import annotations

import contextlib
import dataclasses
import threading
import time


class QueueClock:
    """The seconds a run's model requests have waited for the server's compute lock while other runs'
    operations held it (a long SAE training, a fine-tuning). That time is not the run's own: its
    ledger's wall time and the orchestrator's phase limits leave it out. A run has one connection in
    use at a time (the training's, then one predicting process's), so it never waits behind itself."""

    def __init__(self, clock=time.monotonic):
        self._clock, self._lock = clock, threading.Lock()
        self._done, self._since = 0.0, {}

    @contextlib.contextmanager
    def waiting(self):
        token = object()
        with self._lock:
            self._since[token] = self._clock()
        try:
            yield
        finally:
            with self._lock:
                self._done += self._clock() - self._since.pop(token)

    def seconds(self) -> float:
        with self._lock:
            now = self._clock()
            return self._done + sum(now - t for t in self._since.values())

    def own_time(self) -> float:
        """A clock that stands still while the run waits for the others (its ledger's)."""
        return self._clock() - self.seconds()


@dataclasses.dataclass
class RunState:
    ledger: object
    handles: dict
    files: list
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    saes: set = dataclasses.field(default_factory=set)  # SAEs this run sent: the only ones it may name
    forward: object = None
    evaluating: bool = False  # after `begin_evaluation`
    is_view: bool = False  # a predicting process's
    at_evaluation: dict | None = None  # the ledger when the evaluation began: all a view may read of it
    queue: QueueClock = dataclasses.field(default_factory=QueueClock)  # shared with its views

    def view(self) -> "RunState":
        """A predicting process's view: the handles and SAEs made before `ready`, read-only; what it
        makes is its own and goes with its connection (a chunk cannot leave a handle, an SAE or a
        ledger entry for the next chunk's process to find)."""
        from collections import ChainMap

        return dataclasses.replace(self, handles=ChainMap({}, self.handles), saes=set(self.saes), is_view=True)
