"""The seccomp allow-list of a sandboxed worker: what a Python + torch contender needs, nothing else.

A filter that refuses a few named syscalls lets through everything the kernel adds and everything
nobody thought of (bpf() let a root contender trace the orchestrator's writes). This one refuses
by default (EPERM) and lets through the syscalls below, each for a reason. Notably refused:
bpf, perf_event_open, ptrace, process_vm_readv/writev, reboot, kexec_load/kexec_file_load,
syslog, add_key/request_key/keyctl, mount and the new mount API, unshare, setns, pidfd_open/
pidfd_getfd/pidfd_send_signal, io_uring_*, userfaultfd, execve/execveat, socket, bind, connect,
listen, accept, System V IPC and POSIX message queues, setsid/setpgid, setuid and friends, capset,
chmod/chown and setting extended attributes (a contender run by root keeps root's file ownership,
and Landlock does not govern a file's mode or owner), personality, seccomp itself.
Four are allowed with their arguments checked (ARG_CHECKED), and clone3 answers ENOSYS (NOSYS).
tests/evaluator/contender_side/test_syscalls.py lists the table and checks the filter refuses.
"""
from __future__ import annotations

import platform
import struct

ALLOWED = {  # why -> the syscalls (x86_64 names; aarch64 lacks the legacy ones)
    "memory (the allocator, torch's tensors, mapped files)":
        "brk mmap munmap mremap mprotect madvise msync mincore mlock mlock2 munlock mlockall munlockall "
        "membarrier mbind set_mempolicy get_mempolicy set_mempolicy_home_node pkey_alloc pkey_free "
        "pkey_mprotect memfd_create map_shadow_stack mseal",
    "files and folders (what Landlock lets through)":
        "read write readv writev pread64 pwrite64 preadv pwritev preadv2 pwritev2 open openat openat2 "
        "close close_range creat lseek stat fstat lstat newfstatat statx statfs fstatfs access faccessat "
        "faccessat2 readlink readlinkat getdents getdents64 getcwd chdir fchdir mkdir mkdirat rmdir "
        "unlink unlinkat rename renameat renameat2 link linkat symlink symlinkat truncate ftruncate "
        "fallocate fsync fdatasync sync_file_range fadvise64 readahead flock sendfile copy_file_range "
        "splice tee utime utimes utimensat futimesat umask getxattr lgetxattr fgetxattr listxattr "
        "llistxattr flistxattr cachestat",
    "descriptors, polling, pipes and events":
        "dup dup2 dup3 fcntl ioctl pipe pipe2 poll ppoll select pselect6 epoll_create epoll_create1 "
        "epoll_ctl epoll_wait epoll_pwait epoll_pwait2 eventfd eventfd2 timerfd_create timerfd_settime "
        "timerfd_gettime signalfd signalfd4 inotify_init inotify_init1 inotify_add_watch "
        "inotify_rm_watch",
    "the run's own connections (made before the lockdown; socket() itself stays refused)":
        "sendmsg recvmsg sendto recvfrom sendmmsg recvmmsg shutdown getsockname getpeername getsockopt "
        "setsockopt",
    "threads and processes of its own (torch's and OpenMP's pools; fork without new namespaces)":
        "fork vfork exit exit_group wait4 waitid set_tid_address set_robust_list get_robust_list "
        "rseq futex futex_waitv futex_wake futex_wait futex_requeue gettid getpid getppid getpgid "
        "getpgrp getsid arch_prctl prctl sched_yield sched_getaffinity sched_setaffinity sched_getparam "
        "sched_setparam sched_getscheduler sched_setscheduler sched_get_priority_max "
        "sched_get_priority_min sched_rr_get_interval sched_getattr sched_setattr getcpu getpriority",
    "signals (Landlock keeps them inside the sandbox; the PID namespace hides everything else)":
        "rt_sigaction rt_sigprocmask rt_sigreturn rt_sigpending rt_sigtimedwait rt_sigqueueinfo "
        "rt_tgsigqueueinfo rt_sigsuspend sigaltstack kill tkill tgkill pause restart_syscall",
    "time, timers and sleeping":
        "nanosleep clock_nanosleep clock_gettime clock_getres gettimeofday time times getitimer "
        "setitimer alarm timer_create timer_settime timer_gettime timer_getoverrun timer_delete",
    "facts about itself and the machine":
        "uname sysinfo getrusage getuid geteuid getgid getegid getresuid getresgid getgroups capget "
        "getrandom setrlimit getrlimit",
    "runtime helpers the kernel adds (no effect outside the process)":
        "uretprobe",
}

ARG_CHECKED = {
    "prlimit64": "only on itself (pid 0: resource.setrlimit/getrlimit); never another process's limits",
    "setpriority": "only PRIO_PROCESS (nice() on itself or its threads); never a process group or a user",
    "socketpair": "SOCK_STREAM only (asyncio's and multiprocessing's wake-up channels)",
    "clone": "without CLONE_NEW* flags (threads and forks; a new user namespace would hand back capabilities)",
}
NOSYS = {"clone3": "its flags lie in memory a filter cannot read: ENOSYS makes glibc fall back to clone"}

NUMBERS = {  # generated from the kernel's unistd headers (x86_64: unistd_64.h; aarch64: asm-generic)
    "x86_64": {"brk": 12, "mmap": 9, "munmap": 11, "mremap": 25, "mprotect": 10, "madvise": 28, "msync": 26,
        "mincore": 27, "mlock": 149, "mlock2": 325, "munlock": 150, "mlockall": 151, "munlockall": 152, "membarrier":
        324, "mbind": 237, "set_mempolicy": 238, "get_mempolicy": 239, "set_mempolicy_home_node": 450, "pkey_alloc":
        330, "pkey_free": 331, "pkey_mprotect": 329, "memfd_create": 319, "map_shadow_stack": 453, "mseal": 462,
        "read": 0, "write": 1, "readv": 19, "writev": 20, "pread64": 17, "pwrite64": 18, "preadv": 295, "pwritev":
        296, "preadv2": 327, "pwritev2": 328, "open": 2, "openat": 257, "openat2": 437, "close": 3, "close_range":
        436, "creat": 85, "lseek": 8, "stat": 4, "fstat": 5, "lstat": 6, "newfstatat": 262, "statx": 332, "statfs":
        137, "fstatfs": 138, "access": 21, "faccessat": 269, "faccessat2": 439, "readlink": 89, "readlinkat": 267,
        "getdents": 78, "getdents64": 217, "getcwd": 79, "chdir": 80, "fchdir": 81, "mkdir": 83, "mkdirat": 258,
        "rmdir": 84, "unlink": 87, "unlinkat": 263, "rename": 82, "renameat": 264, "renameat2": 316, "link": 86,
        "linkat": 265, "symlink": 88, "symlinkat": 266, "truncate": 76, "ftruncate": 77, "fallocate": 285, "fsync":
        74, "fdatasync": 75, "sync_file_range": 277, "fadvise64": 221, "readahead": 187, "flock": 73, "sendfile": 40,
        "copy_file_range": 326, "splice": 275, "tee": 276, "utime": 132, "utimes": 235, "utimensat": 280, "futimesat":
        261, "umask": 95, "getxattr": 191, "lgetxattr": 192, "fgetxattr": 193, "listxattr": 194, "llistxattr": 195,
        "flistxattr": 196, "cachestat": 451, "dup": 32, "dup2": 33, "dup3": 292, "fcntl": 72, "ioctl": 16, "pipe": 22,
        "pipe2": 293, "poll": 7, "ppoll": 271, "select": 23, "pselect6": 270, "epoll_create": 213, "epoll_create1":
        291, "epoll_ctl": 233, "epoll_wait": 232, "epoll_pwait": 281, "epoll_pwait2": 441, "eventfd": 284, "eventfd2":
        290, "timerfd_create": 283, "timerfd_settime": 286, "timerfd_gettime": 287, "signalfd": 282, "signalfd4": 289,
        "inotify_init": 253, "inotify_init1": 294, "inotify_add_watch": 254, "inotify_rm_watch": 255, "sendmsg": 46,
        "recvmsg": 47, "sendto": 44, "recvfrom": 45, "sendmmsg": 307, "recvmmsg": 299, "shutdown": 48, "getsockname":
        51, "getpeername": 52, "getsockopt": 55, "setsockopt": 54, "clone": 56, "fork": 57, "vfork": 58, "exit": 60,
        "exit_group": 231, "wait4": 61, "waitid": 247, "set_tid_address": 218, "set_robust_list": 273,
        "get_robust_list": 274, "rseq": 334, "futex": 202, "futex_waitv": 449, "futex_wake": 454, "futex_wait": 455,
        "futex_requeue": 456, "gettid": 186, "getpid": 39, "getppid": 110, "getpgid": 121, "getpgrp": 111, "getsid":
        124, "arch_prctl": 158, "prctl": 157, "sched_yield": 24, "sched_getaffinity": 204, "sched_setaffinity": 203,
        "sched_getparam": 143, "sched_setparam": 142, "sched_getscheduler": 145, "sched_setscheduler": 144,
        "sched_get_priority_max": 146, "sched_get_priority_min": 147, "sched_rr_get_interval": 148, "sched_getattr":
        315, "sched_setattr": 314, "getcpu": 309, "getpriority": 140, "rt_sigaction": 13, "rt_sigprocmask": 14,
        "rt_sigreturn": 15, "rt_sigpending": 127, "rt_sigtimedwait": 128, "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo":
        297, "rt_sigsuspend": 130, "sigaltstack": 131, "kill": 62, "tkill": 200, "tgkill": 234, "pause": 34,
        "restart_syscall": 219, "nanosleep": 35, "clock_nanosleep": 230, "clock_gettime": 228, "clock_getres": 229,
        "gettimeofday": 96, "time": 201, "times": 100, "getitimer": 36, "setitimer": 38, "alarm": 37, "timer_create":
        222, "timer_settime": 223, "timer_gettime": 224, "timer_getoverrun": 225, "timer_delete": 226, "uname": 63,
        "sysinfo": 99, "getrusage": 98, "getuid": 102, "geteuid": 107, "getgid": 104, "getegid": 108, "getresuid":
        118, "getresgid": 120, "getgroups": 115, "capget": 125, "getrandom": 318, "setrlimit": 160, "getrlimit": 97,
        "uretprobe": 335, "prlimit64": 302, "setpriority": 141, "socketpair": 53, "clone": 56, "clone3": 435},
    "aarch64": {"brk": 214, "mmap": 222, "munmap": 215, "mremap": 216, "mprotect": 226, "madvise": 233, "msync": 227,
        "mincore": 232, "mlock": 228, "mlock2": 284, "munlock": 229, "mlockall": 230, "munlockall": 231, "membarrier":
        283, "mbind": 235, "set_mempolicy": 237, "get_mempolicy": 236, "set_mempolicy_home_node": 450, "pkey_alloc":
        289, "pkey_free": 290, "pkey_mprotect": 288, "memfd_create": 279, "map_shadow_stack": 453, "mseal": 462,
        "read": 63, "write": 64, "readv": 65, "writev": 66, "pread64": 67, "pwrite64": 68, "preadv": 69, "pwritev":
        70, "preadv2": 286, "pwritev2": 287, "openat": 56, "openat2": 437, "close": 57, "close_range": 436, "lseek":
        62, "fstat": 80, "newfstatat": 79, "statx": 291, "statfs": 43, "fstatfs": 44, "faccessat": 48, "faccessat2":
        439, "readlinkat": 78, "getdents64": 61, "getcwd": 17, "chdir": 49, "fchdir": 50, "mkdirat": 34, "unlinkat":
        35, "renameat": 38, "renameat2": 276, "linkat": 37, "symlinkat": 36, "truncate": 45, "ftruncate": 46,
        "fallocate": 47, "fsync": 82, "fdatasync": 83, "sync_file_range": 84, "fadvise64": 223, "readahead": 213,
        "flock": 32, "sendfile": 71, "copy_file_range": 285, "splice": 76, "tee": 77, "utimensat": 88, "umask": 166,
        "getxattr": 8, "lgetxattr": 9, "fgetxattr": 10, "listxattr": 11, "llistxattr": 12, "flistxattr": 13,
        "cachestat": 451, "dup": 23, "dup3": 24, "fcntl": 25, "ioctl": 29, "pipe2": 59, "ppoll": 73, "pselect6": 72,
        "epoll_create1": 20, "epoll_ctl": 21, "epoll_pwait": 22, "epoll_pwait2": 441, "eventfd2": 19,
        "timerfd_create": 85, "timerfd_settime": 86, "timerfd_gettime": 87, "signalfd4": 74, "inotify_init1": 26,
        "inotify_add_watch": 27, "inotify_rm_watch": 28, "sendmsg": 211, "recvmsg": 212, "sendto": 206, "recvfrom":
        207, "sendmmsg": 269, "recvmmsg": 243, "shutdown": 210, "getsockname": 204, "getpeername": 205, "getsockopt":
        209, "setsockopt": 208, "clone": 220, "exit": 93, "exit_group": 94, "wait4": 260, "waitid": 95,
        "set_tid_address": 96, "set_robust_list": 99, "get_robust_list": 100, "rseq": 293, "futex": 98, "futex_waitv":
        449, "futex_wake": 454, "futex_wait": 455, "futex_requeue": 456, "gettid": 178, "getpid": 172, "getppid": 173,
        "getpgid": 155, "getsid": 156, "prctl": 167, "sched_yield": 124, "sched_getaffinity": 123,
        "sched_setaffinity": 122, "sched_getparam": 121, "sched_setparam": 118, "sched_getscheduler": 120,
        "sched_setscheduler": 119, "sched_get_priority_max": 125, "sched_get_priority_min": 126,
        "sched_rr_get_interval": 127, "sched_getattr": 275, "sched_setattr": 274, "getcpu": 168, "getpriority": 141,
        "rt_sigaction": 134, "rt_sigprocmask": 135, "rt_sigreturn": 139, "rt_sigpending": 136, "rt_sigtimedwait": 137,
        "rt_sigqueueinfo": 138, "rt_tgsigqueueinfo": 240, "rt_sigsuspend": 133, "sigaltstack": 132, "kill": 129,
        "tkill": 130, "tgkill": 131, "restart_syscall": 128, "nanosleep": 101, "clock_nanosleep": 115,
        "clock_gettime": 113, "clock_getres": 114, "gettimeofday": 169, "times": 153, "getitimer": 102, "setitimer":
        103, "timer_create": 107, "timer_settime": 110, "timer_gettime": 108, "timer_getoverrun": 109, "timer_delete":
        111, "uname": 160, "sysinfo": 179, "getrusage": 165, "getuid": 174, "geteuid": 175, "getgid": 176, "getegid":
        177, "getresuid": 148, "getresgid": 150, "getgroups": 158, "capget": 90, "getrandom": 278, "setrlimit": 164,
        "getrlimit": 163, "prlimit64": 261, "setpriority": 140, "socketpair": 199, "clone": 220, "clone3": 435},
}
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_CLONE_NEW = 0x7E020000  # NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
_RET_ALLOW, _RET_EPERM, _RET_ENOSYS = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38
_LD, _JEQ, _JGE, _JSET, _AND, _RET = 0x20, 0x15, 0x35, 0x45, 0x54, 0x06


def allowed_names(machine: str | None = None) -> list[str]:
    """Every syscall the filter lets through on `machine` unconditionally (sorted)."""
    table = NUMBERS[machine or platform.machine()]
    return sorted(n for names in ALLOWED.values() for n in names.split() if n in table)


def _arg(i: int, high: bool = False) -> int:
    return 16 + 8 * i + (4 if high else 0)  # seccomp_data.args[i], little-endian halves


def program(machine: str | None = None) -> list[tuple]:
    """The BPF program: (code, jt, jf, k) instructions."""
    machine = machine or platform.machine()
    table = NUMBERS[machine]
    ops = [(_LD, 0, 0, 4), (_JEQ, 1, 0, AUDIT_ARCH[machine]), (_RET, 0, 0, _RET_EPERM), (_LD, 0, 0, 0)]
    if machine == "x86_64":
        ops += [(_JGE, 0, 1, 0x40000000), (_RET, 0, 0, _RET_EPERM)]  # the x32 ABI
    for name in allowed_names(machine):
        ops += [(_JEQ, 0, 1, table[name]), (_RET, 0, 0, _RET_ALLOW)]
    # prlimit64(pid, ...) and setpriority(which, ...): args[0] must be 0 (itself / PRIO_PROCESS)
    for name in ("prlimit64", "setpriority"):
        ops += [(_JEQ, 0, 6, table[name]), (_LD, 0, 0, _arg(0)), (_JEQ, 0, 3, 0), (_LD, 0, 0, _arg(0, True)),
                (_JEQ, 0, 1, 0), (_RET, 0, 0, _RET_ALLOW), (_RET, 0, 0, _RET_EPERM)]
    # socketpair(domain, type, ...): the type's low bits (SOCK_TYPE_MASK) must be SOCK_STREAM
    ops += [(_JEQ, 0, 5, table["socketpair"]), (_LD, 0, 0, _arg(1)), (_AND, 0, 0, 0xF),
            (_JEQ, 0, 1, 1), (_RET, 0, 0, _RET_ALLOW), (_RET, 0, 0, _RET_EPERM)]
    # clone(flags, ...): no flag that makes a namespace
    ops += [(_JEQ, 0, 4, table["clone"]), (_LD, 0, 0, _arg(0)), (_JSET, 1, 0, _CLONE_NEW),
            (_RET, 0, 0, _RET_ALLOW), (_RET, 0, 0, _RET_EPERM)]
    ops += [(_JEQ, 0, 1, table["clone3"]), (_RET, 0, 0, _RET_ENOSYS)]
    ops.append((_RET, 0, 0, _RET_EPERM))
    return ops


def compiled(machine: str | None = None) -> bytes:
    return b"".join(struct.pack("HBBI", *op) for op in program(machine))
