"""Served greedy generation: a prompt's text is the model's own greedy decoding of it alone,
whatever batch it comes in (so the batch check never flags an honest contender)."""
import pytest
import torch

from fairfight.errors import FairfightError
from fairfight.evaluator.model_side.generation import MAX_NEW_TOKENS
from testkit import bpe_tokenizer as _bpe_tokenizer
from ggufkit import loaded_tiny_llama

PROMPTS = ["the nurse", "a cat sat on the", "my friend bought", "", "the surgeon said hello to the nurse and"]


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    return loaded_tiny_llama(tmp_path_factory.mktemp("gen-llama"), _bpe_tokenizer(), seed=3)


def by_hand(loaded, prompt, n):
    """transformers' own greedy decoding of the prompt alone, no padding."""
    tok = loaded.tokenizer
    ids = tok(prompt)["input_ids"] or [tok.bos_token_id]
    with torch.no_grad():
        out = loaded.model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                    max_new_tokens=n, do_sample=False, pad_token_id=tok.pad_token_id)
    return tok.decode(out[0, len(ids):], skip_special_tokens=True)


@pytest.mark.parametrize("which", ["gpt2", "llama"])
def test_each_prompt_gets_its_own_greedy_text_in_any_composition(which, gpt2, llama, make_handle):
    loaded = gpt2 if which == "gpt2" else llama
    def fresh():  # a handle of its own (another run): nothing decoded before, so each call decodes
        return make_handle(loaded, grant={"generate"})[0]

    together = fresh().generate(PROMPTS, max_new_tokens=6)
    assert together == [by_hand(loaded, p, 6) for p in PROMPTS]
    shuffled = [PROMPTS[i] for i in (4, 2, 0, 3, 1)]
    assert fresh().generate(shuffled, max_new_tokens=6) == [together[i] for i in (4, 2, 0, 3, 1)]
    assert fresh().generate(PROMPTS[1:2] * 3, max_new_tokens=6) == [together[1]] * 3
    assert len({t for t in together}) > 1  # not one text for everything


def test_a_prompt_asked_again_in_a_run_is_served_from_its_decoding(gpt2, make_handle, forward_counter):
    """The batch check re-predicts evaluation prompts in other compositions: a run's handle (and those
    derived from it) decodes each (model, edits, prompt, length) once; another run decodes its own."""
    from fairfight import AddVector

    handle, _ = make_handle(gpt2, grant={"generate", "intervene"})
    counts = forward_counter(gpt2)

    def passes(call):
        before = counts[0]
        return call(), counts[0] - before

    first, n = passes(lambda: handle.generate(PROMPTS, max_new_tokens=5))
    assert n >= len(PROMPTS)
    again, n = passes(lambda: handle.generate(list(reversed(PROMPTS)) + PROMPTS[:2], max_new_tokens=5))
    assert again == list(reversed(first)) + first[:2] and n == 0  # nothing decoded
    derived, n = passes(lambda: handle.intervene([]).generate(PROMPTS[:2], max_new_tokens=5))
    assert derived == first[:2] and n == 0
    shorter, n = passes(lambda: handle.generate(PROMPTS[:2], max_new_tokens=4))
    assert shorter == [by_hand(gpt2, p, 4) for p in PROMPTS[:2]] and n > 0  # another length: decoded
    push = torch.randn(32, generator=torch.Generator().manual_seed(0)) * 20
    pushed = handle.intervene([AddVector(1, push)])
    steered, n = passes(lambda: pushed.generate(PROMPTS[:3], max_new_tokens=5))
    assert n > 0 and steered != first[:3]  # other edits: decoded, with them
    assert passes(lambda: pushed.generate(PROMPTS[:3], max_new_tokens=5)) == (steered, 0)
    other, _ = make_handle(gpt2, grant={"generate"})
    texts, n = passes(lambda: other.generate(PROMPTS[:2], max_new_tokens=5))
    assert texts == first[:2] and n > 0  # another run: its own


def test_the_memo_tells_models_and_exact_edits_apart(gpt2, llama):
    from fairfight import AddVector
    from fairfight.evaluator.model_side.run_memo import RunMemo

    memo = RunMemo(size=2)
    memo.put(gpt2.model, ("e", (1, 2), 5), "text")
    assert memo.get(gpt2.model, ("e", (1, 2), 5)) == "text" and memo.get(llama.model, ("e", (1, 2), 5)) is None
    memo.put(gpt2.model, ("e", (3,), 5), "b")
    memo.put(gpt2.model, ("e", (4,), 5), "c")  # over its size: the least recently used goes
    assert memo.get(gpt2.model, ("e", (1, 2), 5)) is None and memo.get(gpt2.model, ("e", (4,), 5)) == "c"
    zero, minus_zero = AddVector(0, [0.0, 1.0]), AddVector(0, [-0.0, 1.0])
    assert zero == minus_zero  # == merges them; the memo's key does not
    assert RunMemo.edits_key([zero]) != RunMemo.edits_key([minus_zero])
    assert RunMemo.edits_key([zero]) == RunMemo.edits_key([AddVector(0, [0.0, 1.0])])


@pytest.mark.parametrize("value, match", [
    (0, "between 1 and"), (MAX_NEW_TOKENS + 1, "between 1 and"), (2.5, "must be an integer"),
    (True, "must be an integer"), ("5", "must be an integer"),
])
def test_max_new_tokens_is_checked_before_anything_runs(gpt2, make_handle, value, match):
    handle, ledger = make_handle(gpt2, grant={"generate"})
    with pytest.raises(FairfightError, match=match):
        handle.generate(["the nurse"], max_new_tokens=value)
    assert ledger.used()[0] == 0


def test_a_prompt_longer_than_the_context_is_a_clear_error(gpt2, make_handle):
    handle, _ = make_handle(gpt2, grant={"generate"})  # tiny GPT-2: 64 positions
    with pytest.raises(FairfightError, match="exceeds the model's context of 64 tokens"):
        handle.generate(["the nurse " * 40], max_new_tokens=4)


def test_edits_apply_during_generation(gpt2, make_handle):
    from fairfight import AddVector

    handle, _ = make_handle(gpt2, grant={"generate", "intervene"})
    plain = handle.generate(PROMPTS[:3], max_new_tokens=5)
    push = torch.randn(32, generator=torch.Generator().manual_seed(0)) * 20  # not constant: LayerNorm removes a constant
    pushed = handle.intervene([AddVector(1, push)]).generate(PROMPTS[:3], max_new_tokens=5)
    assert pushed != plain


# -- steering while generating: AddVector at positions, against a hand computation with hooks ----------------
def _hand_steered(loaded, prompt, n, layer, vector, positions):
    """Greedy decoding recomputing the whole sequence at every step (no cache), with a hook on the
    block whose output is `layer` adding `vector` where `positions` says."""
    from fairfight.evaluator.model_side.hooks import locate_layers

    tok, model = loaded.tokenizer, loaded.model
    ids = tok(prompt)["input_ids"]
    prompt_len = len(ids)
    blocks, _ = locate_layers(model)

    def hook(module, args, output):
        h = output[0] if isinstance(output, tuple) else output
        h = h.clone()
        if positions == "all":
            h += vector
        elif positions == "prompt_last":
            h[:, prompt_len - 1] += vector
        else:  # generated: the positions after the prompt
            h[:, prompt_len:] += vector
        return (h, *output[1:]) if isinstance(output, tuple) else h

    handle = blocks[layer - 1].register_forward_hook(hook)
    try:
        new = []
        with torch.no_grad():
            for _ in range(n):
                logits = model(torch.tensor([ids + new])).logits
                token = int(logits[0, -1].argmax())
                new.append(token)
                if token == tok.eos_token_id:
                    break
    finally:
        handle.remove()
    return tok.decode(new, skip_special_tokens=True)


@pytest.mark.parametrize("which", ["gpt2", "llama"])
@pytest.mark.parametrize("positions", ["all", "prompt_last", "generated"])
def test_add_vector_at_positions_equals_a_hand_computation(which, positions, gpt2, llama, make_handle):
    from fairfight import AddVector

    loaded = gpt2 if which == "gpt2" else llama
    vector = torch.randn(32, generator=torch.Generator().manual_seed(1)) * 8
    handle, ledger = make_handle(loaded, grant={"generate", "intervene"})
    steered = handle.intervene([AddVector(1, vector, scale=1.5, positions=positions)])
    prompts = ["the nurse", "a cat sat on the", "my friend bought"]
    got = steered.generate(prompts, max_new_tokens=6)
    assert got == [_hand_steered(loaded, p, 6, 1, 1.5 * vector, positions) for p in prompts]
    plain = handle.generate(prompts, max_new_tokens=6)
    assert got != plain  # the push changes what is generated
    (entry,) = [e for e in ledger.to_dict()["entries"] if e["op"] == "generate" and e["edits"]]
    assert entry["edits"][0].get("positions", "all") == positions


def test_positions_other_than_all_are_for_generate_only(gpt2, make_handle):
    from fairfight import AddVector
    from fairfight.evaluator.model_side.edits import edit_from_dict

    handle, _ = make_handle(gpt2)
    edited = handle.intervene([AddVector(1, torch.ones(32), positions="generated")])
    with pytest.raises(FairfightError, match="applies while generating only"):
        edited.activations(["the nurse"], layers=[2])
    with pytest.raises(FairfightError, match="positions must be one of all, prompt_last, generated"):
        AddVector(1, torch.ones(32), positions="prompt")
    e = AddVector(1, torch.ones(32), positions="prompt_last")
    assert edit_from_dict(e.to_dict()) == e
    assert "positions" not in AddVector(1, torch.ones(32)).to_dict()  # earlier records and run keys stand


def test_sae_edits_apply_at_every_pass_while_generating(gpt2, make_handle):
    """AblateFeatures during generate equals the edit written out by hand, hooked into a decoding that
    recomputes the whole sequence at every step (a per-token edit: the cache changes nothing)."""
    from fairfight.evaluator.model_side.edits import AblateFeatures
    from fairfight.evaluator.model_side.hooks import locate_layers
    from test_ablate_features import ByHand, _sae

    sae = _sae(32, activation="topk")
    features = list(range(0, 96, 2))
    handle, _ = make_handle(gpt2, grant={"generate", "intervene"})
    got = handle.intervene([AblateFeatures(1, sae, features)]).generate(PROMPTS[:3], max_new_tokens=6)
    by_hand = ByHand(1, sae, features)
    blocks, _ = locate_layers(gpt2.model)
    hook = blocks[0].register_forward_hook(lambda m, a, out: (by_hand.apply(out[0]), *out[1:])
                                           if isinstance(out, tuple) else by_hand.apply(out))
    try:
        tok, want = gpt2.tokenizer, []
        for prompt in PROMPTS[:3]:
            ids, new = tok(prompt)["input_ids"], []
            with torch.no_grad():
                for _ in range(6):
                    token = int(gpt2.model(torch.tensor([ids + new])).logits[0, -1].argmax())
                    new.append(token)
                    if token == tok.eos_token_id:
                        break
            want.append(tok.decode(new, skip_special_tokens=True))
    finally:
        hook.remove()
    assert got == want
    assert got != handle.generate(PROMPTS[:3], max_new_tokens=6)
