"""The local executor's process entry point: one contender run per fresh process."""
from __future__ import annotations

import traceback

from ...errors import FairfightError
from .served_worker import execute_served
from .worker import PipeChannel


def worker_main(conn, server_conn) -> None:
    """Process entry point for the local executor (forked from the fork server: a fresh process per run).
    `server_conn`: this run's connection to the model server (the model is not loaded here)."""
    import os

    from . import namespaces

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    _own_process_group()
    from .guard import detach_resource_tracker

    detach_resource_tracker()  # its descriptor stays, pointed at /dev/null (multiprocessing writes to it)
    from multiprocessing import resource_tracker

    tracker = getattr(resource_tracker._resource_tracker, "_fd", None)
    own = [conn.fileno(), server_conn.fileno()]
    namespaces.close_inherited(own + ([tracker] if tracker is not None else []))
    walls = namespaces.enter(own)  # the process that called it stays outside, and exits with the worker
    walls["capabilities"] = _drop_capabilities()
    desc = conn.recv()
    desc["walls"] = walls
    _capture_output(desc.get("output"))
    try:
        import torch

        torch.set_num_threads(max(1, int(desc.get("threads") or 1)))
        result = execute_served(desc, PipeChannel(conn), server_conn)
    except BaseException:  # even a KeyboardInterrupt is reported, not lost
        result = {"key": desc["run"]["key"], "status": "failed", "error": traceback.format_exc(), "log": []}
    channel = PipeChannel(conn)
    try:
        channel.send("result", result)
    except FairfightError as exc:  # something in the report is not plain data
        channel.send("result", {"key": desc["run"]["key"], "status": "failed", "log": [],
                                "error": f"the worker's report could not be sent: {exc}"})
    conn.close()


def _drop_capabilities() -> str:
    import os

    from .namespaces import drop_capabilities

    import sys

    if os.environ.get("FAIRFIGHT_ISOLATION", "").lower() == "tripwire":  # the fallback: no OS walls at all
        return "kept (FAIRFIGHT_ISOLATION=tripwire)"
    if sys.platform != "linux":
        return f"kept (no capabilities to drop on {sys.platform})"
    try:
        return "none" if drop_capabilities() else "none (the bounding set could not be emptied)"
    except OSError as exc:
        return f"kept: {exc}"


def _capture_output(path) -> None:
    """The run's stdout and stderr (the contender's prints, library warnings, a native crash's last
    words) go to the file the orchestrator named, which ends in the run's log (local.py), not to the
    terminal of `fairfight eval`: there a printed line could pass for a verdict, and runs side by
    side would interleave. Opened before the lockdown, so it stays writable inside the walls."""
    import os
    import sys

    if not path:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
    try:  # the orchestrator reads it through its own descriptor: no name left for a killed eval to leave
        os.unlink(path)
    except OSError:
        pass
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def _own_process_group() -> None:
    """Lead a process group of its own: whatever the contender forks stays in it (the sandbox denies
    setsid and setpgid), and the orchestrator kills the group when the run ends (local.py). Out of
    the evaluating process's group, a worker would survive that group's kill: it dies with the fork
    server instead (PR_SET_PDEATHSIG), which dies with the evaluating process."""
    import ctypes
    import os
    import signal
    import sys

    try:
        os.setsid()
    except OSError:
        return
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
