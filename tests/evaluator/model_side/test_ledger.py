import json

import pytest

from fairfight.errors import BudgetExceeded, FairfightError
from fairfight.evaluator.model_side.ledger import Budget, Entry, Ledger


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_charge_and_totals():
    ledger = Ledger()
    ledger.charge("embed", "train", 5)
    ledger.charge("embed", "train", 3, layers=(2,))
    ledger.charge("finetune", "train", 8, steps=4, edits=({"type": "add_vector", "layer": 1},))
    ledger.refuse("weights", "operation 'weights' is not granted: uses.model allows embed")
    t = ledger.totals()
    assert t["examples"] == 16 and t["steps"] == 4
    assert t["ops"] == {"embed": {"calls": 2, "examples": 8}, "finetune": {"calls": 1, "examples": 8}}
    assert t["refused"] == [{"op": "weights", "split": "inputs",
                             "reason": "operation 'weights' is not granted: uses.model allows embed"}]
    assert ledger.entries[1] == Entry("embed", "train", 3, layers=(2,))
    json.loads(json.dumps(ledger.to_dict()))  # serialisable


def test_examples_budget_is_checked_before_appending():
    ledger = Ledger(Budget(examples=10))
    ledger.charge("embed", "train", 8)
    with pytest.raises(BudgetExceeded) as err:
        ledger.charge("activations", "train", 5)
    msg = str(err.value)
    assert "examples" in msg and "limit 10" in msg and "5" in msg and "used 8" in msg
    assert isinstance(err.value, FairfightError)
    assert ledger.entries[-1].refused and ledger.entries[-1].op == "activations"
    assert ledger.totals()["examples"] == 8  # the refused call is not counted as used
    ledger.charge("embed", "train", 2)  # exactly at the limit is fine


def test_steps_budget():
    ledger = Ledger(Budget(steps=3))
    ledger.charge("finetune", "train", 10, steps=3)
    with pytest.raises(BudgetExceeded, match="steps"):
        ledger.charge("finetune", "train", 10, steps=1)


def test_wall_time_budget():
    clock = FakeClock()
    ledger = Ledger(Budget(wall_time=5.0), clock=clock)
    ledger.charge("embed", "train", 1)
    ledger.check_time()
    clock.now += 6
    with pytest.raises(BudgetExceeded, match="wall_time"):
        ledger.check_time("embed")
    with pytest.raises(BudgetExceeded, match="wall_time"):
        ledger.charge("embed", "train", 1)
    assert [e.op for e in ledger.entries if e.refused] == ["embed", "embed"]


def test_data_reads_are_recorded_but_are_not_model_examples():
    ledger = Ledger(Budget(examples=1))
    ledger.read("train", "text", 50)
    ledger.read("train", "text", 50)
    ledger.read("train", "label", 50)
    t = ledger.totals()
    assert t["reads"] == {"train.text": {"calls": 2, "rows": 100}, "train.label": {"calls": 1, "rows": 50}}
    assert t["examples"] == 0
    json.loads(json.dumps(ledger.to_dict()))


def test_the_evaluation_phase_charges_what_is_not_an_evaluation_input():
    ledger = Ledger(Budget(examples=10))
    ledger.charge("embed", "train", 4, texts=["t1", "t2", "t3", "t4"])
    ledger.begin_evaluation(["e1", "e2", "e3"])
    ledger.charge("embed", "inputs", 3, texts=["e1", "e2", "e3"])  # the inputs themselves: free
    ledger.charge("embed", "inputs", 3, texts=["e1", "e2", "e1"])
    assert ledger.used() == (4, 0)
    ledger.charge("logprobs", "inputs", 2, texts=["Bio: e1. Job:", "e2"])  # a prompt built around an input
    assert ledger.used() == (5, 0)
    with pytest.raises(BudgetExceeded, match="budget 'examples' exceeded"):
        ledger.charge("embed", "inputs", 7, texts=["t1", "t2", "t3", "t4", "t1", "t2", "e3"])  # training texts, late
    with pytest.raises(BudgetExceeded, match="finetune after the predictor was returned is refused"):
        ledger.charge("finetune", "train", 4, steps=1, texts=["t1", "t2", "t3", "t4"])
    entries = [e.to_dict() for e in ledger.entries]
    assert [e["split"] for e in entries] == ["train"] + ["evaluation"] * 5
    assert [e.get("charged", 0) for e in entries] == [0, 0, 0, 1, 6, 4]
    assert [bool(e["refused"]) for e in entries] == [False, False, False, False, True, True]


def test_generated_tokens_are_charged_before_generating_and_evaluation_answers_are_free():
    """prompts x max_new_tokens, charged up front; the evaluation's own answers are not counted
    (every contender gives them), but the answer length is capped there too."""
    ledger = Ledger(Budget(generated_tokens=100, max_new_tokens=16))
    ledger.charge("generate", "train", 4, new_tokens=16)  # 64 tokens
    with pytest.raises(BudgetExceeded, match="budget 'generated_tokens' exceeded: limit 100, already used 64, "
                                             "asked for 48 more"):
        ledger.charge("generate", "train", 3, new_tokens=16)
    ledger.charge("generate", "train", 2, new_tokens=16)  # 96: within the limit
    with pytest.raises(BudgetExceeded, match="at most 16 new tokens per prompt, asked for 17"):
        ledger.charge("generate", "train", 1, new_tokens=17)
    ledger.begin_evaluation(["q1", "q2"])
    ledger.charge("generate", "evaluation", 2, texts=["q1", "q2"], new_tokens=16)  # free
    with pytest.raises(BudgetExceeded, match="at most 16 new tokens per prompt, asked for 64"):
        ledger.charge("generate", "evaluation", 2, texts=["q1", "q2"], new_tokens=64)
    t = ledger.to_dict()
    assert t["totals"]["generated_tokens"] == 96 and ledger.generated() == 96
    assert t["budget"] == {"examples": None, "steps": None, "wall_time": None, "generated_tokens": 100,
                           "max_new_tokens": 16}
    assert [e.get("tokens") for e in t["entries"]] == [64, 48, 32, 17, 32, 128]
    assert [e["refused"] is not None for e in t["entries"]] == [False, True, False, True, False, True]


def test_a_ledger_without_token_budgets_writes_what_it_wrote_before():
    ledger = Ledger(Budget(examples=5))
    ledger.charge("embed", "train", 2)
    assert ledger.to_dict()["budget"] == {"examples": 5, "steps": None, "wall_time": None}
    assert "generated_tokens" not in ledger.totals() and "tokens" not in ledger.to_dict()["entries"][0]
