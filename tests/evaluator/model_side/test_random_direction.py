"""The random_direction control on the trusted side: a handle given the run's seed replaces every
AddVector it is given by a random vector of the same norm at the same layer, scale and positions,
runs that one (generation equals the same model steered with the stand-in by hand), records it in
the ledger, and still shows the contender the edits it gave."""
import numpy as np
import pytest
import torch

from fairfight import AddVector, ProjectOut
from fairfight.evaluator.model_side.edits import random_direction
from testkit import bpe_tokenizer as _bpe_tokenizer
from ggufkit import loaded_tiny_llama

PROMPTS = ["the nurse", "a cat sat on the", "my friend bought"]


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    return loaded_tiny_llama(tmp_path_factory.mktemp("rd-llama"), _bpe_tokenizer(), seed=3)


def _vector(n, seed=0, scale=5.0):
    return torch.randn(n, generator=torch.Generator().manual_seed(seed)) * scale


def test_the_stand_in_has_the_norm_and_place_and_another_direction():
    v = _vector(64)
    edit = AddVector(1, v, scale=3.0, positions="generated")
    stand_in = random_direction(edit, seed=0)
    a, b = np.asarray(edit.vector), np.asarray(stand_in.vector)
    assert (stand_in.layer, stand_in.scale, stand_in.positions) == (1, 3.0, "generated")
    assert np.linalg.norm(b) == pytest.approx(np.linalg.norm(a), rel=1e-12)
    assert abs(a @ b) / (np.linalg.norm(a) * np.linalg.norm(b)) < 0.5  # 64 dims: a random direction
    assert random_direction(edit, seed=0) == stand_in  # the same vector, the same seed: the same stand-in
    assert random_direction(edit, seed=1).vector != stand_in.vector  # another seed: another one
    other = random_direction(AddVector(1, _vector(64, seed=1)), seed=0)
    assert other.vector != stand_in.vector
    project = ProjectOut(1, v)
    assert random_direction(project, seed=0) is project  # only vectors that are added are replaced


def test_a_redirected_handle_runs_the_stand_in_and_shows_what_it_was_given(llama, make_handle):
    hidden = llama.hidden_size
    edit = AddVector(1, _vector(hidden, scale=20.0), scale=2.0, positions="generated")
    control, ledger = make_handle(llama, grant={"generate", "intervene"}, redirect_seed=7)
    steered = control.intervene([edit])
    assert steered.edits == (edit,)  # the contender sees its own edit
    (entry,) = [e for e in ledger.to_dict()["entries"] if e["op"] == "intervene"]
    (recorded,) = entry["edits"]
    stand_in = random_direction(edit, 7)
    assert recorded == stand_in.to_dict() and recorded != edit.to_dict()  # the ledger: what runs
    # what the control generates is the model steered with the stand-in, written by hand
    by_hand, _ = make_handle(llama, grant={"generate", "intervene"})
    texts = steered.generate(PROMPTS, max_new_tokens=6)
    assert texts == by_hand.intervene([stand_in]).generate(PROMPTS, max_new_tokens=6)
    assert texts != by_hand.intervene([edit]).generate(PROMPTS, max_new_tokens=6)
    # handles derived from it keep redirecting; re-applying the edits it shows gives the same stand-in
    again = control.intervene(list(steered.edits)).generate(PROMPTS, max_new_tokens=6)
    assert again == texts
    twice = steered.intervene([AddVector(0, _vector(hidden, seed=2))])
    assert [type(e) for e in twice.edits] == [AddVector, AddVector] and twice.edits[1].layer == 0
    last = [e for e in ledger.to_dict()["entries"] if e["op"] == "intervene"][-1]["edits"][0]
    assert last == random_direction(AddVector(0, _vector(hidden, seed=2)), 7).to_dict()


def test_without_the_control_nothing_is_replaced(llama, make_handle):
    edit = AddVector(1, _vector(llama.hidden_size, scale=20.0))
    handle, ledger = make_handle(llama, grant={"generate", "intervene"})
    handle.intervene([edit])
    (entry,) = [e for e in ledger.to_dict()["entries"] if e["op"] == "intervene"]
    assert entry["edits"] == [edit.to_dict()]
