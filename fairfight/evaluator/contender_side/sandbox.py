"""OS lockdown of a worker before contender code is imported (Linux: Landlock + seccomp).

Applied in the worker after the model, tokenizer and granted tables are loaded (the worker already
runs in namespaces of its own with no capabilities: namespaces.py): from then on
the kernel, not Python, refuses what the contender must not do, including from native code:
- Landlock (ABI >= 4): read-only access to the Python environment, the fairfight package and the
  method's own folder (minus data sources, model files, hub caches and the bundle found in it);
  read-write access to a per-run scratch folder and to what the worker itself still writes (the
  forward cache, a cluster run's exchange folder); no TCP bind or connect; with ABI >= 6, no
  signals to processes outside the sandbox (the model server, the orchestrator) and no connecting
  to abstract unix sockets made outside it (multiprocessing's fork server listens on one, and it
  forks unsandboxed processes on request);
- seccomp: an allow-list (syscalls.py): what a Python + torch process needs, every other syscall
  fails with EPERM (bpf, perf_event_open, ptrace, execve, socket, unshare, mount, reboot, ...);
  socketpair() of SOCK_STREAM only (an end of a datagram pair reaches any unix datagram socket by
  its path), prlimit64 and setpriority on itself only, clone without new namespaces;
- PR_SET_NO_NEW_PRIVS (required by both).
We talk to the kernel through ctypes: the `landlock` package (1.0.0.dev5) has no network rules and
`pyseccomp` needs the system's libseccomp. Where any of this is missing or fails, the worker keeps
today's tripwire (the audit hook in guard.py, active in both cases) and says `isolation: tripwire`.
FAIRFIGHT_ISOLATION=tripwire forces that fallback. See docs/isolation.md.
"""
from __future__ import annotations

import ctypes
import os
import platform
import struct
import sys
import tempfile

LEVELS = ("none", "tripwire", "os")  # weakest first
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1  # Landlock ABI 6

_ARCH = {"x86_64": (0xC000003E, 444, 317), "aarch64": (0xC00000B7, 444, 277)}  # AUDIT_ARCH, landlock_create_ruleset, seccomp
INET_FAMILIES = (2, 10)  # AF_INET, AF_INET6: refused with their own reason by the audit hook (guard.py)
_FS_READ_FILE, _FS_READ_DIR = 1 << 2, 1 << 3
_FS_WRITE = (1 << 1) | (1 << 4) | (1 << 5) | (1 << 7) | (1 << 8) | (1 << 14)  # write, rm, mkdir, make file, truncate
_FS_FILE_ONLY = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 14) | (1 << 15)  # rights a rule on a file may carry
_NET_TCP = (1 << 0) | (1 << 1)  # bind, connect
_PR_SET_NO_NEW_PRIVS = 38


def weakest(*levels: str) -> str:
    return min(levels, key=LEVELS.index)


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def landlock_abi() -> int:
    """The kernel's Landlock ABI version (0: none, or not Linux / unknown architecture)."""
    arch = _ARCH.get(platform.machine())
    if sys.platform != "linux" or arch is None:
        return 0
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    abi = libc.syscall(ctypes.c_long(arch[1]), None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return max(0, int(abi))


def expected() -> tuple[str, str]:
    """(level, why) a sandboxed worker on this machine will get."""
    if os.environ.get("FAIRFIGHT_ISOLATION", "").lower() == "tripwire":
        return "tripwire", "FAIRFIGHT_ISOLATION=tripwire"
    if sys.platform != "linux" or platform.machine() not in _ARCH:
        return "tripwire", f"no OS sandbox on {sys.platform}/{platform.machine()}"
    abi = landlock_abi()
    if abi < 4:
        return "tripwire", f"the kernel's Landlock ABI is {abi} (4 or later needed, for TCP rules)"
    return "os", f"Landlock ABI {abi} and seccomp"


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _Ruleset:
    """A Landlock ruleset of this process, built from a list of (path, access) rules."""

    def __init__(self, abi: int, rules: list[tuple[str, int]]):
        self.libc = _libc()
        self.libc.syscall.restype = ctypes.c_long
        self.nr = _ARCH[platform.machine()][1]
        self.fs = (1 << 13) - 1  # execute .. make_sym (ABI 1)
        self.fs |= (1 << 13) if abi >= 2 else 0  # refer
        self.fs |= (1 << 14) if abi >= 3 else 0  # truncate
        self.fs |= (1 << 15) if abi >= 5 else 0  # ioctl on devices
        attr = struct.pack("QQ", self.fs, _NET_TCP)  # no net rules added: TCP bind/connect refused
        if abi >= 6:  # scoped: signals and abstract unix sockets stay inside the sandbox
            attr += struct.pack("Q", _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL)
        buf = ctypes.create_string_buffer(attr, len(attr))
        self.fd = self._call(self.nr, buf, ctypes.c_size_t(len(attr)), ctypes.c_uint32(0))
        try:
            for path, access in rules:
                self._add(path, access)
        except BaseException:
            os.close(self.fd)
            raise

    def _call(self, *args) -> int:
        rc = self.libc.syscall(*[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
        if rc < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"landlock syscall {args[0]}: {os.strerror(err)}")
        return rc

    def _add(self, path: str, access: int) -> None:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        try:
            rule = _PathBeneath(access & self.fs, fd)
            self._call(self.nr + 1, self.fd, 1, ctypes.byref(rule), ctypes.c_uint32(0))
        finally:
            os.close(fd)

    def restrict_self(self) -> None:
        try:
            if self.libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
            self._call(self.nr + 2, self.fd, ctypes.c_uint32(0))
        finally:
            os.close(self.fd)


class _Rules(list):
    """The (path, access) rules of the walls, found once: finding them walks the folders that hold a
    denied path, which costs tens of milliseconds, and every predicting process needs the same."""

    def allow(self, path: str, access: int) -> None:
        self.append((path, access if os.path.isdir(path) else access & _FS_FILE_ONLY))


class _Seccomp:
    """The allow-list filter (syscalls.py), compiled once: every syscall not listed there fails with
    EPERM. TSYNC applies it to every thread of the process (torch's pools already run)."""

    def __init__(self):
        from . import syscalls

        code = syscalls.compiled()
        self._prog = ctypes.create_string_buffer(code, len(code))  # kept alive with the header pointing at it
        header = struct.pack("HxxxxxxP", len(code) // 8, ctypes.addressof(self._prog))
        self._header = ctypes.create_string_buffer(header, len(header))

    def apply(self) -> None:
        libc = _libc()
        libc.syscall.restype = ctypes.c_long
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:  # a filter without CAP_SYS_ADMIN needs it (set already
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")  # by restrict_self; idempotent)
        seccomp_nr = _ARCH[platform.machine()][2]
        rc = libc.syscall(ctypes.c_long(seccomp_nr), ctypes.c_long(1), ctypes.c_long(1), self._header)  # SET_MODE_FILTER, TSYNC
        if rc != 0:
            raise OSError(ctypes.get_errno(), f"seccomp: {os.strerror(ctypes.get_errno())} (thread {rc})")


def shared_folders() -> set[str]:
    """Folders that hold other programs' and users' files (the root, home, the temp folders). A
    spec, a method or a sys.path entry (`python -m` run from home) in one of them gets its own files
    granted, never the folder: granting it would open all of it to the contender."""
    home = os.path.realpath(os.path.expanduser("~"))
    folders = {"/", home, os.path.dirname(home), tempfile.gettempdir(), "/tmp", "/var/tmp", "/dev/shm"}
    return {os.path.realpath(f) for f in folders}


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _grant(rules: _Rules, path: str, access: int, denied: tuple) -> None:
    """Grant `path`, leaving out denied paths beneath it (Landlock only adds: carve by recursing)."""
    path = os.path.realpath(path)
    if not os.path.exists(path) or any(_within(path, d) for d in denied):
        return
    if not any(_within(d, path) for d in denied):
        rules.allow(path, access)
        return
    rules.allow(path, _FS_READ_DIR)  # listing names, not reading the denied entries
    for entry in os.listdir(path):
        _grant(rules, os.path.join(path, entry), access, denied)


class Sandbox:
    """One run's lockdown: its scratch folder and the level it reached. `lock` finds the walls and
    applies them to this process; `prepare` finds them once (in a process that stays outside them)
    and `apply` applies them in each process forked after it (the predicting processes: one per chunk)."""

    def __init__(self, scratch: str | None = None):
        """`scratch`: the folder the orchestrator made for the run (it watches and removes it:
        orchestration/scratch.py); made here where there is none (then only its contents go)."""
        self.scratch = scratch
        self.level, self.why = "tripwire", ""
        self._rules, self._seccomp = None, None

    def lock(self, *, read: list, write: list, denied: list, listable: list = ()) -> str:
        self.prepare(read=read, write=write, denied=denied, listable=listable)
        return self.apply()

    def prepare(self, *, read: list, write: list, denied: list, listable: list = ()) -> None:
        """`listable`: folders whose names (not contents) may be listed: where a method named as a
        module lies in a shared folder, Python's import system lists it to find the module."""
        level, why = expected()
        self.why = why
        if level != "os":
            return
        try:
            denied = tuple(sorted({os.path.realpath(str(d)) for d in denied if d}))
            rules, read_rights = _Rules(), _FS_READ_FILE | _FS_READ_DIR
            system = ["/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/share/zoneinfo", "/etc/ld.so.cache",
                      "/etc/localtime", "/proc/cpuinfo", "/proc/meminfo", "/sys/devices/system/cpu",
                      "/dev/urandom", "/dev/random"]
            on_path = [p for p in sys.path if p and os.path.realpath(p) not in shared_folders()]
            for path in [*read, *system, sys.prefix, sys.base_prefix, *on_path]:
                _grant(rules, str(path), read_rights, denied)
            for path in listable:
                _grant(rules, str(path), _FS_READ_DIR, denied)
            for path in [*write, "/dev/null", "/dev/zero"]:
                if path:
                    _grant(rules, str(path), read_rights | _FS_WRITE, ())
            self._rules, self._seccomp = rules, _Seccomp()
        except Exception as exc:  # a fallback, never a failed run; the level says so
            self.why = f"setting up the OS sandbox failed: {exc!r}"

    def apply(self, scratch: str | None = None, readable: list = ()) -> str:
        """Apply the prepared walls to this process, with `scratch` (default: the run's) as its
        writable temp folder (each predicting process has a folder of its own) and `readable` as
        well (a predicting process reads what the training left in the run's folder). Called
        before any contender code runs in the process, under guard.trusted(): the audit hook
        checking each of the ~600 rules' `open` cost ~25 ms per process."""
        self.scratch = scratch or self.scratch or tempfile.mkdtemp(prefix="fairfight-run-")
        for var in ("TMPDIR", "TEMP", "TMP"):
            os.environ[var] = self.scratch
        tempfile.tempdir = self.scratch
        if self._rules is None:
            return self.level
        try:
            # its own /proc entry, found here: the walls are prepared once and applied in processes
            # forked later. PID 2 in its PID namespace, but /proc (not remounted) names it by its pid outside
            own = _Rules()
            _grant(own, "/proc/self", _FS_READ_FILE | _FS_READ_DIR, ())
            for path in readable:
                _grant(own, str(path), _FS_READ_FILE | _FS_READ_DIR, ())
            _grant(own, self.scratch, _FS_READ_FILE | _FS_READ_DIR | _FS_WRITE, ())
            _Ruleset(landlock_abi(), [*self._rules, *own]).restrict_self()
            self._seccomp.apply()
        except Exception as exc:  # a fallback, never a failed run; the level says so
            self.why = f"setting up the OS sandbox failed: {exc!r}"
            return self.level
        self.level = "os"
        return self.level

    def close(self) -> None:
        import shutil

        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)


def refused_by_os(exc: BaseException) -> bool:
    import errno

    # ESRCH: a process outside the worker's PID namespace (the model server, the orchestrator) is out of sight
    return isinstance(exc, (PermissionError, ProcessLookupError)) or (
        isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.ESRCH))
