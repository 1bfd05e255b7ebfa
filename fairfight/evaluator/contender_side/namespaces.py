"""A worker's first steps (Linux), before anything of its run is received: nothing inherited, its own
namespaces, no capabilities.

- Descriptors: every one but stdin/stdout/stderr and the run's own two connections is closed
  (`close_inherited`). multiprocessing's fork server hands each process it forks the write end of
  its "alive" pipe (one byte written there made the fork server exit, and every run beside it die)
  and the resource tracker's pipe (kept, pointed at /dev/null: guard.detach_resource_tracker).
- Namespaces (`enter`): a user namespace where the worker's uid is an unprivileged one (65534 when
  fairfight runs as root, else the user's own uid), and PID, IPC and UTS namespaces. The process that
  asked for them stays outside as the namespace's keeper: it forks the namespace's init (PID 1),
  which forks the worker proper (it sees no process it did not start: not the model server, not
  the orchestrator, not other runs; when it ends, the init exits and the kernel kills all it
  started); keeper and init close their copies of the connections and exit with the worker's status. Where user namespaces are refused (a sysctl,
  an AppArmor policy) and fairfight runs as root, the PID, IPC and UTS namespaces come without one.
- Capabilities (`drop_capabilities`): bounding, ambient, permitted, effective and inheritable sets
  all emptied. Without a user namespace, a worker run by root had root's capabilities: it loaded an
  eBPF program that read the orchestrator's writes.
A user namespace maps the unprivileged uid to the uid fairfight runs as (the kernel allows no other
mapping without privileges): file permissions are still that user's. docs/trust-boundary.md says
what this does and does not cover.
"""
from __future__ import annotations

import ctypes
import os
import sys

CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID = 0x04000000, 0x08000000, 0x10000000, 0x20000000
_PR_SET_PDEATHSIG, _PR_CAPBSET_DROP, _PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 1, 24, 47, 4
_CAP_VERSION_3 = 0x20080522
UNPRIVILEGED_UID = 65534  # "nobody": the uid a root-run worker has inside its user namespace


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def open_descriptors() -> list[int]:
    try:
        return sorted(int(name) for name in os.listdir("/proc/self/fd"))
    except OSError:  # no /proc: every number up to the limit
        import resource

        return list(range(resource.getrlimit(resource.RLIMIT_NOFILE)[0]))


def close_inherited(keep) -> None:
    """Close every descriptor but 0, 1, 2 and `keep`, and forget multiprocessing's copies of them."""
    from multiprocessing import forkserver

    keep = {0, 1, 2, *keep}
    for fd in open_descriptors():
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    forkserver._forkserver._forkserver_alive_fd = None
    forkserver._forkserver._inherited_fds = []


def enter(connections) -> dict:
    """Enter new user, PID, IPC and UTS namespaces (Linux; a single-threaded process). Returns what
    was reached, {"user": bool, "pid": bool, "uid": int}, in the worker proper; in the process that
    called it, never returns (it waits for the worker and exits with its status). `connections`: the
    run's descriptors, which the keeper closes. FAIRFIGHT_ISOLATION=tripwire: nothing."""
    reached = {"user": False, "pid": False, "uid": os.getuid()}
    if sys.platform != "linux" or os.environ.get("FAIRFIGHT_ISOLATION", "").lower() == "tripwire":
        return reached
    libc = _libc()
    others = CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    uid, gid = os.geteuid(), os.getegid()
    if libc.unshare(CLONE_NEWUSER | others) == 0:
        inside = UNPRIVILEGED_UID if uid == 0 else uid
        try:
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{inside} {uid} 1")
            _write("/proc/self/gid_map", f"{UNPRIVILEGED_UID if gid == 0 else gid} {gid} 1")
        except OSError:  # a kernel that refuses the map leaves the uid unmapped (65534): still no privilege
            pass
        reached.update(user=True, pid=True, uid=os.getuid())
    elif libc.unshare(others) == 0:  # no user namespaces here, but root may make the others
        reached["pid"] = True
    else:
        return reached
    pid = os.fork()  # PID 1 of the new PID namespace: its init, which starts the worker proper
    if pid == 0:
        libc.prctl(_PR_SET_PDEATHSIG, 9, 0, 0, 0)  # dies with its keeper (which dies with the fork server)
        # The worker is not PID 1 itself: the kernel ignores a signal sent to a namespace's init from
        # inside it, so a contender could not even kill itself (os.kill(os.getpid(), SIGKILL)).
        worker = os.fork()
        if worker == 0:
            libc.prctl(_PR_SET_PDEATHSIG, 9, 0, 0, 0)
            return reached
        _keep(worker, connections, reap=True)  # when the worker ends, the kernel ends the namespace
    _keep(pid, connections)


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _keep(pid: int, connections, reap: bool = False) -> None:
    """The keeper (and the namespace's init): hold nothing of the run, wait for the worker, exit as
    it did. `reap`: also reap the orphans the contender leaves (they become the init's children)."""
    for fd in connections:
        try:
            os.close(fd)
        except OSError:
            pass
    while True:
        try:
            done, status = os.waitpid(-1 if reap else pid, 0)
        except ChildProcessError:
            os._exit(1)
        except InterruptedError:
            continue
        if done == pid:
            break
    if os.WIFSIGNALED(status):
        os._exit(128 + os.WTERMSIG(status))
    os._exit(os.WEXITSTATUS(status))


def drop_capabilities() -> bool:
    """Empty every capability set of this process (and so of whatever it starts). True when the
    bounding set could be emptied too (it needs CAP_SETPCAP: a worker in its own user namespace, or
    root's; a normal user's worker without one has no capability to lose anyway)."""
    if sys.platform != "linux":
        return False
    libc = _libc()
    bounding = True
    try:
        last = int(open("/proc/sys/kernel/cap_last_cap").read())
    except (OSError, ValueError):
        last = 63
    for cap in range(last + 1):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != 22:  # EINVAL: no such cap
            bounding = False
    libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(_CAP_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()  # two {effective, permitted, inheritable}: all zero
    if libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), f"capset: {os.strerror(ctypes.get_errno())}")
    return bounding


def capabilities() -> dict:
    """This process's capability sets as /proc shows them ({"CapEff": 0, ...})."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Cap"):
                name, value = line.split(":")
                out[name] = int(value, 16)
    return out


def describe(walls: dict | None) -> str:
    """The namespaces and capabilities a worker reached, in words (for a run's isolation_why)."""
    if not walls:
        return ""
    spaces = (["user (uid %d)" % walls.get("uid", -1)] if walls.get("user") else []) + (
        ["PID", "IPC", "UTS"] if walls.get("pid") else [])
    where = f"own {', '.join(spaces)} namespaces" if spaces else "no namespaces of its own"
    return f"{where}; capabilities: {walls.get('capabilities', 'kept')}"
