"""Chat prompts: checked as hostile input, rendered with the model's own template on the trusted side."""
import pytest

from testkit import bpe_tokenizer as _bpe_tokenizer
from fairfight.errors import FairfightError
from fairfight.evaluator.model_side import wire
from fairfight.evaluator.model_side.models import load_model
from fairfight.evaluator.model_side.prompts import MAX_TURNS, check_prompts, render
from ggufkit import CHAT_TEMPLATE, tiny_llama

CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "the surgeon"}]


@pytest.fixture(scope="module")
def chat_model(tmp_path_factory):
    """A tiny Llama saved with a chat template, loaded through path:."""
    folder = tmp_path_factory.mktemp("chat-llama")
    tok = _bpe_tokenizer()
    tok.chat_template = CHAT_TEMPLATE
    tiny_llama(tok).save_pretrained(folder)
    tok.save_pretrained(folder)
    return load_model(f"path:{folder}")


@pytest.mark.parametrize("prompts, match", [
    ("one text", "not a single str"),
    ({"role": "user", "content": "x"}, "not a single dict"),
    (42, "must be a list of prompts"),
    ([3], r"prompts\[0\] must be a text or a list of chat messages"),
    ([[]], "needs at least one message"),
    ([[{"role": "root", "content": "x"}]], "role 'root' is not one of system, user, assistant"),
    ([[{"role": "user", "content": b"x"}]], "content must be a string"),
    ([[{"role": "user", "content": "x", "name": "eve"}]], "exactly the keys 'role' and 'content'"),
    ([[{"role": "user"}]], "exactly the keys"),
    ([[("role", "user")]], "exactly the keys"),
    ([[{"role": "user", "content": "x"}] * (MAX_TURNS + 1)], "at most 256"),
])
def test_malformed_prompts_are_refused(prompts, match):
    with pytest.raises(FairfightError, match=match):
        check_prompts(prompts)


def test_messages_are_copied_as_plain_dicts():
    (checked,) = check_prompts([CHAT])
    assert checked == tuple(CHAT) and all(type(t) is dict for t in checked)


def test_rendered_with_the_models_template(chat_model):
    texts, templated = render(chat_model.tokenizer, check_prompts([CHAT, [{"role": "user", "content": "hi"}]]))
    assert texts == ["<|system|>Be brief.\n<|user|>the surgeon\n<|assistant|>", "<|user|>hi\n<|assistant|>"]
    assert templated
    assert render(chat_model.tokenizer, ["plain"]) == (["plain"], False)


def test_one_call_takes_texts_or_chats_not_both(chat_model):
    with pytest.raises(FairfightError, match="not both"):
        render(chat_model.tokenizer, check_prompts(["plain", CHAT]))


def test_a_model_without_a_chat_template_refuses_chat_prompts(gpt2):
    with pytest.raises(FairfightError, match="need a chat template, and this model.s tokenizer has none"):
        render(gpt2.tokenizer, check_prompts([CHAT]))


def test_chat_prompts_cross_the_wire_and_generate_like_their_text(chat_model, make_handle):
    sent = wire.decode(wire.encode({"prompts": [CHAT]}))["prompts"]  # what the model server receives
    handle, ledger = make_handle(chat_model, grant={"generate", "logprobs"})
    rendered = "<|system|>Be brief.\n<|user|>the surgeon\n<|assistant|>"
    assert handle.generate(sent, max_new_tokens=4) == handle.generate([rendered], max_new_tokens=4)
    lp_chat = handle.logprobs(sent, [" nurse"])
    lp_text = handle.logprobs([rendered], [" nurse"])
    assert float(lp_chat[0]) == pytest.approx(float(lp_text[0]), abs=1e-5)
    assert ledger.used()[0] == 4  # each call charged its one prompt


def test_a_template_that_refuses_the_turns_is_a_clear_error(chat_model, make_handle):
    handle, _ = make_handle(chat_model, grant={"generate"})
    tok = chat_model.tokenizer
    old = tok.chat_template
    tok.chat_template = "{{ raise_exception('two system turns') }}"
    try:
        with pytest.raises(FairfightError, match="cannot render these messages: two system turns"):
            handle.generate([CHAT], max_new_tokens=2)
    finally:
        tok.chat_template = old


ANSWERED = [{"role": "user", "content": "the surgeon"}, {"role": "assistant", "content": "Rome"}]


def test_a_prompt_ending_with_the_assistant_leaves_its_turn_open(chat_model):
    """A prefilled answer: the model continues it (and a read's last token is the answer's)."""
    texts, templated = render(chat_model.tokenizer, check_prompts([ANSWERED, CHAT]))
    assert texts == ["<|user|>the surgeon\n<|assistant|>Rome", "<|system|>Be brief.\n<|user|>the surgeon\n<|assistant|>"]
    assert templated


def test_reads_of_chat_prompts_are_reads_of_their_rendered_text(chat_model, make_handle):
    """embed and activations take chat prompts as generate does: the states of the text the model
    answers (contrastive activation addition reads them at a prefilled answer's last token)."""
    import torch

    handle, ledger = make_handle(chat_model, grant={"embed", "activations", "generate"})
    sent = wire.decode(wire.encode({"texts": [CHAT, ANSWERED]}))["texts"]
    rendered = ["<|system|>Be brief.\n<|user|>the surgeon\n<|assistant|>", "<|user|>the surgeon\n<|assistant|>Rome"]
    for pool in ("last", "mean"):
        chat = handle.activations(sent, layers=[1], pool=pool)[1]
        text = handle.activations(rendered, layers=[1], pool=pool)[1]
        assert torch.equal(chat, text) and chat.shape[0] == 2
    assert torch.equal(handle.embed(sent), handle.embed(rendered))
    assert handle.generate([ANSWERED], max_new_tokens=3) == handle.generate([rendered[1]], max_new_tokens=3)
    plain = handle.activations(["the surgeon"], layers=[1], pool="last")[1]
    assert not torch.equal(plain, handle.activations([[{"role": "user", "content": "the surgeon"}]], layers=[1],
                                                     pool="last")[1])  # the template is really applied
    with pytest.raises(FairfightError, match="not both"):
        handle.activations(["plain", CHAT], layers=[1])


def test_generate_charges_its_tokens_and_keeps_to_the_answer_length(chat_model, make_handle, forward_counter):
    """rules.budget: generated_tokens (prompts x max_new_tokens, outside the evaluation) and
    max_new_tokens (per prompt): a call over either is refused before the model runs."""
    from fairfight.errors import BudgetExceeded
    from fairfight.evaluator.model_side.ledger import Budget

    handle, ledger = make_handle(chat_model, grant={"generate"}, budget=Budget(generated_tokens=10, max_new_tokens=4))
    passes = forward_counter(chat_model)
    handle.generate(["a", "b"], max_new_tokens=4)
    assert ledger.generated() == 8
    before = passes[0]
    with pytest.raises(BudgetExceeded, match="generated_tokens"):
        handle.generate(["c"], max_new_tokens=3)
    with pytest.raises(BudgetExceeded, match="at most 4 new tokens per prompt, asked for 5"):
        handle.generate(["c"], max_new_tokens=5)
    assert passes[0] == before > 0  # refused: nothing ran
    handle.generate(["c"], max_new_tokens=2)
    assert ledger.totals()["generated_tokens"] == 10
