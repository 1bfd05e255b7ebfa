"""The random_direction control in a whole generation fight on a tiny random chat GPT-2: the rerun of
a steering method adds, on the model server, a vector of the same norm at the same layer, scale and
positions in another direction (its ledger says so, the same one in every process of the run), is
scored and judged like any run; the control of a method that adds no vector fails saying why."""
import json

import numpy as np
import pytest

from generationkit import tiny_chat_gpt2, write_capitals
from runner_fixtures import eval_here


NUDGED = '''

@method
def nudged(ctx):
    """A steering vector at every position."""
    import torch
    vector = torch.randn(ctx.model.hidden_size, generator=torch.Generator().manual_seed(1))
    edited = ctx.model.intervene([AddVector(1, vector, scale=3.0)])
    return ctx.predictors.generator(edited, max_new_tokens=6)
'''


@pytest.fixture(scope="module")
def fought(tmp_path_factory):
    folder = tmp_path_factory.mktemp("random-direction")
    model = tiny_chat_gpt2(folder / "model")
    spec = write_capitals(folder / "fight", model, ["plain", "steered"],
                          "claims:\n  - steered beats random_direction(steered) on score")
    spec.write_text(spec.read_text().replace("baselines: []", "baselines: []\ncontrols: [random_direction]")
                    .replace("methods.py:steered", "methods.py:nudged"))
    methods = spec.parent / "methods.py"
    methods.write_text(methods.read_text() + NUDGED)
    out = folder / "bundle"
    r = eval_here(str(spec), "--out", str(out), "--no-progress", "--no-cache")
    runs = {run["label"]: run for run in json.loads((out / "results.json").read_text())["runs"]}
    return out, runs, r


def _added(out, run):
    """The distinct edits the run's intervene calls installed (training, and each chunk's process)."""
    ledger = json.loads((out / "runs" / run["key"] / "ledger.json").read_text())
    edits = [e for entry in ledger["entries"] if entry["op"] == "intervene" for e in entry["edits"]]
    assert len(edits) >= 2  # the training's and at least one predicting process's
    return [json.loads(e) for e in dict.fromkeys(json.dumps(e, sort_keys=True) for e in edits)]


def _texts(out, run):
    path = out / "runs" / run["key"] / "predictions.jsonl"
    return [json.loads(line)["prediction"] for line in path.read_text().splitlines()]


def test_the_control_adds_a_random_vector_of_the_same_norm_at_the_same_place(fought):
    out, runs, r = fought
    control, method = runs["random_direction(steered)"], runs["steered"]
    assert control["status"] == "succeeded" and control["role"] == "control", control.get("error")
    (theirs,), (ours,) = _added(out, control), _added(out, method)  # one stand-in, in every process
    same = lambda edit: {k: v for k, v in edit.items() if not k.startswith("vector")}  # noqa: E731
    assert same(theirs) == same(ours)
    assert "positions" not in theirs and theirs["layer"] == 1 and theirs["scale"] == 3.0  # positions: all
    a, b = np.asarray(ours["vector"]), np.asarray(theirs["vector"])
    assert np.linalg.norm(b) == pytest.approx(np.linalg.norm(a), rel=1e-9)
    assert abs(a @ b) / (np.linalg.norm(a) * np.linalg.norm(b)) < 0.6  # 32 dimensions: another direction
    # (the texts themselves: this tiny byte-level model decodes both runs' tokens to the same replacement
    # characters; that the stand-in changes what is generated, exactly as a hand computation, is
    # tests/evaluator/model_side/test_random_direction.py on a tiny Llama)
    assert len(_texts(out, control)) == len(_texts(out, method)) == 16
    assert control["batch_check"]["differing"] == 0  # every chunk's process got the same stand-in
    assert isinstance(control["metrics"]["score"], float)


def test_the_claim_against_the_control_is_judged(fought):
    out, _, _ = fought
    (verdict,) = json.loads((out / "results.json").read_text())["verdicts"]
    assert verdict["claim"] == "steered beats random_direction(steered) on score"
    assert verdict["verdict"] in ("supported", "inconclusive", "not-supported")


def test_the_control_of_a_method_without_vectors_fails_saying_why(fought):
    _, runs, r = fought
    run = runs["random_direction(plain)"]
    assert run["status"] == "failed" and "added no vector" in run["error"]
    assert r.returncode != 0  # a failed run is said in the exit code


def test_the_inline_executor_adds_the_same_stand_in(fought, tmp_path):
    """Executor inline (the model in the worker's process): the same control, the same random vector."""
    out, runs, _ = fought
    spec = out.parent / "fight" / "spec.yaml"
    inline = tmp_path / "bundle"
    r = eval_here(str(spec), "--out", str(inline), "--no-progress", "--no-cache", "--executor", "inline",
                  "--only", "random_direction(steered)")
    assert r.returncode in (0, 1, 2), r.stdout[-3000:] + r.stderr[-3000:]
    (run,) = json.loads((inline / "results.json").read_text())["runs"]
    assert run["status"] == "succeeded" and run["model_access"] == "in-process"
    assert _added(inline, run) == _added(out, runs["random_direction(steered)"])
