"""Batch-independent predictions: chunks and the re-predicted sample follow the run key; honest
predictors (probes on tiny BERT, prompt scoring on tiny GPT-2, a MiniLM probe) pass; a predictor
that balances each batch it sees is refused in the fair-fight tier and reported in the others."""
import json
import subprocess
import sys

import pytest

from fairfight.evaluator.contender_side import batching
from fairfight.evaluator.model_side.ledger import Ledger
from fairfight.evaluator.model_side.model_handle import ModelHandle
from fairfight.evaluator.contender_side.predictors import FunctionPredictor, PromptPredictor, fit_linear, ProbePredictor

from runner_fixtures import eval_here, write_fight

TEXTS = [f"sentence number {i} about {'a nurse' if i % 2 else 'a professor'}" + " and more" * (i % 7)
         for i in range(90)]


def test_chunks_cover_every_input_once_vary_in_size_and_follow_the_run_key():
    chunks, recheck = batching.plan(300, "key-a")
    assert sorted(i for c in chunks for i in c) == list(range(300))
    assert len({len(c) for c in chunks}) > 1 and max(len(c) for c in chunks) <= batching.MAX_CHUNK
    assert [i for c in chunks for i in c] != list(range(300))  # shuffled, not in evaluation order
    flat = [i for c in recheck for i in c]
    assert len(flat) == len(set(flat)) == batching.RECHECK
    assert batching.plan(300, "key-a") == (chunks, recheck)  # a rerun reproduces them
    assert batching.plan(300, "key-b") != (chunks, recheck)
    big, _ = batching.plan(3000, "key-a")
    assert 64 < max(len(c) for c in big) <= batching.MAX_CHUNK
    small, again = batching.plan(5, "k")
    assert len(small) > 1 and sorted(i for c in again for i in c) == list(range(5))


class _OwnPredictor:
    def __init__(self, wrap):
        self.wrap = wrap

    def predict(self, texts, model):
        return self.wrap(["nurse" if "nurse" in t else "professor" for t in texts])


def test_a_predictor_of_ones_own_returns_the_public_predictions_and_anything_else_is_named():
    from fairfight import FairfightError, Predictions

    rows, classes = batching.predict_chunk(_OwnPredictor(lambda ls: Predictions(tuple(ls))), TEXTS[:3], None)
    assert [r["prediction"] for r in rows] == ["professor", "nurse", "professor"] and classes == ()
    with pytest.raises(FairfightError, match=r"must return fairfight.Predictions.*got list"):
        batching.predict_chunk(_OwnPredictor(list), TEXTS[:3], None)


def test_float_noise_is_not_a_difference_but_labels_and_moved_scores_are():
    row = {"prediction": "a", "scores": {"a": 0.7, "b": 0.3}}
    assert not batching.differs(row, {"prediction": "a", "scores": {"a": 0.7000004, "b": 0.2999996}})
    assert batching.differs(row, {"prediction": "a", "scores": {"a": 0.65, "b": 0.35}})
    assert batching.differs(row, {"prediction": "b", "scores": {"a": 0.7, "b": 0.3}})
    tie = {"prediction": "a", "scores": {"a": 0.5000001, "b": 0.4999999}}
    assert not batching.differs(tie, {"prediction": "b", "scores": {"a": 0.4999999, "b": 0.5000001}})
    assert batching.differs({"prediction": "a"}, {"prediction": "b"})
    assert not batching.differs({"prediction": "a"}, {"prediction": "a"})


def balanced(texts, model):
    score = model.embed(texts)[:, 0].tolist()
    ranked = sorted(range(len(texts)), key=lambda i: score[i])
    labels = [None] * len(texts)
    for rank, i in enumerate(ranked):
        labels[i] = "nurse" if rank < len(texts) // 2 else "professor"
    return labels


def probe(handle, layer):
    from fairfight.evaluator.contender_side.predictors import features

    labels = ["nurse" if "nurse" in t else "professor" for t in TEXTS]
    head = fit_linear(features(handle, TEXTS, layer), labels, seed=0)
    return ProbePredictor(head, layer)


def check(predictor, handle, key="run"):
    rows, classes, result = batching.predict_in_chunks(predictor, TEXTS, handle, key)
    assert len(rows) == len(TEXTS)
    return result


def test_honest_probes_and_prompts_pass_without_a_shared_pass(bert, gpt2, minilm):
    """No forward cache: every chunk is its own padded batch, and still nothing is flagged."""
    bert_handle = ModelHandle(bert, frozenset({"embed", "activations"}), Ledger(), batch_size=7)
    for layer in (None, 1):
        assert check(probe(bert_handle, layer), bert_handle)["differing"] == 0
    gpt2_handle = ModelHandle(gpt2, frozenset({"logprobs", "activations", "embed"}), Ledger(), batch_size=5)
    prompt = PromptPredictor("{text} is a", (("nurse", " nurse"), ("professor", " professor")))
    result = check(prompt, gpt2_handle)
    assert result["differing"] == 0 and result["sampled"] == 64
    assert check(probe(gpt2_handle, 2), gpt2_handle)["differing"] == 0
    minilm_handle = ModelHandle(minilm, frozenset({"embed"}), Ledger())
    assert check(probe(minilm_handle, None), minilm_handle)["differing"] == 0


def test_a_predictor_that_balances_each_batch_is_caught(bert):
    handle = ModelHandle(bert, frozenset({"embed"}), Ledger())
    result = check(FunctionPredictor(balanced), handle)
    assert result["differing"] > 5, result
    assert batching.describe(result).startswith("batch-dependent predictions: ")


def audit_cli(bundle):
    return subprocess.run([sys.executable, "-m", "fairfight.cli", "audit", str(bundle)], capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module", params=["fair-fight", "no-holds-barred"])
def fight(request, tmp_path_factory, bert_dir):
    folder = tmp_path_factory.mktemp(request.param)
    spec = write_fight(folder, bert_dir, {"balances_each_batch": "", "plain_head": ""}, cheaters=True, seeds=1)
    spec.write_text(spec.read_text().replace("name: runner-test}", f"name: runner-test, tier: {request.param}}}")
                    .replace("cheaters.py:plain_head", "methods.py:plain_head"))
    out = folder / "bundle"
    r = eval_here(str(spec), "--out", str(out), "--workers", "2", "--no-progress", "--allow-refused")
    results = json.loads((out / "results.json").read_text())
    runs = {run["label"]: run for run in results["runs"]}
    return request.param, r, results, runs, out


def test_batch_dependence_is_refused_in_fair_fight_and_reported_elsewhere(fight):
    tier, r, results, runs, out = fight
    assert "Traceback" not in r.stderr, r.stderr
    honest, cheat = runs["plain_head"], runs["balances_each_batch"]
    assert honest["status"] == "succeeded" and honest["batch_check"]["differing"] == 0
    assert honest["batch_check"]["sampled"] == 40 and honest["batch_check"]["chunks"] > 1
    assert cheat["batch_check"]["differing"] > 0
    from fairfight.report.terminal import problem_lines

    report = (out / "report.md").read_text()
    if tier == "fair-fight":
        assert cheat["status"] == "refused" and cheat["metrics"] is None
        assert any(x.startswith("batch-dependent predictions") for x in cheat["reasons"]), cheat
        assert r.returncode == 2
    else:
        assert cheat["status"] == "succeeded" and cheat["metrics"] is not None
        assert any(x.startswith("kept: balances_each_batch") for x in problem_lines(results))
    assert "batch-dependent predictions" in r.stdout
    assert "batch-dependent predictions" in report
    audit = audit_cli(out)
    assert "Traceback" not in audit.stderr, audit.stderr
    said = " ".join(audit.stdout.split())  # the audit wraps its lines
    assert audit.returncode != 0, said
    assert "balances_each_batch" in said and "batch-dependent predictions" in said, said
    kind = "[refusal] balances_each_batch refused" if tier == "fair-fight" else "[batch-dependence] balances_each_batch kept"
    assert kind in said, said


def _outputs(rows, classes=("nurse", "professor")):
    return [[rows, list(classes)]]


@pytest.mark.parametrize("rows, says", [
    ([{"prediction": [1, 2]}], "is a list, not a label"),
    ([{"prediction": {"__tensor__": 1}}], "not a label"),
    ([{"prediction": "surgeon"}], "not one of the classes"),
    ([{"prediction": 1}], "not one of the classes"),  # 1 is not "nurse", and not the class 1 either way
    ([{"prediction": "nurse", "scores": {"nurse": float("nan"), "professor": 0.5}}], "not a finite number"),
    ([{"prediction": "nurse", "scores": {"nurse": float("inf"), "professor": 0.5}}], "not a finite number"),
    ([{"prediction": "nurse", "scores": {"nurse": 0.5}}], "not one number per class"),
    ([{"prediction": "nurse", "scores": {"nurse": "high", "professor": 0.5}}], "not a finite number"),
    ([{"prediction": "nurse", "scores": {"nurse": 1.0, "professor": 0.0}}, {"prediction": "nurse"}], "lacks scores"),
    ([{"prediction": "nurse", "extra": 1}], "not a row"),
    ([{"prediction": "nurse"}, {"prediction": "nurse"}], "2 predictions for 1 inputs"),
])
def test_invalid_predictions_fail_the_run_with_what_was_wrong(rows, says):
    with pytest.raises(Exception) as caught:
        batching.assemble(1, [[0]], [], _outputs(rows), task_classes=["nurse", "professor"])
    assert says in str(caught.value) and type(caught.value).__name__ == "FairfightError", caught.value


def test_valid_predictions_pass_and_numpy_scalars_count_as_their_python_kind():
    import numpy as np

    rows = [{"prediction": "nurse", "scores": {"nurse": np.float32(0.75), "professor": 0.25}}]
    got, classes, check = batching.assemble(1, [[0]], [], _outputs(rows), task_classes=["nurse", "professor"])
    assert got == rows and classes == ["nurse", "professor"]
    assert batching.rows_problem([{"prediction": np.int64(1)}], [], [0, 1]) is None


def test_a_nan_score_is_a_difference_never_a_pass():
    """No comparison with NaN is true: `moved > tolerance` let a NaN score hide batch dependence."""
    same = {"prediction": "nurse", "scores": {"nurse": 0.6, "professor": 0.4}}
    nan = {"prediction": "professor", "scores": {"nurse": float("nan"), "professor": float("nan")}}
    assert batching.differs(same, nan) and batching.differs(nan, same) and batching.differs(nan, nan)
