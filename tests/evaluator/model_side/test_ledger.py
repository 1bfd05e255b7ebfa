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
