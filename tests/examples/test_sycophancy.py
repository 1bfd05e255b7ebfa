"""The generation example (examples/sycophancy) end to end on a tiny random chat GPT-2 in place of
SmolLM2: every contender runs under its grant, the claims on plain and pressured questions are
judged, and the CAA method's steering vector is the one an independent re-implementation with
plain transformers computes (the mean difference of the residual stream at the prefilled answers'
last token)."""
import json
import re
from pathlib import Path

import pytest

from generationkit import tiny_chat_gpt2
from runner_fixtures import eval_here

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "examples/sycophancy/spec.yaml"
LAYER = 1
BASELINES = ("[{no_edit: {params: {max_new_tokens: 4}}}, {instruct: {params: {max_new_tokens: 4}}}, "
             "{few_shot_prompt: {params: {max_new_tokens: 4, k: 2}}}, "
             "{finetune_lora: {params: {max_new_tokens: 4, epochs: 1, rank: 2}}}]")


@pytest.fixture(scope="module")
def fought(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sycophancy")
    model = tiny_chat_gpt2(folder / "model", init_range=0.3)
    out = folder / "bundle"
    sets = [f"model.source=path:{model}", "datasets.caps.options.size=4", "datasets.caps.options.train_size=6",
            "evaluate.seeds=1", "evaluate.resample=none", "rules.budget.trials=1", f"methods.caa.params.layer={LAYER}",
            "methods.caa.params.max_new_tokens=4", f"baselines={BASELINES}"]
    r = eval_here(str(SPEC), "--out", str(out), "--no-progress", *[a for s in sets for a in ("--set", s)])
    assert r.returncode in (0, 1), r.stdout[-3000:] + r.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    return out, model, {run["label"]: run for run in results["runs"]}, results


def test_every_contender_runs_under_its_grant(fought):
    _, _, runs, _ = fought
    assert set(runs) == {"caa", "no_edit", "instruct", "few_shot_prompt", "finetune_lora", "random_direction(caa)",
                         "random_model(caa)"}
    for label, run in runs.items():
        assert run["status"] == "succeeded", (label, run.get("error"))
        assert run["ledger"]["refused"] == []
        assert set(run["metrics"]) == {"score(pressure=insistent)", "score(pressure=neutral)", "score"}
    assert runs["caa"]["grant"]["data"] == {"train": ["answer", "suggested", "text"]}


def test_the_claims_on_both_kinds_of_question_are_judged(fought):
    _, _, runs, results = fought
    verdicts = {v["claim"]: v for v in results["verdicts"]}
    assert len(verdicts) == 4
    assert all(v["verdict"] in ("supported", "not-supported", "inconclusive") for v in verdicts.values())
    plain = verdicts["caa matches no_edit on score(pressure=neutral) within 0.05"]
    (c,) = plain["comparisons"]
    assert c["subject_value"] == pytest.approx(runs["caa"]["metrics"]["score(pressure=neutral)"])


def test_the_steering_vector_is_the_mean_difference_at_the_answers_last_token(fought):
    """Re-implemented with transformers alone: the chat template with the answer's turn left open,
    hidden_states[LAYER] at the last token, right answer minus suggested city, averaged over the
    training questions the user pushed; compared with the vector the run's ledger says it added."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from fairfight.data.builtin import generate

    out, model_dir, runs, _ = fought
    tok, lm = AutoTokenizer.from_pretrained(model_dir), AutoModelForCausalLM.from_pretrained(model_dir).eval()
    pushed = [r for r in generate("capitals", {"size": 4, "train_size": 6})["train"] if r["suggested"]]

    def state(row, answer):
        text = tok.apply_chat_template([{"role": "user", "content": row["text"]},
                                        {"role": "assistant", "content": f"The capital is {answer}."}],
                                       continue_final_message=True, tokenize=False)
        with torch.no_grad():
            return lm(**tok(text, return_tensors="pt"), output_hidden_states=True).hidden_states[LAYER][0, -1]

    expected = torch.stack([state(r, r["answer"]) - state(r, r["suggested"]) for r in pushed]).mean(0)
    ledger = json.loads((out / "runs" / runs["caa"]["key"] / "ledger.json").read_text())
    added = [e for entry in ledger["entries"] for e in entry.get("edits", []) if e["type"] == "add_vector"]
    assert added and all(e["layer"] == LAYER and e["positions"] == "generated" for e in added)
    from fairfight.evaluator.model_side.edits import AddVector

    assert torch.allclose(torch.tensor(AddVector.from_dict(added[0]).vector), expected, atol=1e-4)
    assert f"from {len(pushed)} pairs" in (out / "runs" / runs["caa"]["key"] / "log.txt").read_text()


def test_the_report_shows_each_contenders_answers_beside_their_scores_in_chromium(fought, tmp_path):
    """report.html of the generation fight, rendered by headless Chromium (offline): no console
    error, both per-kind scores in the page, and for every contender a few generated answers, each
    beside the score the rules' scorer gave it."""
    import html

    from chromium_kit import chromium, console_errors

    out, _, runs, _ = fought
    r = chromium(tmp_path, "--dump-dom", "--window-size=1400,3000", (out / "report.html").as_uri())
    assert "</html>" in r.stdout, r.stderr[-3000:]
    assert not console_errors(r.stderr), console_errors(r.stderr)
    dom = html.unescape(r.stdout)
    assert "score(pressure=insistent)" in dom and "score(pressure=neutral)" in dom
    shown = {}
    for block in re.findall(r'<details class="examples">(.*?)</details>', dom, re.S):
        label = re.search(r"<strong>(.*?)</strong>", block).group(1)
        pairs = re.findall(r'<q class="generated">(.*?)</q></td><td class="num">([0-9.]+)</td>', block, re.S)
        shown[label] = pairs
    assert set(shown) == set(runs), (set(shown), set(runs))
    for label, pairs in shown.items():
        assert pairs and all(score in ("0.000", "1.000") for _, score in pairs), (label, pairs[:3])
    predicted = [json.loads(line)["prediction"] for line in
                 (out / "runs" / runs["caa"]["key"] / "predictions.jsonl").read_text().splitlines()]
    assert all(text in predicted for text, _ in shown["caa"])  # the run's own answers, not made-up ones
