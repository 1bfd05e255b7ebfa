"""The orchestrator's end of a worker's pipe: every message is one of the protocol's, capped, and read
by a thread of its own, so that a worker (a contender in it) can end only its own run."""
import os
import queue
import time
import multiprocessing as mp
import struct

from fairfight.evaluator.model_side import wire
from fairfight.evaluator.orchestration.worker_link import WorkerLink, read_message


def _link(**limits):
    ours, theirs = mp.Pipe()
    events = queue.Queue()
    return WorkerLink(ours, events, **limits), theirs, events


def test_the_protocols_messages_come_through():
    link, theirs, events = _link()
    theirs.send_bytes(wire.encode(["started", None]))
    theirs.send_bytes(wire.encode(["result", {"status": "succeeded"}]))
    first, second = events.get(timeout=5), events.get(timeout=5)
    assert (first.kind, second.kind, second.payload) == ("started", "result", {"status": "succeeded"})
    link.close()


def test_an_unknown_kind_or_shape_is_a_problem_not_an_exception():
    for message in (["hello", None], ["result"], "result", {"result": 1}, ["result", 1, 2]):
        link, theirs, events = _link()
        theirs.send_bytes(wire.encode(message))
        event = events.get(timeout=5)
        assert event.kind is None and "not one of" in event.problem, (message, event)
        link.close()


def test_undecodable_bytes_are_a_problem():
    link, theirs, events = _link()
    theirs.send_bytes(b"\x01")
    event = events.get(timeout=5)
    assert event.kind is None and "undecodable" in event.problem
    link.close()


def test_a_message_over_the_cap_is_refused_before_it_is_read():
    link, theirs, events = _link(message_limit=1 << 20)
    theirs._send(struct.pack("!i", -1) + struct.pack("!Q", 1 << 40))  # claims a TiB, sends nothing more
    event = events.get(timeout=5)
    assert event.kind is None and "over 1 MiB" in event.problem
    link.close()


def test_a_runs_total_is_capped():
    link, theirs, events = _link(total_limit=10_000)
    for _ in range(100):
        theirs.send_bytes(wire.encode(["started", "x" * 500]))
    problems = []
    while not problems:
        event = events.get(timeout=5)
        if event.kind is None:
            problems.append(event.problem)
    assert "more than" in problems[0]
    link.close()


def test_a_message_cut_short_blocks_only_its_reader():
    link, theirs, events = _link()
    theirs._send(struct.pack("!i", 1000) + b"x" * 10)  # 990 bytes never come
    try:
        events.get(timeout=0.5)
        raise AssertionError("no event expected while the message is incomplete")
    except queue.Empty:
        pass
    theirs.close()  # the worker dies: the reader ends
    assert events.get(timeout=5).kind is None
    link.close()


def test_sending_to_a_worker_that_never_reads_does_not_block():
    link, theirs, events = _link()
    started = time.monotonic()
    link.send(["x" * 1000] * 10_000)  # 10 MB: far more than the socket's buffer
    link.send(["again"])
    assert time.monotonic() - started < 5
    theirs.close()
    link.close()


def test_messages_and_descriptors_arrive_in_order():
    import socket
    from multiprocessing.reduction import recvfds

    link, theirs, events = _link()
    r, w = os.pipe()
    link.send(("chunk", 0), fds=[w])  # the link closes its copy once sent
    link.send(("done", None))
    assert theirs.recv() == ("chunk", 0)
    with socket.fromfd(theirs.fileno(), socket.AF_UNIX, socket.SOCK_STREAM) as s:
        (passed,) = recvfds(s, 1)
    os.write(passed, b"through")
    os.close(passed)
    assert os.read(r, 16) == b"through"
    assert theirs.recv() == ("done", None)
    os.close(r)
    theirs.close()
    link.close()


def test_read_message():
    assert read_message(wire.encode(["ready", None])) == ("ready", None)
