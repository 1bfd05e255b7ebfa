"""The orchestrator's end of one worker's pipe (local executor), built so that nothing the worker
sends can crash or hang the eval.

Every byte on it may come from the contender (it can find the pipe in its process and write to it).
So: a thread of its own reads it (a message cut short blocks that thread, never the eval's loop);
each message is capped before it is read in full, and so is everything a run sends; a message is
decoded as plain data (model_side/wire.py) and must be one of the kinds its end of the protocol
has: `started`, `ready`, `result` from a run's supervisor, `chunk` from a process predicting one
chunk (contender_side/predicting.py). Anything else ends *that run*, `failed`, with the reason
(`Event.problem`). What goes to the worker (a chunk's connections, the evaluation inputs) is sent
by a thread too, in order: a worker that never reads blocks only that thread.

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


def read_message(data: bytes, kinds=KINDS) -> tuple[str, object]:
    """(kind, payload) of one message from a worker; FairfightError (saying what is wrong) for anything else."""
    message = wire.decode(data)
    if not (isinstance(message, list) and len(message) == 2 and message[0] in kinds):
        shown = repr(message)[:120] if not isinstance(message, list) else f"a list of {len(message)}"
        raise FairfightError(f"a message that is not one of {list(kinds)} ({shown})")
    return message[0], message[1]


class WorkerLink:
    """One worker's pipe: messages come in as Events on `events`; `send` never blocks."""

    def __init__(self, conn: Connection, events: queue.Queue, message_limit: int = wire.ORCHESTRATOR_MESSAGE_LIMIT,
                 total_limit: int = wire.RUN_OUTPUT_LIMIT, kinds=KINDS, final: str = "result"):
        """`kinds`: the messages this end may hear; `final`: the one after which it hears nothing more."""
        self._conn, self._events = conn, events
        self.message_limit, self.total_limit, self.received = message_limit, total_limit, 0
        self.kinds, self.final = tuple(kinds), final
        self._send_fd = os.dup(conn.fileno())  # the sender's own: taken by `send`, else closed by `close`
        self._outbox = None  # the sender thread's queue, from the first `send`
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
                    kind, payload = read_message(data, self.kinds)
                except FairfightError as exc:
                    self._events.put(Event(self, problem=f"the worker sent {exc}"))
                    return
                self._events.put(Event(self, kind, payload))
                if kind == self.final:
                    return
        finally:
            conn.close()

    def send(self, obj, fds=()) -> None:
        """Send `obj` (pickled: orchestrator to worker is trusted to untrusted), then `fds` (descriptors,
        passed with SCM_RIGHTS and closed here once sent), from the link's sender thread, in order."""
        if self._outbox is None:
            if self._send_fd is None:  # closed: the descriptors go nowhere
                _close_all(fds)
                return
            fd, self._send_fd = self._send_fd, None
            self._outbox = queue.Queue()
            threading.Thread(target=_sender, args=(Connection(fd), self._outbox), daemon=True,
                             name="fairfight-worker-send").start()
        self._outbox.put((obj, list(fds)))

    def close(self) -> None:
        """The orchestrator is done with the run (its worker is killed): the reader ends on its own,
        the sender once it has nothing left (what is still queued is dropped)."""
        fd, self._send_fd = self._send_fd, None
        if fd is not None:
            os.close(fd)
        if self._outbox is not None:
            self._outbox.put(None)


def _close_all(fds) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def _sender(conn: Connection, outbox: queue.Queue) -> None:
    import socket
    from multiprocessing.reduction import sendfds

    broken = False
    try:
        while True:
            item = outbox.get()
            if item is None:
                return
            obj, fds = item
            try:
                if not broken:
                    conn.send(obj)
                    if fds:
                        with socket.fromfd(conn.fileno(), socket.AF_UNIX, socket.SOCK_STREAM) as s:
                            sendfds(s, fds)
            except (OSError, EOFError):  # the worker died or was killed: its run ends through the reader
                broken = True
            finally:
                _close_all(fds)
    finally:
        conn.close()
        while not outbox.empty():  # descriptors queued after the end
            item = outbox.get_nowait()
            if item is not None:
                _close_all(item[1])
