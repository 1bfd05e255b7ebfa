"""Training and predicting in separate processes: no evaluation text ever reaches the process that
trained, and nothing learnt from one chunk of evaluation inputs reaches another (local executor).

A run's worker (the supervisor) loads the spec, builds the context and finds the walls, but never
runs contender code: it forks the training into a child, which applies the walls (sandbox.py),
calls the contender, pickles the predictor it returns (freezing.py), hands the supervisor those
bytes and ends. The supervisor then kills whatever the child left behind, and only then says
`ready`. For each chunk of evaluation inputs the orchestrator sends it two fresh connections: one
to the orchestrator, which sends the chunk's texts on it, and one to the model server (a view of
the run in which new handles and SAEs are the chunk's own). The supervisor forks one predicting
process per chunk with those two; it closes every other descriptor, applies the walls with a
scratch folder of its own (the training's is readable, not writable), unpickles the predictor,
reads its texts, predicts and sends the rows back itself. The supervisor waits for it, kills what
it left, removes its scratch folder and takes the next chunk. It never holds an evaluation text
or a prediction, and it is not dumpable: no contender process can read or write its memory.

A contender that says `ready` itself (it can find the supervisor's pipe in no process it runs:
the training child closed it) or forges the training report gains nothing: the report is plain
data, and the predictor is whatever it pickled before any evaluation text existed on its side.
"""
from __future__ import annotations

import os
import signal
import socket
import traceback
from multiprocessing.connection import Connection

from ...errors import AffordanceError, BudgetExceeded, FairfightError
from ..model_side import wire

REPORT_LIMIT = 64 << 20  # bytes of a training report (its log, at most)
_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE = 1, 4


def _prctl(option: int, value: int) -> None:
    import ctypes
    import sys

    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(option, value, 0, 0, 0)


def _fork() -> int:
    """Fork from the supervisor (its audit hook refuses os.fork to contender code)."""
    from .guard import trusted

    with trusted():
        pid = os.fork()
    if pid == 0:
        _prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))  # dies with the supervisor
    return pid


def _end_leftovers(pid_namespace: bool) -> None:
    """Kill every process of the run but this one and its namespace's init (what a child forked and
    left running). Without a PID namespace of its own there is no safe 'every': nothing is killed
    here (the orchestrator kills the run's process group when the run ends)."""
    if pid_namespace:
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass


def _wait(pid: int) -> str:
    """Reap a child; its end in words ('' for a normal exit)."""
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:
            return ""
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return "" if os.WEXITSTATUS(status) == 0 else f"exit code {os.WEXITSTATUS(status)}"


def _pair() -> tuple[Connection, Connection]:
    a, b = socket.socketpair()
    return Connection(a.detach()), Connection(b.detach())


def train_in_child(body, keep: list[int], pid_namespace: bool) -> tuple[dict, bytes | None]:
    """Run `body()` -> (report, pickled predictor or None) in a child process; return what it sent.
    `keep`: the descriptors the child keeps (its server connection, the output)."""
    ours, theirs = _pair()
    pid = _fork()
    if pid == 0:
        code = 0
        try:
            ours.close()
            from .namespaces import close_inherited

            close_inherited([*keep, theirs.fileno()])
            report, blob = body()
            theirs.send_bytes(wire.encode(report))
            theirs.send_bytes(blob or b"")
        except BaseException:  # noqa: BLE001 - the supervisor hears nothing and says so
            code = 1
        finally:
            os._exit(code)
    theirs.close()
    report, blob, why = None, None, None
    try:
        report = wire.decode(ours.recv_bytes(REPORT_LIMIT))
        from .freezing import LIMIT

        blob = ours.recv_bytes(LIMIT + 1024)
    except (EOFError, OSError, FairfightError) as exc:
        why = exc
    ours.close()
    ended = _wait(pid)
    _end_leftovers(pid_namespace)
    if not isinstance(report, dict):
        if isinstance(why, FairfightError) or report is not None:  # it sent something, not a report
            error = f"the training process's report could not be read: {why or 'not a dict'}"
        elif ended:
            error = f"the worker process died ({ended}) while training, before its report"
        else:
            error = f"the training process ended without a report ({why!r})"
        report = {"status": "failed", "error": error, "reasons": [], "log": []}
    return report, (blob or None)


def serve_chunks(conn: Connection, predict_one, pid_namespace: bool, scratch: str | None) -> None:
    """The supervisor's loop after `ready`: per ("chunk", i) message and its two descriptors (the
    chunk's connection to the orchestrator, its connection to the model server), fork the
    predicting process, wait for it, clear what it left. Ends on ("done", ...) or a closed pipe."""
    from multiprocessing.reduction import recvfds

    while True:
        try:
            message = conn.recv()  # pickled by the orchestrator: the trusted side
        except (EOFError, OSError):
            return
        if not (isinstance(message, tuple) and message and message[0] == "chunk"):
            return
        with socket.fromfd(conn.fileno(), socket.AF_UNIX, socket.SOCK_STREAM) as s:
            chunk_fd, server_fd = recvfds(s, 2)
        folder = _chunk_folder(scratch, message[1])
        pid = _fork()
        if pid == 0:
            code = 0
            try:
                from .namespaces import close_inherited

                close_inherited([chunk_fd, server_fd])
                predict_one(Connection(chunk_fd), Connection(server_fd), folder)
            except BaseException:  # noqa: BLE001 - the orchestrator hears the chunk's connection close
                code = 1
            finally:
                os._exit(code)
        os.close(chunk_fd)
        os.close(server_fd)
        _wait(pid)
        _end_leftovers(pid_namespace)
        if not _remove(folder):
            return  # a chunk's files would reach the next one: predict no more (the run fails, incomplete)


def _chunk_folder(scratch: str | None, index) -> str:
    if not scratch:  # no run folder (the orchestrator makes one for every run it starts): a temp folder
        import tempfile

        return tempfile.mkdtemp(prefix="fairfight-predict-")
    folder = os.path.join(scratch, f"predict-{int(index)}")
    os.makedirs(folder, exist_ok=True)
    return folder


def _remove(folder: str) -> bool:
    """Remove a chunk's scratch folder whatever modes its process set on what it made."""
    import shutil
    import stat

    def unlock(function, path, _):
        parent = os.path.dirname(path)
        for p in (parent, path):
            try:
                os.chmod(p, stat.S_IRWXU)
            except OSError:
                pass
        function(path)

    try:
        shutil.rmtree(folder, onerror=unlock)
    except OSError:
        return False
    return not os.path.exists(folder)


def chunk_report(predict) -> dict:
    """Run `predict()` -> (rows, classes) in a predicting process; the chunk's report, as plain data."""
    from .guard import _ACTIVE

    report = {"status": "failed", "reasons": [], "log": []}
    try:
        rows, classes = predict()
        report.update(status="succeeded", output=[rows, list(classes)])
    except (AffordanceError, BudgetExceeded) as exc:
        report.update(status="refused", error=str(exc))
    except Exception as exc:  # noqa: BLE001
        from .sandbox import refused_by_os

        if isinstance(exc, OSError) and refused_by_os(exc):
            report.update(status="refused", error=f"the OS sandbox refused it: {exc!r}")
        else:
            report.update(error=str(exc) if isinstance(exc, FairfightError) else repr(exc),
                          traceback=traceback.format_exc())
    refusals = list(_ACTIVE.refusals) if _ACTIVE is not None else []
    if refusals:
        report.update(status="refused", reasons=[r["reason"] for r in refusals], guard=refusals)
    elif report["status"] == "refused":
        report["reasons"] = [report["error"]]
    return report


__all__ = ["train_in_child", "serve_chunks", "chunk_report"]
