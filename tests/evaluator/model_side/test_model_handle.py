import pytest
import torch
from torch import nn

from testkit import SENTENCES
from fairfight.errors import AffordanceError, BudgetExceeded, FairfightError
from fairfight.evaluator.model_side.edits import AddVector
from fairfight.evaluator.model_side.ledger import Budget, Ledger
from fairfight.evaluator.model_side.model_handle import OPERATIONS, ModelHandle
from fairfight.evaluator.model_side.models import LoadedModel

TEXTS = SENTENCES[:4]
LABELS = ["care", "science", "care", "science"]


class Split:  # a data split as contenders see it: an object with .texts
    def __init__(self, texts):
        self.texts = texts


def call(op, h):
    """One representative call of each operation."""
    return {
        "generate": lambda: h.generate(TEXTS, max_new_tokens=3),
        "logprobs": lambda: h.logprobs(TEXTS, [" the"] * len(TEXTS)),
        "embed": lambda: h.embed(TEXTS),
        "activations": lambda: h.activations(TEXTS, layers=[1]),
        "intervene": lambda: h.intervene(AddVector(1, torch.ones(32))),
        "gradients": lambda: h.gradients(TEXTS, lambda o: o["last_hidden_state"].sum()),
        "weights": lambda: h.weights(),
        "finetune": lambda: h.finetune(TEXTS, LABELS, steps=1),
    }[op]()


@pytest.mark.parametrize("op", OPERATIONS)
def test_operation_not_granted_is_refused_and_recorded(op, gpt2, make_handle, forward_counter):
    allowed = ("embed", "activations") if op not in ("embed", "activations") else ("weights",)
    handle, ledger = make_handle(gpt2, grant=allowed, rule_source="rules.model")
    calls = forward_counter(gpt2)
    with pytest.raises(AffordanceError) as err:
        call(op, handle)
    assert str(err.value) == f"operation '{op}' is not granted: rules.model allows {', '.join(allowed)}"
    assert calls == [0]
    (entry,) = ledger.entries
    assert entry.op == op and entry.refused == str(err.value)


def test_granted_operations_are_counted(gpt2, make_handle):
    handle, ledger = make_handle(gpt2)
    assert handle.embed(TEXTS, split="train").shape == (4, 32)
    acts = handle.activations(Split(TEXTS), layers=[0, -1], pool="last", split="train")
    assert set(acts) == {0, -1} and acts[-1].shape == (4, 32)
    none = handle.activations(TEXTS, layers=2, pool="none")[2]
    assert [t.shape[0] for t in none] == [len(gpt2.tokenizer(t)["input_ids"]) for t in TEXTS]
    assert len(handle.generate(TEXTS[:2], max_new_tokens=2)) == 2
    assert handle.logprobs(TEXTS, [" the"] * 4).shape == (4,)
    assert handle.gradients(TEXTS, lambda o: o["logits"].sum(), layer=1).shape == (4, 32)
    assert len(handle.weights()) == len(list(gpt2.model.parameters()))
    entries = [(e.op, e.split, e.examples, e.layers) for e in ledger.entries]
    assert entries == [("embed", "train", 4, ()), ("activations", "train", 4, (0, 2)),
                       ("activations", "inputs", 4, (2,)), ("generate", "inputs", 2, ()),
                       ("logprobs", "inputs", 4, ()), ("gradients", "inputs", 4, (1,)),
                       ("weights", "inputs", 0, ())]
    assert ledger.totals()["examples"] == 22


def test_embed_is_masked_mean_of_last_layer(bert, make_handle):
    handle, _ = make_handle(bert)
    assert torch.equal(handle.embed(TEXTS), handle.activations(TEXTS, layers=[-1])[-1])


@pytest.mark.parametrize("arch", ["gpt2", "bert", "gpt_neox", "llama"])
def test_layer_numbering_matches_transformers_hidden_states(arch, gpt2, bert, make_handle):
    if arch in ("gpt2", "bert"):
        loaded = {"gpt2": gpt2, "bert": bert}[arch]
    else:
        from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, LlamaConfig, LlamaForCausalLM

        cfg, cls = {"gpt_neox": (GPTNeoXConfig, GPTNeoXForCausalLM), "llama": (LlamaConfig, LlamaForCausalLM)}[arch]
        torch.manual_seed(0)
        model = cls(cfg(num_hidden_layers=2, hidden_size=32, num_attention_heads=2, num_key_value_heads=2,
                        intermediate_size=64, vocab_size=len(gpt2.tokenizer))).eval()
        loaded = LoadedModel(model, gpt2.tokenizer, "causal", {}, 2, 32, ())
    handle, _ = make_handle(loaded, batch_size=3)
    acts = handle.activations(TEXTS, layers=[0, 1, 2], pool="none")
    for i, text in enumerate(TEXTS):
        enc = loaded.tokenizer([text], return_tensors="pt")
        enc = {k: enc[k] for k in ("input_ids", "attention_mask")} if loaded.kind == "causal" else enc
        with torch.no_grad():
            ref = loaded.model(**enc, output_hidden_states=True).hidden_states
        for layer in range(3):
            assert torch.allclose(acts[layer][i], ref[layer][0], atol=1e-5), (layer, i)


def test_results_in_input_order_and_deterministic(bert, make_handle):
    texts = ["a much longer sentence with many many words in it to pad", "short", "a medium length one",
             "tiny", "another quite long sentence about nothing at all really"]
    handle, _ = make_handle(bert, batch_size=2)
    first, second = handle.embed(texts), handle.embed(texts)
    assert torch.equal(first, second)
    for i, text in enumerate(texts):
        assert torch.allclose(first[i], handle.embed([text])[0], atol=1e-5)


def test_inputs_must_be_a_list_of_strings(bert, make_handle):
    handle, _ = make_handle(bert)
    with pytest.raises(FairfightError, match="single string"):
        handle.embed("one text")
    assert handle.embed([]).shape == (0, 32)


def test_examples_budget_refuses_before_computing(gpt2, make_handle, forward_counter):
    handle, ledger = make_handle(gpt2, budget=Budget(examples=5))
    calls = forward_counter(gpt2)
    handle.embed(TEXTS)
    assert calls == [1]
    with pytest.raises(BudgetExceeded, match="examples"):
        handle.activations(TEXTS, layers=[1])
    assert calls == [1]  # nothing computed
    assert ledger.entries[-1].refused and ledger.totals()["examples"] == 4


def test_steps_budget_applies_to_finetune(bert, make_handle, forward_counter):
    handle, ledger = make_handle(bert, budget=Budget(steps=2))
    calls = forward_counter(bert)
    with pytest.raises(BudgetExceeded, match="steps"):
        handle.finetune(TEXTS, LABELS, steps=3)
    assert ledger.entries[-1].op == "finetune" and ledger.entries[-1].refused and calls == [0]
    handle.finetune(TEXTS, LABELS, steps=2)
    assert ledger.totals()["steps"] == 2


def test_wall_time_stops_between_batches(bert):
    ticks = iter(range(1000))
    ledger = Ledger(Budget(wall_time=3), clock=lambda: next(ticks))
    handle = ModelHandle(bert, frozenset(OPERATIONS), ledger, batch_size=1)
    with pytest.raises(BudgetExceeded, match="wall_time"):
        handle.embed(SENTENCES)
    assert ledger.entries[-1].refused


def test_intervene_view_records_edits_and_keeps_its_grant(gpt2, make_handle):
    handle, ledger = make_handle(gpt2, grant=("intervene", "embed"))
    edit = AddVector(1, torch.ones(32))
    view = handle.intervene(edit)
    assert view.edits == (edit,) and handle.edits == ()
    view.embed(TEXTS)
    assert ledger.entries[-1].edits == (edit.to_dict(),)
    with pytest.raises(AffordanceError, match="'activations'"):
        view.activations(TEXTS, layers=[1])
    both = view.intervene([AddVector(2, torch.ones(32))])
    assert len(both.edits) == 2
    with pytest.raises(FairfightError, match="hidden size"):
        handle.intervene(AddVector(1, [1.0, 2.0]))
    with pytest.raises(FairfightError, match="out of range"):
        handle.intervene(AddVector(7, torch.ones(32)))


def test_gradients_exact(bert, make_handle):
    handle, ledger = make_handle(bert)
    # d/dh of sum over real tokens of h is 1 at every real token: its mean is all ones
    g = handle.gradients(TEXTS, lambda o: (o["last_hidden_state"] * o["attention_mask"][..., None]).sum())
    assert torch.allclose(g, torch.ones(4, 32))
    seen = []
    gi = handle.gradients(TEXTS, lambda o: seen.append(o["index"].tolist()) or o["hidden_states"][1].sum(),
                          wrt="inputs", pool="none")
    assert sorted(i for b in seen for i in b) == [0, 1, 2, 3]
    assert len(gi) == 4 and gi[0].shape[1] == 32 and gi[0].abs().sum() > 0
    assert all(p.grad is None for p in bert.model.parameters())


def test_weights_are_detached_copies(gpt2, make_handle):
    handle, _ = make_handle(gpt2)
    w = handle.weights()
    name, tensor = next(iter(w.items()))
    live = dict(gpt2.model.named_parameters())[name]
    assert not tensor.requires_grad and tensor.data_ptr() != live.data_ptr()
    tensor.add_(1.0)
    assert not torch.equal(tensor, live)


def test_finetune_trains_a_copy(bert, make_handle):
    handle, ledger = make_handle(bert, batch_size=2)
    before = {k: v.clone() for k, v in bert.model.state_dict().items()}
    tuned = handle.finetune(TEXTS, LABELS, epochs=15, lr=1e-2, split="train")
    assert all(torch.equal(v, bert.model.state_dict()[k]) for k, v in before.items())
    assert tuned.head is not None and handle.head is None and tuned.grant == handle.grant
    assert tuned.head.predict(tuned.embed(TEXTS)) == LABELS
    e = next(e for e in ledger.entries if e.op == "finetune")
    assert (e.split, e.steps, e.examples) == ("train", 30, 60)
    again = handle.finetune(TEXTS, LABELS, epochs=15, lr=1e-2)
    assert torch.equal(again.embed(TEXTS), tuned.embed(TEXTS))  # seeded: deterministic


def test_generate_and_logprobs(gpt2, bert, make_handle):
    handle, _ = make_handle(gpt2, batch_size=3)
    prompts = ["the nurse", "a cat sat on the", "my friend bought"]
    batched = handle.generate(prompts, max_new_tokens=4)
    assert batched == [handle.generate([p], max_new_tokens=4)[0] for p in prompts]
    lp = handle.logprobs(prompts, [" helped", " mat", " a new car"])
    tok = gpt2.tokenizer
    ids = tok("a cat sat on the")["input_ids"]
    cont = tok(" mat", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = gpt2.model(torch.tensor([ids + cont])).logits.log_softmax(-1)[0]
    ref = sum(logits[len(ids) - 1 + j, t] for j, t in enumerate(cont))
    assert lp.shape == (3,) and torch.allclose(lp[1], ref, atol=1e-5) and (lp < 0).all()
    encoder, _ = make_handle(bert)
    for op in ("generate", "logprobs"):
        with pytest.raises(FairfightError, match="causal"):
            call(op, encoder)


def test_logprobs_project_only_the_scored_positions(gpt2, make_handle):
    """The vocabulary projection runs at the positions that score a continuation, not at every
    position of the batch (a batch of long few-shot prompts was gigabytes of logits), and every
    row's score equals the full-logits computation."""
    handle, _ = make_handle(gpt2, batch_size=4)
    prompts = ["the nurse said that " * 3, "a cat sat on the", "my friend bought", "x"]
    conts = [" she helped", " mat", " a new car today", " y"]
    widths = []
    hook = gpt2.model.get_output_embeddings().register_forward_hook(lambda m, i, o: widths.append(o.shape[1]))
    try:
        lp = handle.logprobs(prompts, conts)
    finally:
        hook.remove()
    tok = gpt2.tokenizer
    scored = [len(tok(c, add_special_tokens=False)["input_ids"]) for c in conts]
    assert widths and sum(widths) <= sum(scored)  # the longest prompt alone is 15 tokens
    with torch.no_grad():
        for p, c, value in zip(prompts, conts, lp):
            ids, cont = tok(p)["input_ids"], tok(c, add_special_tokens=False)["input_ids"]
            logits = gpt2.model(torch.tensor([ids + cont])).logits.log_softmax(-1)[0]
            ref = sum(logits[len(ids) - 1 + j, t] for j, t in enumerate(cont))
            assert torch.allclose(value, ref, atol=1e-4), (p, value, ref)


def test_no_public_attribute_hands_out_the_model(gpt2, make_handle):
    handle, _ = make_handle(gpt2)
    tuned = handle.finetune(TEXTS, LABELS, steps=1)
    for h in (handle, tuned, tuned.head):
        for name in dir(h):
            if not name.startswith("_"):
                value = getattr(h, name)
                assert not isinstance(value, (nn.Module, LoadedModel)), name
                assert value is not gpt2.tokenizer, name
    assert (handle.kind, handle.num_layers, handle.hidden_size) == ("causal", 2, 32)
    assert "ModelHandle(kind='causal'" in repr(handle)


def test_refusal_comes_before_argument_errors(bert, make_handle):
    handle, ledger = make_handle(bert, grant=("embed",))
    with pytest.raises(AffordanceError):
        handle.activations(TEXTS, layers=[99], pool="bogus")
    with pytest.raises(AffordanceError):
        handle.gradients(TEXTS, None, wrt="bogus")
    assert [e.op for e in ledger.entries] == ["activations", "gradients"]


def test_logprobs_asked_again_in_a_run_are_not_computed_again(gpt2, make_handle, forward_counter):
    """The batch check's second composition: a (prompt, continuation) the run scored before gets the
    value computed then, under the same model and edits; new pairs and other edits are computed."""
    from fairfight import AddVector

    handle, _ = make_handle(gpt2, batch_size=2)
    prompts, conts = ["the nurse", "a cat sat on the", "my friend bought"], [" helped", " mat", " a new car"]
    counts = forward_counter(gpt2)

    def passes(call):
        before = counts[0]
        return call(), counts[0] - before

    first, n = passes(lambda: handle.logprobs(prompts, conts))
    assert n > 0
    again, n = passes(lambda: handle.logprobs(prompts[::-1] + prompts[:1], conts[::-1] + conts[:1]))
    assert torch.equal(again, torch.cat([first.flip(0), first[:1]])) and n == 0
    mixed, n = passes(lambda: handle.logprobs(["the nurse", "the surgeon"], [" helped", " helped"]))
    assert mixed[0] == first[0] and n == 1  # only the new pair was computed
    pushed = handle.intervene([AddVector(1, torch.randn(32, generator=torch.Generator().manual_seed(0)) * 5)])
    steered, n = passes(lambda: pushed.logprobs(prompts, conts))
    assert not torch.equal(steered, first) and n > 0
    other, _ = make_handle(gpt2, batch_size=2)
    theirs, n = passes(lambda: other.logprobs(prompts, conts))
    assert torch.allclose(theirs, first, atol=1e-5) and n > 0  # another run: its own
