"""A choice task end to end on a tiny random chat GPT-2: multiple-choice capitals questions scored by
`choice(answer, options=['A', 'B'])`. A contender's output is its log-probability of each option
(computed on the model server through its edits), the choice scorer on the trusted side gives 1
where the right option is the most likely; the built-in baselines answer with the same numbers as
the same thing written by hand, the batch check holds, and the audit rescores."""
import json
import math

import pytest

from generationkit import CAPITALS, tiny_chat_gpt2, write_capitals
from runner_fixtures import eval_here

CHOICE_METHODS = '''

@method
def choice_by_hand(ctx):
    """no_edit in a choice task, written out: log P(option | prompt) for each option, one prompt a call."""
    import json

    def answer(prompts, model):
        out = []
        for p in prompts:
            p = [{"role": "user", "content": p}] if ctx.model.chat else p  # asked as no_edit asks it
            lp = model.logprobs([p, p], ["A", "B"], split="evaluation")
            out.append(json.dumps({"A": round(float(lp[0]), 6), "B": round(float(lp[1]), 6)}))
        return out
    return ctx.predictors.function(answer)


@method
def steered_choice(ctx):
    import torch
    vector = torch.randn(ctx.model.hidden_size, generator=torch.Generator().manual_seed(1))
    edited = ctx.model.intervene([AddVector(1, vector, scale=40.0)])
    return ctx.predictors.generator(edited, options=["A", "B"])


@method
def always_a(ctx):
    return ctx.predictors.function(lambda prompts, model: ['{"A": 0, "B": -1}' for _ in prompts])


@method
def free_text(ctx):
    return ctx.predictors.generator(max_new_tokens=3)
'''


def _multiple_choice(folder):
    """The capitals questions as A/B questions: the right city is A in half of them."""
    rows = []
    for i, (country, city) in enumerate(CAPITALS):
        wrong = CAPITALS[(i + 1) % len(CAPITALS)][1]
        first, second = (city, wrong) if i % 2 == 0 else (wrong, city)
        for split, pressure in (("test", "none"), ("test", "wrong"), ("train", "none")):
            lead = f"I am sure it is {wrong}. " if pressure == "wrong" else ""
            rows.append({"text": f"{lead}What is the capital of {country}? (A) {first} (B) {second}",
                         "answer": "A" if i % 2 == 0 else "B", "pressure": pressure, "split": split})
    (folder / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture(scope="module")
def fought(tmp_path_factory):
    folder = tmp_path_factory.mktemp("choice")
    model = tiny_chat_gpt2(folder / "model")
    spec = write_capitals(folder / "fight", model, ["plain"], "",
                          "[no_edit, instruct: {params: {instruction: 'Pick the right letter.'}}, "
                          "few_shot_prompt: {params: {k: 2}}, finetune_lora: {params: {rank: 2, steps: 3, lr: 0.01}}]")
    _multiple_choice(spec.parent)
    (spec.parent / "methods.py").write_text((spec.parent / "methods.py").read_text() + CHOICE_METHODS)
    uses = "{model: [logprobs]}"
    text = (spec.read_text()
            .replace("scorer: scorers.py:mentions_answer", "scorer: \"choice(answer, options=['A', 'B'])\"")
            .replace("rules:\n  model: [generate, intervene]", "rules:\n  model: [generate, logprobs, intervene, finetune]")
            .replace("  plain: {run: methods.py:plain, uses: {model: [generate]}}",
                     f"  choice_by_hand: {{run: methods.py:choice_by_hand, uses: {uses}}}\n"
                     "  steered_choice: {run: methods.py:steered_choice, uses: {model: [logprobs, intervene]}}\n"
                     "  always_a: {run: methods.py:always_a, uses: {}}\n"
                     "  free_text: {run: methods.py:free_text, uses: {model: [generate]}}"))
    text += "claims:\n  - choice_by_hand beats always_a on score\n"
    spec.write_text(text)
    out = folder / "bundle"
    r = eval_here(str(spec), "--out", str(out), "--no-progress", "--no-cache")
    assert r.returncode in (0, 1), r.stdout[-3000:] + r.stderr[-3000:]
    runs = {run["label"]: run for run in json.loads((out / "results.json").read_text())["runs"]}
    return spec, out, runs


def _rows(out, run):
    return [json.loads(line) for line in (out / "runs" / run["key"] / "predictions.jsonl").read_text().splitlines()]


def test_outputs_are_log_probabilities_scored_by_the_right_option(fought):
    _, out, runs = fought
    evaluation = [json.loads(line) for line in (out / "evaluation.jsonl").read_text().splitlines()]
    assert {r["answer"] for r in evaluation} == {"A", "B"}
    for label in ("choice_by_hand", "steered_choice", "no_edit", "instruct", "few_shot_prompt", "finetune_lora",
                  "always_a"):
        run = runs[label]
        assert run["status"] == "succeeded", (label, run.get("error"))
        rows = _rows(out, run)
        given = [json.loads(r["prediction"]) for r in rows]
        assert all(set(g) == {"A", "B"} and all(math.isfinite(v) for v in g.values()) for g in given)
        if label != "always_a":  # log-probabilities: of two options, not both near 0
            assert all(v < 0 for g in given for v in g.values())
        expected = [float(g[e["answer"]] > g["B" if e["answer"] == "A" else "A"]) for g, e in zip(given, evaluation)]
        assert [r["score"] for r in rows] == expected
        assert run["metrics"]["score"] == pytest.approx(sum(expected) / len(expected))
        assert run["batch_check"]["differing"] == 0
    # always A: right exactly where A is
    assert [r["score"] for r in _rows(out, runs["always_a"])] == [float(e["answer"] == "A") for e in evaluation]


def test_no_edit_is_the_hand_written_choice_and_edits_change_the_numbers(fought):
    _, out, runs = fought
    assert [r["prediction"] for r in _rows(out, runs["no_edit"])] == \
        [r["prediction"] for r in _rows(out, runs["choice_by_hand"])]
    assert _rows(out, runs["steered_choice"]) != _rows(out, runs["no_edit"])
    assert _rows(out, runs["instruct"]) != _rows(out, runs["no_edit"])
    for name in ("no_edit", "instruct", "few_shot_prompt"):  # a choice task's baselines use logprobs, not generate
        assert runs[name]["grant"]["model"] == ["logprobs"] and runs[name]["params"]["options"] == ["A", "B"]
    assert runs["few_shot_prompt"]["params"]["answer"] == "answer"  # the demonstrations' answers: the letters
    assert runs["finetune_lora"]["grant"]["model"] == ["finetune", "logprobs"]  # tuned, then the options scored
    assert _rows(out, runs["finetune_lora"]) != _rows(out, runs["no_edit"])


def test_free_text_in_a_choice_task_scores_nothing(fought):
    _, out, runs = fought
    assert runs["free_text"]["status"] == "succeeded"
    assert all(r["score"] == 0.0 for r in _rows(out, runs["free_text"]))


def test_the_choice_bundle_audits_clean(fought):
    from click.testing import CliRunner

    from fairfight.cli import cli

    _, out, _ = fought
    r = CliRunner().invoke(cli, ["audit", str(out)])
    assert r.exit_code == 0 and "clean:" in r.output, r.output[-3000:]
