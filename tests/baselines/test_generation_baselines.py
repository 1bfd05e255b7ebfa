"""The built-in baselines of generation tasks, in a whole eval on a tiny random chat GPT-2: each
gives exactly the texts of the same thing written as a method by hand (no_edit: the prompt as
one user turn; instruct: the instruction as a system turn; few_shot_prompt: seeded demonstrations as
earlier turns), and the plan grants each only what it uses."""
import json
from types import SimpleNamespace

import pytest

from fairfight.baselines import generating
from fairfight.evaluator.contender_side.predictors import Predictors
from generationkit import tiny_chat_gpt2, write_capitals, eval_bundle, run_texts
from runner_fixtures import eval_here

INSTRUCTION = "Answer with the capital city only."
BASELINES = ("[no_edit: {params: {max_new_tokens: 6}}, "
             f"instruct: {{params: {{instruction: '{INSTRUCTION}', max_new_tokens: 6}}}}, "
             "few_shot_prompt: {params: {k: 2, answer: answer, max_new_tokens: 6}}]")  # the scorer file names no column
CLAIMS = "claims:\n  - says_paris beats all baselines on score"


@pytest.fixture(scope="module")
def fought(tmp_path_factory):
    folder = tmp_path_factory.mktemp("generation-baselines")
    model = tiny_chat_gpt2(folder / "model", init_range=0.3)  # texts that depend on the prompt
    spec = write_capitals(folder / "fight", model, ["plain", "as_user_turn", "with_system", "few_shot_by_hand", "says_paris"],
                          CLAIMS, BASELINES.replace("'", '"'))
    # the instruct baseline's instruction is the with_system method's system prompt
    assert INSTRUCTION in (folder / "fight" / "methods.py").read_text()
    return eval_bundle(spec, folder / "bundle")


_texts = run_texts


@pytest.mark.parametrize("baseline, by_hand", [("no_edit", "as_user_turn"), ("instruct", "with_system"),
                                               ("few_shot_prompt", "few_shot_by_hand")])
def test_each_baseline_gives_the_texts_of_its_hand_written_method(fought, baseline, by_hand):
    out, runs = fought
    assert runs[baseline]["status"] == "succeeded" and runs[baseline]["role"] == "baseline"
    assert _texts(out, runs[baseline]) == _texts(out, runs[by_hand])
    assert runs[baseline]["metrics"]["score"] == runs[by_hand]["metrics"]["score"]


def test_no_edit_asks_as_the_other_baselines_ask_through_the_chat_template(fought):
    """With a chat template every baseline asks the prompt as a user turn: no_edit differs from
    instruct by the instruction alone, not by how the question reaches the model."""
    out, runs = fought
    assert _texts(out, runs["no_edit"]) != _texts(out, runs["plain"])  # the raw text, without the template


def test_the_plan_grants_each_only_what_it_uses(fought):
    _, runs = fought
    for name in ("no_edit", "instruct", "few_shot_prompt"):  # and the ledger shows exactly that used
        run, ledger = runs[name], runs[name]["ledger"]
        assert set(ledger["ops"]) == set(run["grant"]["model"]) and ledger["refused"] == []
        assert set(ledger["reads"]) == {f"{s}.{c}" for s, cols in run["grant"]["data"].items() for c in cols}
    assert runs["no_edit"]["grant"] == {"model": ["generate"], "data": {}, "knowledge": []}
    assert runs["instruct"]["grant"]["data"] == {}
    assert runs["few_shot_prompt"]["grant"]["data"] == {"train": ["answer", "text"]}
    assert runs["few_shot_prompt"]["params"]["answer"] == "answer"


def test_a_claim_against_all_baselines_is_judged(fought):
    out, _ = fought
    (verdict,) = json.loads((out / "results.json").read_text())["verdicts"]
    assert verdict["verdict"] in ("supported", "inconclusive", "not-supported")
    assert {c["against"] for c in verdict["comparisons"]} == {"no_edit", "instruct", "few_shot_prompt"}


def _ctx(chat, **params):
    model = SimpleNamespace(chat=chat, edits=())
    ctx = SimpleNamespace(model=model, seed=0, params={"template": "Q: {text}\nA:", "max_new_tokens": 5, **params})
    ctx.predictors = Predictors(ctx)
    return ctx


def test_instruct_without_a_chat_template_puts_the_instruction_before_the_prompt():
    predictor = generating.instruct(_ctx(False, instruction="Be right."))
    assert predictor.prompt_of("Capital of Peru?") == "Be right.\n\nQ: Capital of Peru?\nA:"
    chat = generating.instruct(_ctx(True, instruction="Be right."))
    assert chat.prompt_of("Capital of Peru?") == [{"role": "system", "content": "Be right."},
                                                  {"role": "user", "content": "Q: Capital of Peru?\nA:"}]


def test_few_shot_prompt_without_a_chat_template_writes_the_demonstrations_as_text():
    ctx = _ctx(False, k=1, split="train", answer="answer")

    class Split:
        texts = ["Capital of Peru?"]

        def __getitem__(self, column):
            return {"answer": ["Lima"]}[column]

    ctx.data = {"train": Split()}
    predictor = generating.few_shot_prompt(ctx)
    assert predictor.prompt_of("Capital of Chile?") == "Q: Capital of Peru?\nA: Lima\n\nQ: Capital of Chile?\nA:"


def test_the_three_ask_differently(fought):
    """The comparisons above mean something: the three baselines' texts differ from one another,
    and asking through the chat template changes them (no_edit against the raw text)."""
    out, runs = fought
    texts = [_texts(out, runs[b]) for b in ("no_edit", "instruct", "few_shot_prompt", "plain")]
    assert texts[0] != texts[1] and texts[0] != texts[2] and texts[1] != texts[2] and texts[0] != texts[3]


def test_few_shot_prompt_is_tuned_on_the_selection_split(tmp_path):
    """Tuning trials of a generation task: scored by the scorer on the selection split's held-out
    part (its own reference column), and the chosen k is the one the final run uses."""
    model = tiny_chat_gpt2(tmp_path / "model")
    spec = write_capitals(tmp_path / "fight", model, ["says_paris"], "",
                          "[few_shot_prompt: {params: {answer: answer, max_new_tokens: 4}, search: {k: [1, 2]}}]")
    text = spec.read_text().replace("  data: {train: [text, answer]}",
                                    "  data: {train: [text, answer]}\n  selection: train\n  budget: {trials: 2}")
    spec.write_text(text)
    out = tmp_path / "bundle"
    r = eval_here(str(spec), "--out", str(out), "--no-progress", "--no-cache", "--only", "few_shot_prompt")
    assert r.returncode in (0, 1), r.stdout[-3000:] + r.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    tuned = results["tuning"]["contenders"]["few_shot_prompt"]
    assert [t["status"] for t in tuned["trials"]] == ["succeeded", "succeeded"]
    assert all(isinstance(t["score"], float) for t in tuned["trials"])  # the tuning metric: score
    (run,) = results["runs"]
    assert run["status"] == "succeeded" and run["params"]["k"] == tuned["chosen"]["k"]
    # the audit rescores each trial's texts with the spec's scorer on the same held-out rows
    from click.testing import CliRunner

    from fairfight.cli import cli

    from fairfight.evaluator.judgement.generations import GenerationScoring

    loads = []
    made = GenerationScoring.__init__
    GenerationScoring.__init__ = lambda self, spec, *a, **k: loads.append(spec) or made(self, spec, *a, **k)
    try:
        audit = CliRunner().invoke(cli, ["audit", str(out)])
    finally:
        GenerationScoring.__init__ = made
    assert audit.exit_code == 0 and "clean:" in audit.output, audit.output[-3000:]
    assert len(loads) == 1  # the metrics and the trials rescore with one loaded scorer
    tuned["trials"][0]["score"] = tuned["trials"][0]["score"] + 0.5
    (out / "results.json").write_text(json.dumps(results))
    audit = CliRunner().invoke(cli, ["audit", str(out)])
    assert audit.exit_code != 0
    assert "few_shot_prompt tuning trial 0: score is" in audit.output, audit.output[-3000:]


def test_the_rules_answer_length_caps_the_baselines_defaults():
    """rules.budget.max_new_tokens: a built-in's default answer length (32) is cut to the cap by
    the plan; a length written in the spec stays (validate refuses one above the cap)."""
    from pathlib import Path

    from fairfight.baselines.catalogue import uses_for
    from fairfight.spec.check import check_file

    spec_file = Path(__file__).resolve().parents[1] / "specs/valid/capitals-levels.yaml"
    spec = check_file(spec_file, ["rules.budget.max_new_tokens=8",
                                  "baselines=[no_edit, {instruct: {params: {max_new_tokens: 5}}}]"]).spec
    params = {b.name: uses_for(spec, b)[1] for b in spec.baselines}
    assert params["no_edit"]["max_new_tokens"] == 8 and params["instruct"]["max_new_tokens"] == 5
    plain = check_file(spec_file).spec
    assert {b.name: uses_for(plain, b)[1]["max_new_tokens"] for b in plain.baselines} == {"no_edit": 32, "instruct": 32}
