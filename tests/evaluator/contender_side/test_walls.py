"""The walls that must hold against a contender run by root as well as by a normal user: no
capabilities, namespaces of its own (user, PID, IPC, UTS), nothing inherited but its own
connections, and the allow-list seccomp filter, probed from inside contenders through a real
`fairfight eval` (local executor). Probes that could do harm outside ask harmless things (read a
limit, signal 0, an invalid reboot magic): where a wall is down, the probe succeeds or fails with
another error than the wall's, and the test says which wall.

Each test here fails with its protection switched off (namespaces.enter, drop_capabilities,
close_inherited, the allow-list in sandbox._seccomp): see docs/trust-boundary.md."""
import json
import os
import platform
import subprocess
import sys

import pytest

from fairfight.evaluator.contender_side import sandbox

from runner_fixtures import write_fight

needs_os = pytest.mark.skipif(sandbox.expected()[0] != "os" or platform.machine() != "x86_64",
                              reason="no Landlock ABI >= 4 / seccomp here (the probes use x86_64 numbers)")


def user_namespaces() -> bool:
    return subprocess.run(["unshare", "--user", "--pid", "--fork", "true"], capture_output=True).returncode == 0


PROBES = '''
import ctypes
import errno
import json
import os
import threading
from fairfight import method

OUTSIDE = int(os.environ["FAIRFIGHT_TEST_OUTSIDE_PID"])  # the test's own process: outside every sandbox
NR = {{"bpf": 321, "perf_event_open": 298, "reboot": 169, "syslog": 103, "keyctl": 250, "unshare": 272, "setns": 308,
       "mount": 165, "pidfd_open": 434, "prlimit64": 302, "process_vm_readv": 310, "kexec_load": 246, "clone3": 435,
       "ptrace": 101, "personality": 135, "userfaultfd": 323, "chmod": 90}}


def _sys(name, *args):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    rc = libc.syscall(ctypes.c_long(NR[name]), *[a if not isinstance(a, int) else ctypes.c_long(a) for a in args])
    return "ok" if rc >= 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))


@method
def probes_the_kernel(ctx):
    status = {{line.split(":")[0]: line.split(":")[1].strip() for line in open("/proc/self/status")
               if line.startswith(("Cap", "Uid", "NSpid"))}}  # before the probes: unshare() would change it
    pid, uid = os.getpid(), os.getuid()
    attr = ctypes.create_string_buffer(128)
    old = ctypes.create_string_buffer(16)
    iov = ctypes.create_string_buffer(16)
    out = {{
        "bpf": _sys("bpf", 0, attr, 72),  # BPF_MAP_CREATE with an empty attr: EINVAL past the walls
        "perf_event_open": _sys("perf_event_open", attr, 0, -1, -1, 0),
        "reboot": _sys("reboot", 0xFEE1DEAD, 0, 0, 0),  # a wrong second magic: EINVAL once the capability passed
        "syslog": _sys("syslog", 10, 0, 0),  # SYSLOG_ACTION_SIZE_BUFFER: reads nothing
        "keyctl": _sys("keyctl", 0, -4, 0),  # KEYCTL_GET_KEYRING_ID of the user's key ring, no create
        "unshare": _sys("unshare", 0x10000000),  # CLONE_NEWUSER: capabilities again, in a namespace of its own
        "setns": _sys("setns", -1, 0),  # EBADF past the filter
        "mount": _sys("mount", b"none", b"/", b"tmpfs", 0, 0),
        "pidfd_open": _sys("pidfd_open", os.getpid(), 0),
        "prlimit64 on another process": _sys("prlimit64", OUTSIDE, 0, 0, old),  # only reads RLIMIT_CPU
        "prlimit64 on itself": _sys("prlimit64", 0, 0, 0, old),
        "process_vm_readv": _sys("process_vm_readv", OUTSIDE, iov, 1, iov, 1, 0),
        "kexec_load": _sys("kexec_load", 0, 0, 0, 0),
        "clone3": _sys("clone3", 0, 0),
        "ptrace": _sys("ptrace", 16, OUTSIDE, 0, 0),  # PTRACE_ATTACH
        "personality": _sys("personality", 0xFFFFFFFF),  # only asks
        "userfaultfd": _sys("userfaultfd", 0),
        "chmod": _sys("chmod", os.path.abspath(__file__).encode(), 0o644),  # its own file, as it is
    }}
    try:
        os.kill(OUTSIDE, 0)
        out["kill"] = "ok"
    except OSError as exc:
        out["kill"] = errno.errorcode[exc.errno]
    out.update(pid=pid, uid=uid, status=status)
    ctx.log("PROBES " + json.dumps(out))
    return ctx.predictors.constant("nurse")


@method
def walks_its_descriptors(ctx):
    fds = {{}}
    for name in os.listdir("/proc/self/fd"):
        try:
            fds[name] = os.readlink(f"/proc/self/fd/{{name}}")
        except OSError:  # the listing's own descriptor, closed by now
            pass
    ctx.log("DESCRIPTORS " + json.dumps(fds))
    return ctx.predictors.constant("nurse")


@method
def writes_to_every_pipe(ctx):
    """The fork server exits on one byte written to its "alive" pipe, which every worker inherited."""
    written = []
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{{name}}").startswith("pipe:"):
                os.write(int(name), b"x")
                written.append(int(name))
        except OSError:
            pass
    ctx.log("WROTE TO PIPES", written)
    return ctx.predictors.constant("nurse")


@method
def honest_threads_and_files(ctx):
    """What an honest contender does that a filter or a namespace could break: torch's threads, numpy,
    a thread pool, its affinity, randomness, /proc reads, a temp file, a native fork."""
    import random
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    import torch

    torch.set_num_threads(2)
    x = torch.randn(256, 256)
    total = float((x @ x).sum()) + float(np.linalg.svd(np.ones((8, 8)))[1].sum())
    with ThreadPoolExecutor(4) as pool:
        total += sum(pool.map(lambda i: i * i, range(100)))
    os.sched_getaffinity(0)
    os.urandom(16)
    random.SystemRandom().random()
    open("/proc/self/status").read()
    open("/proc/cpuinfo").read()
    with tempfile.NamedTemporaryFile("w", delete=False) as f:
        f.write("x")
    os.unlink(f.name)
    libc = ctypes.CDLL(None, use_errno=True)
    pid = libc.fork()  # no audit event: the kernel lets a process fork (clone without new namespaces)
    if pid == 0:
        os._exit(7)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 7, status
    train = ctx.data["train"]
    ctx.log("HONEST ok", total > 0)
    return ctx.predictors.probe(ctx.model, train.texts, train["profession"])
'''
USES = "uses: {model: [embed], data: {train: [text, profession]}}"
NAMES = ("probes_the_kernel", "walks_its_descriptors", "writes_to_every_pipe", "honest_threads_and_files")
REFUSED_BY_FILTER = ("bpf", "perf_event_open", "reboot", "syslog", "keyctl", "unshare", "setns", "mount", "pidfd_open",
                     "kexec_load", "personality", "userfaultfd", "chmod")


@pytest.fixture(scope="module")
def walls(tmp_path_factory, bert_dir):
    folder = tmp_path_factory.mktemp("walls")
    spec = write_fight(folder, bert_dir, {n: USES for n in NAMES}, cheaters=True, seeds=1)
    (folder / "cheaters.py").write_text(PROBES.format())
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "FAIRFIGHT_TEST_OUTSIDE_PID": str(os.getpid())}
    env.pop("FAIRFIGHT_ISOLATION", None)
    r = subprocess.run([sys.executable, "-m", "fairfight.cli", "eval", str(spec), "--out", str(folder / "bundle"),
                        "--workers", "2", "--no-progress", "--allow-refused"], capture_output=True, text=True,
                       timeout=600, env=env, cwd=folder)
    assert (folder / "bundle" / "results.json").exists(), r.stderr[-3000:]
    runs = {run["label"]: run for run in json.loads((folder / "bundle" / "results.json").read_text())["runs"]}
    logs = {name: (folder / "bundle" / "runs" / run["key"] / "log.txt").read_text() for name, run in runs.items()}
    return r, runs, logs


def _logged(logs, name, marker):
    line = next(line for line in logs[name].splitlines() if line.startswith(marker + " "))
    return json.loads(line[len(marker) + 1:])


@needs_os
def test_every_run_of_the_eval_finished(walls):
    r, runs, logs = walls
    assert r.returncode in (0, 1), r.stderr[-2000:]
    for name in NAMES:
        assert runs[name]["status"] == "succeeded", (name, runs[name], logs[name][-2000:])


@needs_os
def test_a_contender_has_no_capabilities(walls):
    probes = _logged(walls[2], "probes_the_kernel", "PROBES")
    for name in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(probes["status"][name], 16) == 0, (name, probes["status"])


@needs_os
@pytest.mark.skipif(not user_namespaces(), reason="user namespaces are not available here")
def test_a_contender_runs_as_an_unprivileged_uid_in_namespaces_of_its_own(walls):
    probes = _logged(walls[2], "probes_the_kernel", "PROBES")
    assert probes["uid"] != 0 and probes["status"]["Uid"].split()[0] != "0", probes
    nspid = probes["status"]["NSpid"].split()
    # in its own PID namespace: the init is 1, the run's supervisor 2 (predicting.py), the training 3
    assert len(nspid) == 2 and int(nspid[1]) == probes["pid"] == 3, probes


@needs_os
@pytest.mark.skipif(not user_namespaces(), reason="user namespaces are not available here")
def test_no_process_outside_the_sandbox_is_in_sight(walls):
    """The orchestrator, the model server, the fork server and this test: no signal, no resource
    limit, no memory read reaches them (the attack: prlimit64 on the model server's pid)."""
    probes = _logged(walls[2], "probes_the_kernel", "PROBES")
    assert probes["kill"] == "ESRCH", probes
    for name in ("prlimit64 on another process", "process_vm_readv", "ptrace"):
        assert probes[name] in ("ESRCH", "EPERM"), (name, probes[name])


@needs_os
@pytest.mark.parametrize("name", REFUSED_BY_FILTER)
def test_the_filter_refuses(walls, name):
    probes = _logged(walls[2], "probes_the_kernel", "PROBES")
    assert probes[name] == "EPERM", (name, probes[name])


@needs_os
def test_prlimit_on_itself_stays_allowed_and_clone3_falls_back_to_clone(walls):
    probes = _logged(walls[2], "probes_the_kernel", "PROBES")
    assert probes["prlimit64 on itself"] == "ok", probes
    assert probes["clone3"] == "ENOSYS", probes  # glibc then uses clone (threads start: the honest run)


@needs_os
def test_a_contender_holds_no_descriptor_but_its_own(walls):
    """What docs/trust-boundary.md lists: /dev/null (stdin, and the resource tracker's slot), the run's
    output file (stdout, stderr), its connections to the run's supervisor and to the model server (the
    orchestrator's pipe stays with the supervisor: predicting.py)."""
    fds = _logged(walls[2], "walks_its_descriptors", "DESCRIPTORS")
    targets = sorted(fds.values())
    assert fds["0"] == "/dev/null", fds
    assert fds["1"] == fds["2"] and "fairfight-output-" in fds["1"], fds
    sockets = [t for t in targets if t.startswith("socket:")]
    assert len(sockets) == 2, fds
    others = [t for t in targets if not t.startswith("socket:") and t != "/dev/null" and "fairfight-output-" not in t]
    assert others == [], fds
    assert not any(t.startswith("pipe:") for t in targets), fds


@needs_os
def test_the_fork_servers_alive_pipe_is_out_of_reach(walls):
    _, runs, logs = walls
    assert "WROTE TO PIPES []" in logs["writes_to_every_pipe"], logs["writes_to_every_pipe"]


@needs_os
def test_an_honest_contender_with_threads_forks_and_files_still_runs(walls):
    _, runs, logs = walls
    assert runs["honest_threads_and_files"]["status"] == "succeeded", logs["honest_threads_and_files"][-3000:]
    assert "HONEST ok True" in logs["honest_threads_and_files"]
