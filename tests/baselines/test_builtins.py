"""Every built-in baseline, skyline and control runs end to end on tiny real models, and what
its ledger records is exactly what it declares."""
import warnings

import pytest

from testkit import write_bios
from fairfight.baselines import BASELINES, CONTROLS, SKYLINES
from fairfight.evaluator.orchestration.executors import InlineExecutor
from fairfight.evaluator.orchestration.plan import compile_plan
from fairfight.evaluator.orchestration.runner import Evaluation
from fairfight.spec.check import load_spec
from fairfight.spec.vocabulary import BASELINES as NEEDS
from fairfight.spec.vocabulary import SKYLINES as SKYLINE_NEEDS

# the classification built-ins (those of generation tasks: test_generation_baselines.py)
CLASSIFYING = sorted(n for n, needs in {**NEEDS, **SKYLINE_NEEDS}.items() if needs.task == "classification")

SPEC = """
fairfight: 1
task: {{name: builtins}}
model: {{source: "path:{model}"}}
datasets:
  bios: {{source: jsonl:bios.jsonl, split_column: split}}
splits:
  train: {{from: bios/train}}
  balanced: {{from: bios/train, balance: [profession, gender], role: skyline}}
  test: {{from: bios/test, role: evaluation}}
evaluate:
  split: test
  target: profession
  groups: [profession, gender]
  metrics: [accuracy, worst_group_accuracy, leakage(gender), auroc]
  seeds: 1
rules:
  model: {ops}
  data: {{train: [text, profession, gender]}}
  knowledge: {{spurious_concept: gender}}
baselines: {baselines}
controls: [random_model, shuffled_labels]
skylines: {skylines}
methods:
  probe: {{run: methods.py:probe, uses: {{model: [activations], data: {{train: [text, profession]}}}}}}
"""

METHOD = """
from fairfight import method

@method
def probe(ctx):
    train = ctx.data["train"]
    return ctx.predictors.probe(ctx.model, train.texts, train["profession"], layer=1)
"""


def run_fight(folder, model_dir, ops, baselines, skylines="[]"):
    write_bios(folder / "bios.jsonl", 80, 40, 5)
    (folder / "methods.py").write_text(METHOD)
    (folder / "spec.yaml").write_text(SPEC.format(model=model_dir, ops=ops, baselines=baselines, skylines=skylines))
    spec = load_spec(folder / "spec.yaml")
    plan = compile_plan(spec)
    assert plan.refusals == []
    evaluation = Evaluation(spec, plan, folder / "bundle")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        executor = InlineExecutor()
    executor.run(evaluation.pending_jobs(), lambda job: None, evaluation.finish)
    return {r["label"]: r for r in evaluation.write()["runs"]}


@pytest.fixture(scope="module")
def encoder_runs(tmp_path_factory, bert_dir):
    names = [b for b in BASELINES if b in CLASSIFYING and b not in ("zero_shot", "few_shot")] + ["zero_shot", "few_shot"]
    return run_fight(tmp_path_factory.mktemp("enc"), bert_dir, "[embed, activations, finetune]",
                     "[" + ", ".join(names) + "]", "[{oracle: {split: balanced}}]")


@pytest.fixture(scope="module")
def causal_runs(tmp_path_factory, gpt2_dir):
    return run_fight(tmp_path_factory.mktemp("dec"), gpt2_dir, "[logprobs, activations]", "[zero_shot, few_shot]")


def _check(run):
    assert run["status"] == "succeeded", run.get("error")
    ledger = run["ledger"]
    assert set(ledger["ops"]) == set(run["grant"]["model"]), (run["label"], ledger["ops"], run["grant"])
    declared = {f"{split}.{col}" for split, cols in run["grant"]["data"].items() for col in cols}
    declared |= {f"knowledge.{k}" for k in run["grant"]["knowledge"]}
    assert set(ledger["reads"]) == declared, (run["label"], ledger["reads"], declared)
    assert ledger["refused"] == []
    assert 0.0 <= run["metrics"]["accuracy"] <= 1.0


@pytest.mark.parametrize("name", CLASSIFYING)
def test_each_builtin_runs_and_uses_exactly_what_it_declares(encoder_runs, name):
    _check(encoder_runs[name])


@pytest.mark.parametrize("name", ["zero_shot", "few_shot"])
def test_prompting_baselines_on_a_causal_model(causal_runs, name):
    run = causal_runs[name]
    _check(run)
    assert run["grant"]["model"] == ["logprobs"]


# random_direction applies to vector methods only (this probe adds none): tests/evaluator/orchestration/
# test_random_direction_eval.py runs it on a steering method
@pytest.mark.parametrize("control", sorted(set(CONTROLS) - {"random_direction"}))
def test_controls_rerun_the_method(encoder_runs, control):
    run = encoder_runs[f"{control}(probe)"]
    _check(run)
    assert run["grant"] == encoder_runs["probe"]["grant"]
    assert run["key"] != encoder_runs["probe"]["key"]


def test_majority_is_the_floor(encoder_runs):
    majority = encoder_runs["majority"]["metrics"]
    assert majority["worst_group_accuracy"] == 0.0 and majority["accuracy"] == 0.5


def test_token_deletion_removes_the_concept_words():
    from fairfight.baselines._common import delete_words
    from fairfight.knowledge import all_words

    text = "She is a nurse; her husband, Mr. Lee, says he is proud of Shelly."
    assert delete_words(text, all_words("gender")) == "is a nurse; , . Lee, says is proud of Shelly."
