"""Nothing a contender sends breaks the orchestrator or the model server: through a real `fairfight
eval` (local executor), contenders write random, mutated, oversized and ill-typed messages on their
run's channels (a predicting process's to the orchestrator, the training process's to the run's
supervisor) and on the model server's, and return invalid predictions (NaN scores with `auroc` a
metric, tensors for labels, labels that are no class). Each of those runs ends `failed` with the
reason; the eval finishes, writes its results, and every honest run beside them succeeds."""
import json
import os
import subprocess
import sys

import pytest

from runner_fixtures import write_fight

HOSTILE = '''
import pickle
import random
import struct
import sys

import torch
from fairfight import Predictions, method
from fairfight.evaluator.model_side import wire


def _channel(name="conn"):
    """A connection the contender's process holds, found in a caller's frame: `conn` in a predicting
    process (its chunk's, to the orchestrator), `theirs` in the training one (to the run's supervisor)."""
    f = sys._getframe()
    while not hasattr(f.f_locals.get(name), "send_bytes"):
        f = f.f_back
    return f.f_locals[name]


class _SendsWhilePredicting:
    """Writes on its chunk's connection to the orchestrator, then predicts."""

    def __init__(self, send):
        self.send = send

    def predict(self, texts, model):
        self.send(_channel())
        return Predictions(("nurse",) * len(texts))


def _server_conn(ctx):
    return ctx.model._HandleStub__link._ServerLink__conn


class _Fixed:
    def __init__(self, make):
        self.make = make

    def predict(self, texts, model):
        return self.make(len(texts))


@method
def nan_scores(ctx):
    return _Fixed(lambda n: Predictions(("nurse",) * n, ((float("nan"), float("nan")),) * n, ("nurse", "professor")))


@method
def infinite_scores(ctx):
    return _Fixed(lambda n: Predictions(("nurse",) * n, ((float("inf"), 0.0),) * n, ("nurse", "professor")))


@method
def tensor_labels(ctx):
    return _Fixed(lambda n: Predictions(tuple(torch.tensor([1.0, 2.0]) for _ in range(n))))


@method
def labels_that_are_no_class(ctx):
    return ctx.predictors.constant("surgeon")


@method
def random_bytes(ctx):
    return _SendsWhilePredicting(lambda conn: conn.send_bytes(random.Random(1).randbytes(300)))


@method
def garbage_to_the_supervisor(ctx):
    _channel("theirs").send_bytes(random.Random(2).randbytes(300))
    return ctx.predictors.constant("nurse")


@method
def a_header_claiming_a_tebibyte(ctx):
    return _SendsWhilePredicting(lambda conn: conn._send(struct.pack("!i", -1) + struct.pack("!Q", 1 << 40)))


@method
def deep_nesting(ctx):
    header = ("[" * 200000 + "]" * 200000).encode()
    return _SendsWhilePredicting(lambda conn: conn.send_bytes(struct.pack("<Q", len(header)) + header))


@method
def an_unknown_kind(ctx):
    return _SendsWhilePredicting(lambda conn: conn.send_bytes(wire.encode(["verdict", {{"supported": True}}])))


def _mutated(conn, seed):
    rng = random.Random(seed)
    valid = wire.encode(["chunk", {{"status": "succeeded", "output": [[{{"prediction": "nurse"}}], ["nurse"]]}}])
    for _ in range(5):
        data = bytearray(valid)
        for _ in range(3):
            data[rng.randrange(len(data))] = rng.randrange(256)
        conn.send_bytes(bytes(data))


@method
def mutated_results(ctx):
    seed = ctx.seed
    return _SendsWhilePredicting(lambda conn: _mutated(conn, seed))


@method
def fuzzes_the_model_server(ctx):
    """Random and mutated requests, each answered with an error; then an honest call still works,
    and last a request over the server's cap, which ends only this run's connection."""
    rng = random.Random(5)
    conn = _server_conn(ctx)
    valid = [wire.encode(m) for m in (["embed", 0, {{"texts": ["a nurse"], "split": "train"}}], ["facts", 0, {{}}],
                                      ["sae", 0, {{"W_enc": torch.ones(2, 2)}}])]
    answered = 0
    for i in range(300):
        data = bytearray(rng.choice(valid)) if i % 3 else bytearray(rng.randbytes(rng.randrange(1, 200)))
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        conn.send_bytes(bytes(data))
        reply = pickle.loads(conn.recv_bytes())
        answered += reply[0] in ("ok", "error")
    ctx.log("ANSWERED", answered)
    features = ctx.model.embed(ctx.data["train"].texts[:4])
    ctx.log("STILL SERVED", tuple(features.shape))
    conn._send(struct.pack("!i", -1) + struct.pack("!Q", 1 << 40))
    return ctx.predictors.constant("nurse")
'''
USES = "uses: {model: [embed], data: {train: [text, profession]}}"
FAILED = {  # run -> what its error says
    "nan_scores": "not a finite number",
    "infinite_scores": "not a finite number",
    "tensor_labels": "not a label",
    "labels_that_are_no_class": "not one of the classes",
    "random_bytes": "the worker sent",
    "garbage_to_the_supervisor": "report could not be read",
    "a_header_claiming_a_tebibyte": "over 256 MiB",
    "deep_nesting": "undecodable",
    "an_unknown_kind": "not one of ['chunk']",
}
HONEST = ("probe", "plain_head", "always_nurse")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, bert_dir):
    folder = tmp_path_factory.mktemp("hostile")
    methods = {"fuzzes_the_model_server": USES, **{n: USES for n in FAILED}, "mutated_results": USES}
    spec = write_fight(folder, bert_dir, methods, cheaters=True, seeds=1)
    (folder / "cheaters.py").write_text(HOSTILE.format())
    (folder / "methods_honest.py").write_text((folder / "methods.py").read_text())
    with open(spec, "a") as f:
        for name in HONEST:
            f.write(f"  {name}: {{run: methods_honest.py:{name}}}\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    r = subprocess.run([sys.executable, "-m", "fairfight.cli", "eval", str(spec), "--out", str(folder / "bundle"),
                        "--workers", "2", "--no-progress", "--allow-refused"], capture_output=True, text=True,
                       timeout=900, env=env, cwd=folder)
    results_file = folder / "bundle" / "results.json"
    assert results_file.exists(), (r.returncode, r.stderr[-3000:])
    runs = {run["label"]: run for run in json.loads(results_file.read_text())["runs"]}
    logs = {name: (folder / "bundle" / "runs" / run["key"] / "log.txt").read_text() for name, run in runs.items()}
    return r, runs, logs


def test_the_eval_finishes_with_its_results(hostile):
    r, runs, _ = hostile
    assert r.returncode == 3, r.stderr[-3000:]  # runs failed (a crash also said 3, with no results)
    assert "eval stopped by an unexpected" not in r.stderr and "Traceback" not in r.stderr, r.stderr[-3000:]
    assert set(FAILED) | set(HONEST) | {"mutated_results", "fuzzes_the_model_server"} <= set(runs)


@pytest.mark.parametrize("name", sorted(FAILED))
def test_a_hostile_run_fails_with_its_reason(hostile, name):
    _, runs, logs = hostile
    run = runs[name]
    assert run["status"] == "failed", (run, logs[name][-2000:])
    assert FAILED[name] in str(run["error"]), run["error"]
    assert run["metrics"] is None


def test_mutated_messages_end_only_their_own_run(hostile):
    _, runs, logs = hostile
    assert runs["mutated_results"]["status"] == "failed", (runs["mutated_results"], logs["mutated_results"][-2000:])


def test_the_model_server_survives_a_fuzzing_run_and_serves_the_others(hostile):
    _, runs, logs = hostile
    log = logs["fuzzes_the_model_server"]
    assert "ANSWERED 300" in log and "STILL SERVED (4, 32)" in log, log[-3000:]
    for name in HONEST:
        assert runs[name]["status"] == "succeeded", (name, runs[name], logs[name][-2000:])
        assert runs[name]["metrics"]["accuracy"] is not None
