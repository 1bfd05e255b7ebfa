"""A small fight on a tiny real model: the spec, its data and its contenders, written to a folder
(imported as `runner_fixtures` by tests anywhere below tests/: the root conftest puts tests/ on sys.path)."""
from pathlib import Path

from testkit import write_bios


METHODS = '''
import time
from fairfight import method


@method
def probe(ctx):
    train = ctx.data["train"]
    return ctx.predictors.probe(ctx.model, train.texts, train["profession"], layer=1)


@method
def plain_head(ctx):
    train = ctx.data["train"]
    return ctx.predictors.probe(ctx.model, train.texts, train["profession"])


@method
def always_nurse(ctx):
    ctx.data["train"]["profession"]
    return ctx.predictors.constant("nurse")


@method
def edited_embed(ctx):
    import torch
    from fairfight import ProjectOut
    edited = ctx.model.intervene([ProjectOut(1, torch.ones(ctx.model.hidden_size))])
    train = ctx.data["train"]
    return ctx.predictors.probe(edited, train.texts, train["profession"])  # embeddings: above the edit


@method
def slow(ctx):
    time.sleep(float(ctx.params.get("sleep", 2)))
    return ctx.predictors.constant("nurse")
'''

CHEATERS = '''
import gc
import socket
import subprocess
from fairfight import method

DATA = {data!r}
MODEL_DIR = {model!r}
MARKER = {marker!r}


@method
def reads_eval_file(ctx):
    open(DATA).read()
    return ctx.predictors.constant("nurse")


@method
def reloads_with_datasets(ctx):
    import datasets
    datasets.load_dataset("json", data_files=DATA, split="train")
    return ctx.predictors.constant("nurse")


@method
def reads_model_files(ctx):
    open(MODEL_DIR + "/config.json").read()
    return ctx.predictors.constant("nurse")


@method
def walks_gc(ctx):
    models = [o for o in gc.get_objects() if type(o).__name__.endswith("Model")]
    return ctx.predictors.constant("nurse")


@method
def opens_socket(ctx):
    s = socket.socket()
    s.settimeout(0.2)
    s.connect(("127.0.0.1", 9))
    return ctx.predictors.constant("nurse")


@method
def starts_process(ctx):
    subprocess.run(["true"])
    return ctx.predictors.constant("nurse")


@method
def ungranted_operation(ctx):
    ctx.model.weights()
    return ctx.predictors.constant("nurse")


@method
def ungranted_column(ctx):
    ctx.data["train"]["gender"]
    return ctx.predictors.constant("nurse")


@method
def over_budget(ctx):
    ctx.model.embed(ctx.data["train"].texts * 50)
    return ctx.predictors.constant("nurse")


@method
def catches_refusal(ctx):
    try:
        ctx.model.weights()
    except Exception:
        pass  # swallowing the refusal does not help: the ledger has it
    return ctx.predictors.constant("nurse")


@method
def declared_too_much(ctx):
    return ctx.predictors.constant("nurse")


def _libc():
    import ctypes
    return ctypes, ctypes.CDLL(None, use_errno=True)


def _check(rc, ctypes):
    import os
    if rc < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return rc


@method
def native_open_data(ctx):
    ctypes, libc = _libc()  # libc.open raises no audit event: only the OS can stop it
    _check(libc.open(DATA.encode(), 0), ctypes)
    return ctx.predictors.constant("nurse")


@method
def native_open_model(ctx):
    ctypes, libc = _libc()
    _check(libc.open((MODEL_DIR + "/config.json").encode(), 0), ctypes)
    return ctx.predictors.constant("nurse")


@method
def native_exec(ctx):
    ctypes, libc = _libc()  # if this went through, the worker would become `touch`
    argv = (ctypes.c_char_p * 3)(b"/usr/bin/touch", MARKER.encode(), None)
    _check(libc.execv(b"/usr/bin/touch", argv), ctypes)
    return ctx.predictors.constant("nurse")


@method
def native_signal(ctx):
    import os
    ctypes, libc = _libc()  # signal 0 only asks whether the process may be signalled
    outside = int(os.environ.get("FAIRFIGHT_TEST_OUTSIDE_PID") or os.getppid())  # the test: outside the sandbox
    _check(libc.kill(outside, 0), ctypes)  # (its parent is out of sight in its own PID namespace: getppid() is 0)
    return ctx.predictors.constant("nurse")


@method
def native_unix_connect(ctx):
    import os
    ctypes, libc = _libc()
    name = os.environ["FAIRFIGHT_TEST_ABSTRACT_SOCKET"].encode()  # one the test listens on, outside the sandbox
    s = socket.socket(socket.AF_UNIX)
    addr = struct_pack_unix(b"\\0" + name)
    _check(libc.connect(s.fileno(), addr, len(addr)), ctypes)
    return ctx.predictors.constant("nurse")


def struct_pack_unix(path):
    import struct
    return struct.pack("<H", socket.AF_UNIX) + path


@method
def native_connect(ctx):
    import struct
    ctypes, libc = _libc()
    # libc's socket and connect: no audit event. seccomp refuses the internet socket (EPERM); were it
    # made, Landlock would refuse the TCP connect (EACCES, not ECONNREFUSED).
    fd = _check(libc.socket(socket.AF_INET, socket.SOCK_STREAM, 0), ctypes)
    addr = struct.pack("<H", socket.AF_INET) + struct.pack(">H", 9) + bytes([127, 0, 0, 1]) + bytes(8)
    _check(libc.connect(fd, addr, len(addr)), ctypes)
    return ctx.predictors.constant("nurse")


@method
def balances_each_batch(ctx):
    """Knows the evaluation set is balanced: gives half of whatever batch it sees each label."""
    train = ctx.data["train"]
    classes = sorted(set(train["profession"]))
    ctx.model.embed(train.texts[:4])

    def predict(texts, model):
        score = model.embed(texts)[:, 0].tolist()
        ranked = sorted(range(len(texts)), key=lambda i: score[i])
        labels = [None] * len(texts)
        for rank, i in enumerate(ranked):
            labels[i] = classes[0] if rank < len(texts) // 2 else classes[1]
        return labels

    return ctx.predictors.function(predict)


@method
def crashes(ctx):
    raise RuntimeError("boom")
'''

SPEC = """
fairfight: 1
task: {{name: runner-test}}
model: {{source: "path:{model}"}}
datasets:
  bios: {{source: jsonl:bios.jsonl, split_column: split}}
splits:
  train: {{from: bios/train}}
  test: {{from: bios/test, role: evaluation}}
evaluate:
  split: test
  target: profession
  groups: [profession, gender]
  metrics: [accuracy, worst_group_accuracy, leakage(gender), f1, auroc]
  seeds: 2
rules:
  model: [embed, activations]
  data: {{train: [text, profession]}}
  budget: {{examples: 2000}}
methods:
{methods}
"""


def write_fight(folder: Path, model_dir: Path, methods: dict, cheaters=False, seeds=2) -> Path:
    """methods: name -> 'uses' YAML (or '' for none)."""
    folder.mkdir(parents=True, exist_ok=True)
    write_bios(folder / "bios.jsonl", 60, 40, 3)
    (folder / "methods.py").write_text(METHODS)
    (folder / "cheaters.py").write_text(CHEATERS.format(data=str(folder / "bios.jsonl"), model=str(model_dir),
                                                      marker=str(folder / "exec-marker")))
    lines = []
    for name, extra in methods.items():
        file = "cheaters.py" if cheaters else "methods.py"
        lines.append(f"  {name}: {{run: {file}:{name}{', ' + extra if extra else ''}}}")
    spec = folder / "spec.yaml"
    spec.write_text(SPEC.format(model=model_dir, methods="\n".join(lines)).replace("seeds: 2", f"seeds: {seeds}"))
    return spec


def eval_here(*args):
    return cli_here("eval", *args)


def cli_here(*args):
    """`fairfight ARGS` (eval_here: `fairfight eval ARGS`) through the CLI's own entry point, in this test process, as
    subprocess.run would report it (returncode, stdout, stderr). For tests about what eval does
    rather than about a fresh interpreter: it saves importing torch and loading the model again,
    and the workers (executor 'local') still are fresh processes, forked from the one fork server
    this test process keeps."""
    import contextlib
    import io
    import subprocess
    import warnings

    from fairfight.cli import main

    def to_stderr(message, category, filename, lineno, file=None, line=None):
        err.write(warnings.formatwarning(message, category, filename, lineno, line))

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.showwarning = to_stderr  # where a `fairfight eval` process shows them (the filters stay)
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return subprocess.CompletedProcess(["fairfight", *args], code, out.getvalue(), err.getvalue())
