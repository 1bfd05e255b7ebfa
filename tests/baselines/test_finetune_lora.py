"""The finetune_lora baseline in a whole generation eval on a tiny random chat GPT-2: fine-tuned on
the granted split's (prompt, answer) pairs on the model server (LoRA adapters, rank from params),
granted exactly finetune + generate and the split's text and answer columns, and answering the
evaluation prompts with the tuned model."""
import json

import pytest

from fairfight.baselines import generating
from generationkit import tiny_chat_gpt2, write_capitals, eval_bundle, run_texts

BASELINES = ("[no_edit: {params: {max_new_tokens: 6}}, "
             "finetune_lora: {params: {answer: answer, rank: 4, steps: 6, lr: 0.01, max_new_tokens: 6}}]")


@pytest.fixture(scope="module")
def fought(tmp_path_factory):
    folder = tmp_path_factory.mktemp("finetune-lora")
    model = tiny_chat_gpt2(folder / "model")
    spec = write_capitals(folder / "fight", model, ["plain"], "", BASELINES)
    spec.write_text(spec.read_text().replace("rules:\n  model: [generate, intervene]",
                                             "rules:\n  model: [generate, intervene, finetune]"))
    return eval_bundle(spec, folder / "bundle")


_texts = run_texts


def test_finetune_lora_trains_on_the_server_and_answers_with_the_tuned_model(fought):
    out, runs = fought
    run = runs["finetune_lora"]
    assert run["status"] == "succeeded", run.get("error")
    assert run["grant"] == {"model": ["finetune", "generate"], "data": {"train": ["answer", "text"]}, "knowledge": []}
    assert run["params"]["rank"] == 4 and run["params"]["split"] == "train" and run["params"]["options"] is None
    ledger = json.loads((out / "runs" / run["key"] / "ledger.json").read_text())
    (tuning,) = [e for e in ledger["entries"] if e["op"] == "finetune"]
    assert tuning["steps"] == 6 and tuning["examples"] > 0
    assert set(run["ledger"]["ops"]) == {"finetune", "generate"}
    assert _texts(out, run) != _texts(out, runs["no_edit"])  # the tuned model answers otherwise
    assert run["batch_check"]["differing"] == 0


def test_demonstrations_are_asked_as_the_other_baselines_ask():
    assert generating._asked("Q: {text}", "Capital of Peru?", chat=True) == [
        {"role": "user", "content": "Q: Capital of Peru?"}]
    assert generating._asked("Q: {text}", "Capital of Peru?", chat=False) == "Q: Capital of Peru?"
