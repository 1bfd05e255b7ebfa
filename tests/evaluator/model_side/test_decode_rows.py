"""Batch-invariant decoding, bit for bit: a prompt's logits at every step are the same whichever
prompts (of any lengths) share its one-token passes, whichever row it gets and whenever it joins
them (decoding.py's slots, rows.py's row-by-row attention), on a tiny GPT-2 and a tiny Llama
(grouped-query attention) built here; and the decoding is the model's own."""
import random

import pytest
import torch

from testkit import bpe_tokenizer as _bpe_tokenizer
from fairfight.evaluator.model_side import generation, rows as row_passes
from fairfight.evaluator.model_side.generation import DECODE_ROWS, decode
from ggufkit import loaded_tiny_llama

STEPS = 6


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    return loaded_tiny_llama(tmp_path_factory.mktemp("rows-llama"), _bpe_tokenizer(), seed=5)


@pytest.fixture(autouse=True)
def two_threads():
    """At least 2 torch threads (a test worker gets 1): kernels that split rows between threads are
    where a row's last bits could depend on its place, and they split only with several."""
    before = torch.get_num_threads()
    torch.set_num_threads(max(2, before))
    yield
    torch.set_num_threads(before)


def _prompts(loaded, n, seed=0, low=3, high=20):
    rng = random.Random(seed)
    vocab = loaded.model.config.vocab_size
    return [[rng.randrange(3, vocab) for _ in range(rng.randrange(low, high))] for _ in range(n)]


def _logits(loaded, rows, stop=(), splits=None, memo=None, steps=STEPS):
    found = []
    with torch.no_grad():
        decode(loaded.model, rows, steps, "cpu", stop=set(stop), logits=found, splits=splits, memo=memo)
    return [torch.stack(s) for s in found]


@pytest.fixture(params=["gpt2", "llama"])
def loaded(request, gpt2, llama):
    return gpt2 if request.param == "gpt2" else llama


def test_both_tiny_models_are_decoded_in_rows(loaded):
    assert row_passes.serves(loaded.model)


def test_a_prompt_has_the_same_logits_in_any_row_and_company(loaded):
    others = _prompts(loaded, 20, seed=1)
    (target,) = _prompts(loaded, 1, seed=2)
    alone = _logits(loaded, [target])[0]
    assert alone.shape[0] == STEPS
    rng = random.Random(3)
    for row in range(DECODE_ROWS):  # every row, beside prompts of other lengths (and beside empty rows)
        company = rng.sample(others, rng.randrange(row, DECODE_ROWS + 3))
        rows = company[:row] + [target] + company[row:]
        assert torch.equal(_logits(loaded, rows)[row], alone), f"row {row} of {len(rows)}"


def test_a_prompt_that_joins_passes_under_way_has_the_same_logits(loaded):
    """Company that stops at different steps (stop tokens): the target waits for a free slot and joins
    passes that are under way, at any of several points."""
    others = _prompts(loaded, 24, seed=20)
    (target,) = _prompts(loaded, 1, seed=21)
    alone = _logits(loaded, [target], steps=10)[0]
    mine = set(alone.argmax(-1).tolist())
    firsts = [t for first in _logits(loaded, others, steps=4) for t in first.argmax(-1).tolist()[1:3]]
    stop = set(firsts) - mine  # the company's second and third tokens stop it, never the target's
    assert stop
    for before in (DECODE_ROWS, DECODE_ROWS + 3, 2 * DECODE_ROWS + 1):
        got = _logits(loaded, others[:before] + [target], stop=stop, steps=10)[before]
        assert torch.equal(got, alone), before


def test_the_decoding_is_the_models_own_greedy_decoding(loaded):
    """Slots and row-by-row attention change nothing but the last bits: each step's logits against
    the whole sequence recomputed without a cache."""
    rows = _prompts(loaded, 11, seed=8)
    found = []
    with torch.no_grad():
        outs = decode(loaded.model, rows, STEPS, "cpu", stop=set(), logits=found)
        for ids, new, steps in zip(rows, outs, found):
            for t, got in enumerate(steps):
                want = loaded.model(torch.tensor([ids + new[:t]])).logits[0, -1]
                assert torch.allclose(got, want, atol=1e-4), (len(ids), t)
                assert int(want.argmax()) == new[t]


def test_the_invariance_needs_the_fixed_row_count(loaded, monkeypatch):
    """The check above can fail: passes with as many rows as prompts (as a batch has) give a row
    other last bits beside more company (other kernels), which is why every pass has DECODE_ROWS."""
    from fairfight.evaluator.model_side import decoding

    others = _prompts(loaded, 31, seed=1)
    (target,) = _prompts(loaded, 1, seed=2)
    made = row_passes.Slots
    monkeypatch.setattr(row_passes, "Slots", lambda rows: made(len(current)))
    current = [target]
    alone = _logits(loaded, current)[0]
    diffs = []
    for count in (4, 8, 16, 32):
        current = others[: count - 1] + [target]
        diffs.append(not torch.equal(_logits(loaded, current)[-1], alone))
    assert any(diffs)
    assert decoding.DECODE_ROWS == DECODE_ROWS


def test_greedy_decodes_more_prompts_than_rows_of_mixed_lengths(loaded):
    """Fourteen prompts (more than the rows): each text is its own, in any order."""
    tok = loaded.tokenizer
    prompts = _prompts(loaded, 11, seed=4) + [[5, 6, 7], [8, 9, 10, 11], [12]]
    together = generation.greedy(loaded.model, tok, prompts, 5, device="cpu")
    for i, ids in enumerate(prompts):
        assert generation.greedy(loaded.model, tok, [ids], 5, device="cpu") == [together[i]]
    order = list(range(len(prompts)))
    random.Random(6).shuffle(order)
    assert generation.greedy(loaded.model, tok, [prompts[i] for i in order], 5, device="cpu") == \
        [together[i] for i in order]


def test_a_model_rows_does_not_serve_decodes_each_prompt_alone(loaded, monkeypatch):
    rows = _prompts(loaded, 3, seed=7)
    batched = _logits(loaded, rows)
    monkeypatch.setattr(row_passes, "serves", lambda model: False)
    alone = _logits(loaded, rows)
    assert [a.argmax(-1).tolist() for a in alone] == [b.argmax(-1).tolist() for b in batched]
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(alone, batched))


def test_row_attention_runs_only_inside_a_slots_pass(llama):
    with pytest.raises(RuntimeError, match="only inside"):
        row_passes._row_attention(None, torch.zeros(1, 2, 1, 4), torch.zeros(1, 2, 1, 4), None, None)


def test_the_model_keeps_its_own_attention_after_row_passes(llama):
    before = llama.model.config._attn_implementation
    _logits(llama, _prompts(llama, 2, seed=30))
    assert llama.model.config._attn_implementation == before != row_passes.ATTENTION


# -- a chat prompt's earlier turns: computed once per run, and changing nothing but the last bits --------------
def _split_rows(loaded, n, seed):
    """Prompts that share their first 11 tokens (as few-shot prompts share their demonstrations)."""
    head = _prompts(loaded, 1, seed=seed)[0][:11]
    tails = _prompts(loaded, n, seed=seed + 1)
    rows = [head + t[: 5 + i % 3] for i, t in enumerate(tails)]
    return rows, [len(head)] * n


def test_earlier_turns_give_the_models_own_decoding(loaded):
    rows, splits = _split_rows(loaded, 4, seed=10)
    found = []
    with torch.no_grad():
        outs = decode(loaded.model, rows, STEPS, "cpu", stop=set(), logits=found, splits=splits)
        for ids, new, steps in zip(rows, outs, found):
            for t, got in enumerate(steps):
                want = loaded.model(torch.tensor([ids + new[:t]])).logits[0, -1]
                assert torch.allclose(got, want, atol=1e-4), (len(ids), t)


def test_a_prompt_with_earlier_turns_has_the_same_logits_in_any_company(loaded):
    rows, splits = _split_rows(loaded, 6, seed=12)
    target, split = rows[0], splits[0]

    def logits(members, member_splits, memo=None):
        return _logits(loaded, members, splits=member_splits, memo=memo)

    alone = logits([target], [split])[0]
    # beside prompts sharing its turns, beside prompts without turns of their own, turns from the memo or not
    from fairfight.evaluator.model_side.run_memo import RunMemo

    memo = RunMemo()
    logits(rows[1:3], splits[1:3], memo)  # the turns computed and remembered
    plain = _prompts(loaded, 2, seed=14)
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
            decode(loaded.model, rows[:3], 2, "cpu", stop=set(), splits=splits[:3], memo=memo)
            decode(loaded.model, rows[3:], 2, "cpu", stop=set(), splits=splits[3:], memo=memo)
            assert widths.count(splits[0]) == 1  # one pass of the shared turns for five prompts, two calls
            decode(loaded.model, rows[3:], 2, "cpu", stop=set(), splits=splits[3:], memo=RunMemo())
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


@pytest.mark.parametrize("model_type", sorted(row_passes.MODEL_TYPES))
def test_each_family_decoded_in_rows_is_the_models_own_decoding(model_type):
    """Every model type rows.py serves, built tiny here: the same greedy tokens and logits (to the
    last bits) as the model computing each whole sequence without a cache."""
    from transformers import AutoConfig, AutoModelForCausalLM

    small = dict(vocab_size=97, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, max_position_embeddings=64, n_embd=32, n_layer=2, n_head=4, n_positions=64)
    config = AutoConfig.for_model(model_type, **small)
    if getattr(config, "sliding_window", None) and getattr(config, "use_sliding_window", None) is not False:
        window = AutoModelForCausalLM.from_config(config)
        assert not row_passes.serves(window)  # a window this file does not compute: each prompt alone
        config.sliding_window = None
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config).eval()
    assert row_passes.serves(model)
    rng = random.Random(40)
    rows = [[rng.randrange(3, 97) for _ in range(rng.randrange(2, 12))] for _ in range(10)]
    found = []
    with torch.no_grad():
        outs = decode(model, rows, 5, "cpu", stop=set(), logits=found)
        for ids, new, steps in zip(rows, outs, found):
            for t, got in enumerate(steps):
                want = model(torch.tensor([ids + new[:t]])).logits[0, -1]
                assert torch.allclose(got, want, atol=1e-4), (model_type, len(ids), t)
                assert int(want.argmax()) == new[t]
