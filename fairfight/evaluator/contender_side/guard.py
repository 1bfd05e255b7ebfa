"""Run-time tripwire: an audit hook that records and refuses what a contender must not do.

Installed in the worker after the model is loaded and before contender code runs. It refuses
opening data sources, model files and hub caches, network connections, new processes,
`gc` object walks and importing the builtin datasets' generators. A refused operation raises `AffordanceError` inside the contender and is
recorded, so the run ends `refused` even if the contender catches the exception.

On its own this is a tripwire for honest mistakes, not a sandbox: native code can bypass audit
hooks. Where the kernel allows, sandbox.py walls the worker in underneath it (docs/isolation.md).
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager

from ...errors import AffordanceError
from .sandbox import INET_FAMILIES

_PROCESS_EVENTS = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                   "os.forkpty", "pty.spawn"}
_NETWORK_EVENTS = {"socket.connect", "socket.bind", "socket.getaddrinfo", "socket.sendto", "urllib.Request"}
_GC_EVENTS = {"gc.get_objects", "gc.get_referrers", "gc.get_referents"}
_OPEN_EVENTS = {"open", "os.listdir", "os.scandir", "shutil.copyfile", "os.rename"}


class Guard:
    def __init__(self, denied_paths=(), refused_modules=()):
        self.denied = tuple(sorted({os.path.realpath(str(p)) for p in denied_paths if p}))
        self.refused_modules = frozenset(refused_modules)
        self.refusals: list[dict] = []
        self.active = False
        self._inside = False

    def install(self) -> "Guard":
        global _ACTIVE
        sys.addaudithook(self._hook)
        self.active = True
        _ACTIVE = self
        return self

    def _denied_path(self, path) -> bool:
        if isinstance(path, int):
            return False
        try:
            real = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return False
        return any(real == d or real.startswith(d + os.sep) for d in self.denied)

    def _hook(self, event: str, args) -> None:
        if not self.active or self._inside:
            return
        reason = None
        if event in _OPEN_EVENTS and args and self._denied_path(args[0]):
            reason = (f"opening '{os.fsdecode(args[0])}' (a data source, model file, hub cache, dataset "
                      "generator or another eval's results) is refused")
        elif event == "import" and args and args[0] in self.refused_modules:
            reason = (f"importing {args[0]} is refused (it generates the builtin datasets: every split, "
                      "labels included)")
        elif event in _NETWORK_EVENTS:
            reason = f"network access ({event}) is refused"
        elif event == "socket.__new__" and len(args) > 1 and args[1] in INET_FAMILIES:
            reason = "network access (an internet socket) is refused"  # the kernel refuses it too (sandbox.py)
        elif event in _PROCESS_EVENTS:
            reason = f"starting a process ({event}) is refused"
        elif event in _GC_EVENTS:
            reason = f"walking objects with {event}() is refused (it reaches what fairfight holds in the process)"
        if reason is None:
            return
        self._inside = True  # recording must not re-enter the hook
        try:
            self.refusals.append({"op": event, "reason": reason})
        finally:
            self._inside = False
        raise AffordanceError(reason)


_ACTIVE: Guard | None = None


def forget_modules(names) -> None:
    """Take modules fairfight loaded out of the contender's reach: out of sys.modules and off their
    packages, so reaching them means importing them again (which the guard and the sandbox refuse)."""
    for name in names:
        sys.modules.pop(name, None)
        package, _, attr = name.rpartition(".")
        if package in sys.modules and hasattr(sys.modules[package], attr):
            delattr(sys.modules[package], attr)


def detach_resource_tracker() -> None:
    """Point the inherited pipe to multiprocessing's resource tracker at /dev/null. The tracker runs
    outside the walls, as the user, and unlinks every POSIX shared memory segment or semaphore still
    registered when the eval ends: a contender writing `REGISTER:/name:shared_memory` to it had any
    file in /dev/shm deleted (and its messages printed on the eval's terminal). Nothing in a worker
    needs it: a contender cannot start processes, and a segment it makes goes with its scratch."""
    from multiprocessing import resource_tracker

    fd = getattr(resource_tracker._resource_tracker, "_fd", None)
    if fd is None:
        return
    null = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.dup2(null, fd)  # the same number, so the tracker's own code still writes somewhere harmless
    finally:
        os.close(null)


@contextmanager
def trusted():
    """fairfight's own code (the forward cache) may touch what contender code may not."""
    guard = _ACTIVE
    if guard is None or guard._inside:
        yield
        return
    guard._inside = True
    try:
        yield
    finally:
        guard._inside = False


def hub_caches() -> list[str]:
    """The Hugging Face caches, where a reloaded model or dataset would come from."""
    home = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface")
    out = [home]
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_DATASETS_CACHE", "TRANSFORMERS_CACHE"):
        if os.environ.get(var):
            out.append(os.environ[var])
    return out
