"""finetune(head="lm"): a causal LM fine-tuned on the trusted side on (prompt, answer) pairs, with
LoRA adapters (peft, merged afterwards) or every weight. A tiny random GPT-2 learns to answer its
demonstrations; the original handle is untouched; the same seed gives the same model."""
import pytest
import torch

from fairfight.errors import AffordanceError, FairfightError
from fairfight.evaluator.model_side.models import load_model
from generationkit import tiny_chat_gpt2

PAIRS = [("What is the capital of France?", " Paris"), ("What is the capital of Peru?", " Lima"),
         ("What is the capital of Japan?", " Tokyo"), ("What is the capital of Chile?", " Santiago")]
PROMPTS, ANSWERS = [p for p, _ in PAIRS], [a for _, a in PAIRS]


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory):
    return load_model(f"path:{tiny_chat_gpt2(tmp_path_factory.mktemp('lm-tuning'))}")


def _answer_logprob(handle):
    return float(handle.logprobs(PROMPTS, ANSWERS).sum())


def test_full_fine_tuning_learns_the_demonstrations_and_the_original_stays(gpt2, make_handle):
    handle, ledger = make_handle(gpt2, grant={"finetune", "generate", "logprobs"})
    before = handle.logprobs(PROMPTS, ANSWERS)
    plain = handle.generate(PROMPTS, max_new_tokens=10)
    tuned = handle.finetune(PROMPTS, ANSWERS, head="lm", steps=100, lr=3e-3, seed=0)
    assert _answer_logprob(tuned) > float(before.sum()) + 50  # far likelier after training
    learned = tuned.generate(PROMPTS, max_new_tokens=10)
    assert sum(text == answer for text, answer in zip(learned, ANSWERS)) >= 3, learned  # then stops (eos)
    assert torch.equal(handle.logprobs(PROMPTS, ANSWERS), before)  # a copy was trained
    assert handle.generate(PROMPTS, max_new_tokens=10) == plain
    (entry,) = [e for e in ledger.to_dict()["entries"] if e["op"] == "finetune"]
    assert entry["steps"] == 100


def test_lora_trains_adapters_that_move_the_model_toward_the_demonstrations(gpt2, make_handle):
    """LoRA of rank 8 on a 32-wide model learns slower than full fine-tuning (few parameters): the
    answers become likelier and the texts change, and the merged model is a plain GPT-2 again."""
    handle, _ = make_handle(gpt2, grant={"finetune", "generate", "logprobs"})
    before = float(handle.logprobs(PROMPTS, ANSWERS).sum())
    tuned = handle.finetune(PROMPTS, ANSWERS, head="lm", lora=8, steps=40, lr=1e-2, seed=0)
    assert _answer_logprob(tuned) > before + 5
    assert tuned.generate(PROMPTS, max_new_tokens=6) != handle.generate(PROMPTS, max_new_tokens=6)


def test_the_same_seed_gives_the_same_model_and_another_seed_another(gpt2, make_handle):
    handle, _ = make_handle(gpt2, grant={"finetune", "logprobs"})
    runs = [handle.finetune(PROMPTS, ANSWERS, head="lm", lora=2, steps=4, lr=1e-2, seed=s) for s in (0, 0, 1)]
    values = [handle_.logprobs(PROMPTS, ANSWERS) for handle_ in runs]
    assert torch.equal(values[0], values[1]) and not torch.equal(values[0], values[2])


def test_chat_prompts_are_rendered_with_the_template(gpt2, make_handle):
    handle, _ = make_handle(gpt2, grant={"finetune", "logprobs"})
    chats = [[{"role": "user", "content": p}] for p in PROMPTS]
    answers = [a.strip() for a in ANSWERS]
    before = float(handle.logprobs(chats, answers).sum())
    tuned = handle.finetune(chats, answers, head="lm", steps=20, lr=3e-3)
    assert float(tuned.logprobs(chats, answers).sum()) > before + 20


@pytest.mark.parametrize("kw, match", [
    ({"lora": 0}, "lora must be a rank"), ({"lora": True}, "lora must be a rank"),
    ({"lora": 4, "head": "linear"}, "lora= applies to head='lm'"), ({"head": "mlp"}, "'linear' or 'lm'"),
    ({"steps": 0}, "at least one step"),
])
def test_bad_arguments_are_refused(gpt2, make_handle, kw, match):
    handle, _ = make_handle(gpt2, grant={"finetune"})
    with pytest.raises(FairfightError, match=match):
        handle.finetune(PROMPTS, ANSWERS if kw.get("head", "lm") == "lm" else ["a", "b", "a", "b"],
                        **{"head": "lm", **kw})


def test_answers_must_pair_with_prompts_and_the_grant_is_checked(gpt2, make_handle):
    handle, _ = make_handle(gpt2, grant={"finetune"})
    with pytest.raises(FairfightError, match="one answer per prompt"):
        handle.finetune(PROMPTS, ANSWERS[:2], head="lm")
    refused, _ = make_handle(gpt2, grant={"generate"})
    with pytest.raises(AffordanceError, match="'finetune' is not granted"):
        refused.finetune(PROMPTS, ANSWERS, head="lm", lora=2)
