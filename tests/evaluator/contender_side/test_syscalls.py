"""The seccomp allow-list (contender_side/syscalls.py): what it lets through and why, and the filter
itself, applied in a fresh interpreter (no Landlock, no namespaces: the filter alone) and probed."""
import json
import platform
import subprocess
import sys

import pytest

from fairfight.evaluator.contender_side import syscalls

# What a contender must never reach, whatever else the allow-list grows to hold.
NEVER = {"bpf", "perf_event_open", "ptrace", "process_vm_readv", "process_vm_writev", "reboot", "kexec_load",
         "kexec_file_load", "syslog", "add_key", "request_key", "keyctl", "mount", "umount2", "unshare", "setns",
         "pidfd_open", "pidfd_getfd", "pidfd_send_signal", "io_uring_setup", "io_uring_enter", "userfaultfd",
         "execve", "execveat", "socket", "connect", "bind", "listen", "accept", "accept4", "setsid", "setpgid",
         "setuid", "setresuid", "setgid", "capset", "shmget", "msgget", "semget", "mq_open", "init_module",
         "finit_module", "delete_module", "chroot", "pivot_root", "open_by_handle_at", "seccomp", "personality",
         "chmod", "fchmod", "fchmodat", "chown", "fchown", "lchown", "fchownat", "setxattr", "fsetxattr",
         "move_pages", "migrate_pages", "process_madvise", "kcmp", "fanotify_init", "quotactl", "swapon"}


def test_every_allowed_syscall_has_its_reason_and_none_is_dangerous():
    for machine in syscalls.NUMBERS:
        allowed = set(syscalls.allowed_names(machine))
        assert not allowed & NEVER, allowed & NEVER
        assert not (set(syscalls.ARG_CHECKED) | set(syscalls.NOSYS)) & allowed
        for name in allowed:
            assert sum(name in names.split() for names in syscalls.ALLOWED.values()) == 1, name
    listed = {why: names.split() for why, names in syscalls.ALLOWED.items()}
    print(json.dumps({**listed, "with their arguments checked": syscalls.ARG_CHECKED, "ENOSYS": syscalls.NOSYS},
                     indent=1))


def test_the_program_fits_and_both_architectures_have_their_numbers():
    for machine in ("x86_64", "aarch64"):
        program = syscalls.program(machine)
        assert len(program) < 4096  # BPF_MAXINSNS
        assert all(0 <= jt < 256 and 0 <= jf < 256 for _, jt, jf, _ in program)
        table = syscalls.NUMBERS[machine]
        assert len(set(table.values())) == len(table)  # no number twice
        for name in ("read", "write", "mmap", "futex", "clone", "clone3", "prlimit64", "socketpair", "exit_group"):
            assert name in table


PROBE = r'''
import ctypes, errno, json, os, socket, threading
from fairfight.evaluator.contender_side import sandbox

NR = {"bpf": 321, "unshare": 272, "clone3": 435, "prlimit64": 302, "reboot": 169, "clone": 56, "personality": 135,
      "keyctl": 250, "pidfd_open": 434, "perf_event_open": 298, "setns": 308, "syslog": 103, "getpid": 39}
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def call(name, *args):
    rc = libc.syscall(ctypes.c_long(NR[name]), *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
    if rc == 0 and name == "clone":  # the filter let a namespace through: the child leaves at once
        os._exit(0)
    return "ok" if rc >= 0 else errno.errorcode[ctypes.get_errno()]


sandbox._Seccomp().apply()
buf = ctypes.create_string_buffer(128)
out = {name: call(name, *args) for name, args in {
    "getpid": (), "bpf": (0, buf, 72), "unshare": (0x10000000,), "clone3": (0, 0), "prlimit64 self": None,
    "reboot": (0xFEE1DEAD, 0, 0, 0), "personality": (0xFFFFFFFF,), "keyctl": (0, -4, 0), "pidfd_open": (os.getpid(), 0),
    "perf_event_open": (buf, 0, -1, -1, 0), "setns": (-1, 0), "syslog": (10, 0, 0),
    "clone": (0x10000000 | 17, 0, 0, 0, 0)}.items() if args is not None}
out["prlimit64 self"] = call("prlimit64", 0, 0, 0, buf)
out["prlimit64 pid 1"] = call("prlimit64", 1, 0, 0, buf)
try:
    socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    out["socketpair stream"] = "ok"
except OSError as exc:
    out["socketpair stream"] = errno.errorcode[exc.errno]
try:
    socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    out["socketpair dgram"] = "ok"
except OSError as exc:
    out["socketpair dgram"] = errno.errorcode[exc.errno]
try:
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    out["socket"] = "ok"
except OSError as exc:
    out["socket"] = errno.errorcode[exc.errno]
import torch  # threads start after the filter (clone3 -> ENOSYS -> clone), and torch runs
torch.set_num_threads(2)
t = threading.Thread(target=lambda: None)
t.start()
t.join()
x = torch.randn(300, 300)
out["torch"] = "ok" if float((x @ x).abs().sum()) > 0 else "wrong"
pid = os.fork()
if pid == 0:
    os._exit(3)
out["fork"] = "ok" if os.WEXITSTATUS(os.waitpid(pid, 0)[1]) == 3 else "wrong"
print(json.dumps(out))
'''
EXPECTED = {"getpid": "ok", "bpf": "EPERM", "unshare": "EPERM", "clone3": "ENOSYS", "reboot": "EPERM",
            "personality": "EPERM", "keyctl": "EPERM", "pidfd_open": "EPERM", "perf_event_open": "EPERM",
            "setns": "EPERM", "syslog": "EPERM", "clone": "EPERM", "prlimit64 self": "ok", "prlimit64 pid 1": "EPERM",
            "socketpair stream": "ok", "socketpair dgram": "EPERM", "socket": "EPERM", "torch": "ok", "fork": "ok"}


@pytest.mark.skipif(sys.platform != "linux" or platform.machine() != "x86_64", reason="the probe uses x86_64 numbers")
def test_the_filter_refuses_what_is_not_listed_and_lets_python_and_torch_run():
    r = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got == EXPECTED, {k: (got.get(k), v) for k, v in EXPECTED.items() if got.get(k) != v}
