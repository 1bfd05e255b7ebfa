"""Training and predicting in separate processes (contender_side/predicting.py): the process that
trains never gets an evaluation text, whatever it tries, and nothing a predicting process learns
from its chunk reaches the next chunk's process. Each attack below got through before the split
(the training process asked for the inputs itself; one process predicted every chunk)."""
import json
import re
import sys

import pytest

from fairfight.evaluator.contender_side import sandbox

from runner_fixtures import eval_here, write_fight

needs_os = pytest.mark.skipif(sandbox.expected()[0] != "os", reason="no Landlock ABI >= 4 / seccomp here")

CHEATERS = '''
import os
import sys
import tempfile
import threading

from fairfight import Predictions, method

SEEN = []  # a module global: one process predicting every chunk would keep it


def _leak(ctx, texts):
    print("LEAK:", len(texts), "evaluation texts while training", flush=True)
    ctx.model.embed(texts)


@method
def asks_for_the_inputs_while_training(ctx):
    """Walks every frame below it for anything that can ask the orchestrator for the evaluation
    inputs (the channel, its pipe) and asks, every way it can."""
    asked = 0
    f = sys._getframe()
    while f is not None:
        for name, value in list(f.f_locals.items()):
            for attr in ("evaluation_chunks", "evaluation_inputs"):
                if callable(getattr(value, attr, None)):
                    asked += 1
                    try:
                        chunks = getattr(value, attr)()
                        _leak(ctx, [t for chunk in chunks for t in (chunk if isinstance(chunk, list) else [chunk])])
                    except Exception as exc:
                        print("asked", name, attr, "->", type(exc).__name__, flush=True)
            conn = getattr(value, "conn", None)
            if conn is not None and hasattr(conn, "send_bytes"):
                asked += 1
                try:
                    from fairfight.evaluator.model_side import wire
                    conn.send_bytes(wire.encode(["ready", None]))
                    _leak(ctx, conn.recv())
                except Exception as exc:
                    print("pipe", name, "->", type(exc).__name__, flush=True)
        f = f.f_back
    print("ASKED", asked, "TIMES", flush=True)
    return ctx.predictors.constant("nurse")


class Remembers:
    """Counts the evaluation texts it saw in earlier chunks: in a global, in a file in its temp
    folder, in the training's scratch folder, and in a thread that outlives the call."""

    def __init__(self, scratch):
        self.scratch = scratch

    def _files(self):
        return [os.path.join(tempfile.gettempdir(), "seen.txt"), os.path.join(self.scratch, "seen.txt")]

    def predict(self, texts, model):
        earlier = len(SEEN)
        for path in self._files():
            try:
                with open(path) as f:
                    earlier = max(earlier, len(f.read().splitlines()))
            except OSError:
                pass
        print("SEEN", earlier, "BEFORE A CHUNK OF", len(texts), flush=True)
        SEEN.extend(texts)
        for path in self._files():
            try:
                with open(path, "a") as f:
                    f.write("".join(t.replace("\\n", " ")[:20] + "\\n" for t in texts))
            except OSError as exc:
                print("could not write", path, type(exc).__name__, flush=True)
        return Predictions(labels=tuple(["nurse"] * len(texts)))


@method
def remembers_across_chunks(ctx):
    scratch = tempfile.gettempdir()  # the training's scratch folder
    with open(os.path.join(scratch, "seen.txt"), "w"):
        pass
    return Remembers(scratch)


@method
def closure_with_a_tensor(ctx):
    """An honest predictor that pickles: a closure over a tensor and the model handle."""
    import torch

    train = ctx.data["train"]
    x = torch.as_tensor(ctx.model.embed(train.texts))
    centre = x.mean(0)
    classes = sorted(set(train["profession"]))

    def predict(texts, model):
        scores = (torch.as_tensor(model.embed(texts)) - centre)[:, 0]
        return [classes[int(s > 0)] for s in scores.tolist()]

    return ctx.predictors.function(predict)


@method
def holds_a_lock(ctx):
    lock = threading.Lock()

    def predict(texts, model):
        with lock:
            return ["nurse"] * len(texts)

    return ctx.predictors.function(predict)
'''

USES = "uses: {model: [embed], data: {train: [text, profession]}}"


@pytest.fixture(scope="module")
def fight(tmp_path_factory, bert_dir):
    folder = tmp_path_factory.mktemp("predicting")
    names = ["asks_for_the_inputs_while_training", "remembers_across_chunks", "closure_with_a_tensor", "holds_a_lock"]
    spec = write_fight(folder, bert_dir, {n: USES for n in names}, cheaters=True, seeds=1)
    (folder / "cheaters.py").write_text(CHEATERS)
    r = eval_here(str(spec), "--out", str(folder / "bundle"), "--no-progress", "--allow-refused")
    results = json.loads((folder / "bundle" / "results.json").read_text())
    runs = {run["label"]: run for run in results["runs"]}
    logs = {name: (folder / "bundle" / "runs" / run["key"] / "log.txt").read_text() for name, run in runs.items()}
    return r, runs, logs


def test_the_training_process_never_gets_an_evaluation_text(fight):
    r, runs, logs = fight
    log = logs["asks_for_the_inputs_while_training"]
    assert "LEAK" not in log, log[-2000:]
    assert re.search(r"ASKED [1-9]\d* TIMES", log), log[-2000:]  # it found something to ask, and got nothing
    assert runs["asks_for_the_inputs_while_training"]["status"] == "succeeded", log[-2000:]


def test_no_chunk_sees_what_an_earlier_chunk_saw(fight):
    r, runs, logs = fight
    log = logs["remembers_across_chunks"]
    seen = [int(n) for n in re.findall(r"SEEN (\d+) BEFORE", log)]
    assert len(seen) >= 3, log[-2000:]  # several chunks, each predicted
    assert set(seen) == {0}, log[-2000:]
    assert runs["remembers_across_chunks"]["status"] == "succeeded", log[-2000:]


@pytest.mark.skipif(sys.platform != "linux", reason="Linux walls")
@needs_os
def test_a_predicting_process_writes_only_its_own_scratch_folder(fight):
    _, _, logs = fight
    log = logs["remembers_across_chunks"]
    assert "could not write" in log and "seen.txt PermissionError" in log, log[-2000:]  # the training's folder


def test_an_honest_predictor_pickles_and_predicts(fight):
    _, runs, logs = fight
    run = runs["closure_with_a_tensor"]
    assert run["status"] == "succeeded", logs["closure_with_a_tensor"][-2000:]
    assert run["metrics"]["accuracy"] is not None


def test_a_predictor_that_cannot_be_pickled_fails_saying_why(fight):
    _, runs, logs = fight
    run = runs["holds_a_lock"]
    assert run["status"] == "failed"
    assert "could not be pickled" in run["error"] and "lock" in run["error"], run["error"]
