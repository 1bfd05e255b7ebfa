"""Batch-invariant decoding, bit for bit: a prompt's logits at every step are the same whichever
prompts (of other lengths within its width) share its one-token passes and whichever row it gets
(generation.py's DECODE_ROWS rows with the math attention), on a tiny GPT-2 and a tiny Llama
(grouped-query attention) built here; and the padded decoding is the model's own."""
import random

import pytest
import torch

from conftest import _bpe_tokenizer
from fairfight.evaluator.model_side import decoding, generation
from fairfight.evaluator.model_side.generation import DECODE_ROWS, PAD_TO, decode_rows, width
from ggufkit import loaded_tiny_llama

STEPS = 6


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    return loaded_tiny_llama(tmp_path_factory.mktemp("rows-llama"), _bpe_tokenizer(), seed=5)


@pytest.fixture(autouse=True)
def two_threads():
    """At least 2 torch threads (a test worker gets 1): the fused kernel's dependence on which thread
    computed a row is what the math attention is for, and shows only with several."""
    before = torch.get_num_threads()
    torch.set_num_threads(max(2, before))
    yield
    torch.set_num_threads(before)


def _prompts(loaded, n, seed=0):
    rng = random.Random(seed)
    vocab = loaded.model.config.vocab_size
    # lengths PAD_TO + 0 .. PAD_TO + PAD_TO - 1: one width, from no pad token up to the most
    return [[rng.randrange(3, vocab) for _ in range(PAD_TO + rng.randrange(PAD_TO))] for _ in range(n)]


def _logits(loaded, rows):
    found = []
    with torch.no_grad():
        decode_rows(loaded.model, rows, STEPS, "cpu", stop=set(), logits=found)
    return [torch.stack(steps) for steps in found]


@pytest.fixture(params=["gpt2", "llama"])
def loaded(request, gpt2, llama):
    return gpt2 if request.param == "gpt2" else llama


def test_a_prompt_has_the_same_logits_in_any_rows_and_company(loaded):
    others = _prompts(loaded, 20, seed=1)
    (target,) = _prompts(loaded, 1, seed=2)
    alone = _logits(loaded, [target])[0]
    assert alone.shape[0] == STEPS
    rng = random.Random(3)
    for row in range(DECODE_ROWS):  # every row, beside other prompts (and beside fill rows)
        company = rng.sample(others, rng.randrange(row, DECODE_ROWS))
        rows = company[:row] + [target] + company[row:]
        assert torch.equal(_logits(loaded, rows)[row], alone), f"row {row} of {len(rows)}"


def test_the_padded_decoding_is_the_models_own_greedy_decoding(loaded):
    """Left pads, the mask and the positions change nothing but the last bits: each step's logits
    against the whole unpadded sequence recomputed without a cache."""
    rows = _prompts(loaded, 5, seed=8)
    assert len({width(len(r)) for r in rows}) == 1 and len({len(r) for r in rows}) > 1
    found = []
    with torch.no_grad():
        outs = decode_rows(loaded.model, rows, STEPS, "cpu", stop=set(), logits=found, pad=1)
        for ids, new, steps in zip(rows, outs, found):
            for t, got in enumerate(steps):
                want = loaded.model(torch.tensor([ids + new[:t]])).logits[0, -1]
                assert torch.allclose(got, want, atol=1e-4), (len(ids), t)
                assert int(want.argmax()) == new[t]


def test_the_invariance_needs_the_math_attention(loaded, monkeypatch):
    """The check above can fail: PyTorch's fused CPU attention gives rows computed on another
    thread other last bits (the reason generation.py asks for the math attention)."""
    from contextlib import nullcontext

    monkeypatch.setattr(torch.nn.attention, "sdpa_kernel", lambda *a, **k: nullcontext())
    others = _prompts(loaded, DECODE_ROWS, seed=1)
    (target,) = _prompts(loaded, 1, seed=2)
    alone = _logits(loaded, [target])[0]
    diffs = [not torch.equal(_logits(loaded, others[:row] + [target] + others[row:DECODE_ROWS - 1])[row], alone)
             for row in range(DECODE_ROWS)]
    assert any(diffs)


def test_greedy_decodes_groups_larger_than_the_rows_and_mixed_lengths(loaded):
    """Eleven prompts of one length (two groups) and three of others: each text is its own, in any order."""
    tok = loaded.tokenizer
    prompts = _prompts(loaded, 11, seed=4) + [[5, 6, 7], [8, 9, 10, 11], [12]]
    together = generation.greedy(loaded.model, tok, prompts, 5, device="cpu")
    for i, ids in enumerate(prompts):
        assert generation.greedy(loaded.model, tok, [ids], 5, device="cpu") == [together[i]]
    order = list(range(len(prompts)))
    random.Random(6).shuffle(order)
    assert generation.greedy(loaded.model, tok, [prompts[i] for i in order], 5, device="cpu") == \
        [together[i] for i in order]


def test_a_cache_it_cannot_stack_decodes_each_prompt_alone(loaded, monkeypatch):
    rows = _prompts(loaded, 3, seed=7)
    batched = _logits(loaded, rows)
    monkeypatch.setattr(decoding, "_stacked", lambda caches, rows: None)
    alone = _logits(loaded, rows)
    assert [a.argmax(-1).tolist() for a in alone] == [b.argmax(-1).tolist() for b in batched]
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(alone, batched))


def test_decode_rows_refuses_mixed_lengths_and_too_many_rows(gpt2):
    with pytest.raises(ValueError, match="prompts of one width"):
        decode_rows(gpt2.model, [[1, 2], [1] * 9], 2, "cpu", stop=set())
    with pytest.raises(ValueError, match="prompts of one width"):
        decode_rows(gpt2.model, [[1, 2]] * (DECODE_ROWS + 1), 2, "cpu", stop=set())


# -- a chat prompt's earlier turns: computed once per run, and changing nothing but the last bits --------------
def _split_rows(loaded, n, seed):
    """Prompts that share their first 11 tokens (as few-shot prompts share their demonstrations)."""
    head = _prompts(loaded, 1, seed=seed)[0][:11]
    tails = _prompts(loaded, n, seed=seed + 1)
    rows = [head + t[: PAD_TO - 3 + i % 3] for i, t in enumerate(tails)]
    return rows, [len(head)] * n


def test_earlier_turns_give_the_models_own_decoding(loaded):
    rows, splits = _split_rows(loaded, 4, seed=10)
    found = []
    with torch.no_grad():
        outs = decode_rows(loaded.model, rows, STEPS, "cpu", stop=set(), logits=found, pad=1, splits=splits)
        for ids, new, steps in zip(rows, outs, found):
            for t, got in enumerate(steps):
                want = loaded.model(torch.tensor([ids + new[:t]])).logits[0, -1]
                assert torch.allclose(got, want, atol=1e-4), (len(ids), t)


def test_a_prompt_with_earlier_turns_has_the_same_logits_in_any_company(loaded):
    rows, splits = _split_rows(loaded, 6, seed=12)
    target, split = rows[0], splits[0]

    def logits(members, member_splits, memo=None):
        found = []
        with torch.no_grad():
            decode_rows(loaded.model, members, STEPS, "cpu", stop=set(), logits=found, splits=member_splits, memo=memo)
        return [torch.stack(s) for s in found]

    alone = logits([target], [split])[0]
    # beside prompts sharing its turns, beside prompts without turns of their own, turns from the memo or not
    from fairfight.evaluator.model_side.run_memo import RunMemo

    memo = RunMemo()
    logits(rows[1:3], splits[1:3], memo)  # the turns computed and remembered
    plain = [r for r in _prompts(loaded, 6, seed=14) if width(len(r)) == width(len(target))][:2]
    assert torch.equal(logits(rows[3:5] + [target], splits[3:5] + [split], memo)[2], alone)
    assert torch.equal(logits(plain + [target], [0] * len(plain) + [split])[len(plain)], alone)


def test_earlier_turns_are_computed_once_per_run(loaded):
    from fairfight.evaluator.model_side.run_memo import RunMemo

    rows, splits = _split_rows(loaded, 5, seed=16)
    widths = []
    hook = loaded.model.base_model.register_forward_pre_hook(
        lambda m, args, kwargs: widths.append((kwargs.get("input_ids") if "input_ids" in kwargs else args[0]).shape[1]),
        with_kwargs=True)
    try:
        memo = RunMemo()
        with torch.no_grad():
            decode_rows(loaded.model, rows[:3], 2, "cpu", stop=set(), splits=splits[:3], memo=memo)
            decode_rows(loaded.model, rows[3:], 2, "cpu", stop=set(), splits=splits[3:], memo=memo)
            assert widths.count(splits[0]) == 1  # one pass of the shared turns for five prompts, two calls
            decode_rows(loaded.model, rows[3:], 2, "cpu", stop=set(), splits=splits[3:], memo=RunMemo())
            assert widths.count(splits[0]) == 2  # another run: its own
    finally:
        hook.remove()


def test_turn_prefix_is_the_earlier_turns_when_they_are_a_prefix(tmp_path):
    from fairfight.evaluator.model_side.prompts import render, turn_prefix
    from ggufkit import CHAT_TEMPLATE

    tok = _bpe_tokenizer()
    tok.chat_template = CHAT_TEMPLATE
    demos = [{"role": "user", "content": "the nurse"}, {"role": "assistant", "content": "she"}]
    prompt = tuple(demos + [{"role": "user", "content": "the surgeon"}])
    (text,), _ = render(tok, [prompt])
    ids = tok(text, add_special_tokens=False)["input_ids"]
    head = tok(tok.apply_chat_template(demos, tokenize=False), add_special_tokens=False)["input_ids"]
    assert turn_prefix(tok, prompt, ids) == len(head) > 0 and ids[:len(head)] == head
    assert turn_prefix(tok, prompt[-1:], ids) == 0  # one turn: nothing earlier
    assert turn_prefix(tok, "a text", ids) == 0
    assert turn_prefix(tok, prompt, [ids[0] + 1] + ids[1:]) == 0  # not a prefix of these tokens


def test_served_generate_computes_shared_demonstrations_once(tmp_path_factory, make_handle, monkeypatch):
    from fairfight.evaluator.model_side import model_handle
    from ggufkit import CHAT_TEMPLATE

    chat = loaded_tiny_llama(tmp_path_factory.mktemp("rows-chat"), _bpe_tokenizer(), seed=9, chat_template=CHAT_TEMPLATE)
    demos = [{"role": "user", "content": "nurse"}, {"role": "assistant", "content": "she"}]
    prompts = [demos + [{"role": "user", "content": q}] for q in ("my friend", "a cat", "the nurse")]
    handle, _ = make_handle(chat, grant={"generate"})
    texts = handle.generate(prompts, max_new_tokens=5)
    states = handle._ModelHandle__memo._states[chat.model]
    assert len(states) == 1  # the demonstrations: one state for three prompts
    monkeypatch.setattr(model_handle, "turn_prefix", lambda tok, prompt, ids: 0)
    whole, _ = make_handle(chat, grant={"generate"})
    assert whole.generate(prompts, max_new_tokens=5) == texts  # computed whole: the same texts
