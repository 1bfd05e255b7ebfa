"""The orchestrator's end of one worker's pipe (local executor), built so that nothing the worker
sends can crash or hang the eval.

Every byte on it may come from the contender (it can find the pipe in its process and write to it).
So: a thread of its own reads it (a message cut short blocks that thread, never the eval's loop);
each message is capped before it is read in full, and so is everything a run sends; a message is
decoded as plain data (model_side/wire.py) and must be one of the three the protocol has
(`started`, `ready`, `result`). Anything else ends *that run*, `failed`, with the reason
(`Event.problem`). What goes to the worker after it started (the evaluation inputs) is sent by a
thread too: a worker that never reads them blocks only that thread.

Each thread owns a descriptor of its own (the sender a duplicate) and closes it when it is done,
so no descriptor is closed under a thread still using it. Both end when the worker's process dies
(the orchestrator kills it when the run ends): the pipe's other end is then closed.
"""
from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

from ...errors import FairfightError
from ..model_side import wire

KINDS = ("started", "ready", "result")


@dataclass
class Event:
    link: "WorkerLink"
    kind: str | None = None  # a message's kind; None: the pipe closed (the worker died) or a problem
    payload: object = None
    problem: str | None = None  # why the run must end: an undecodable, oversized or unknown message
    at: float = field(default_factory=time.monotonic)  # when it was heard: phases and deadlines count from here


def read_message(data: bytes) -> tuple[str, object]:
    """(kind, payload) of one message from a worker; FairfightError (saying what is wrong) for anything else."""
    message = wire.decode(data)
    if not (isinstance(message, list) and len(message) == 2 and message[0] in KINDS):
        shown = repr(message)[:120] if not isinstance(message, list) else f"a list of {len(message)}"
        raise FairfightError(f"a message that is not one of {list(KINDS)} ({shown})")
    return message[0], message[1]


class WorkerLink:
    """One worker's pipe: messages come in as Events on `events`; `send` never blocks."""

    def __init__(self, conn: Connection, events: queue.Queue, message_limit: int = wire.ORCHESTRATOR_MESSAGE_LIMIT,
                 total_limit: int = wire.RUN_OUTPUT_LIMIT):
        self._conn, self._events = conn, events
        self.message_limit, self.total_limit, self.received = message_limit, total_limit, 0
        self._send_fd = os.dup(conn.fileno())  # the sender's own: taken by `send`, else closed by `close`
        self._reader = threading.Thread(target=self._read, daemon=True, name="fairfight-worker-link")
        self._reader.start()

    def _read(self) -> None:
        conn = self._conn
        try:
            while True:
                try:
                    data = conn.recv_bytes(self.message_limit)
                except EOFError:
                    self._events.put(Event(self))
                    return
                except OSError as exc:
                    problem = None
                    if "bad message length" in str(exc):  # multiprocessing's words for a message over the cap
                        problem = (f"the worker sent a message over {self.message_limit >> 20} MiB "
                                   "(or one with a corrupt length)")
                    self._events.put(Event(self, problem=problem))
                    return
                self.received += len(data)
                if self.received > self.total_limit:
                    self._events.put(Event(self, problem=f"the worker sent more than {self.total_limit >> 20} MiB "
                                                         "to the orchestrator"))
                    return
                try:
                    kind, payload = read_message(data)
                except FairfightError as exc:
                    self._events.put(Event(self, problem=f"the worker sent {exc}"))
                    return
                self._events.put(Event(self, kind, payload))
                if kind == "result":
                    return
        finally:
            conn.close()

    def send(self, obj) -> bool:
        """Send `obj` (pickled: orchestrator to worker is trusted to untrusted) from a thread of its own.
        Once per run (the evaluation inputs): False if it was sent already."""
        fd, self._send_fd = self._send_fd, None
        if fd is None:
            return False
        threading.Thread(target=_send, args=(Connection(fd), obj), daemon=True, name="fairfight-worker-send").start()
        return True

    def close(self) -> None:
        """The orchestrator is done with the run (its worker is killed): the reader ends on its own."""
        fd, self._send_fd = self._send_fd, None
        if fd is not None:
            os.close(fd)


def _send(conn: Connection, obj) -> None:
    try:
        conn.send(obj)
    except (OSError, EOFError):  # the worker died or was killed: its run ends through the reader
        pass
    finally:
        conn.close()
