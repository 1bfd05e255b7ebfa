"""Edits, numerically: an edit at layer L changes exactly what activations(layers=[L]) reads."""
import pytest
import torch

from testkit import SENTENCES
from fairfight.evaluator.model_side.edits import Ablate, AddVector, ProjectOut

TEXTS = SENTENCES[:4]


@pytest.fixture(params=["gpt2", "bert"])
def loaded(request):
    return request.getfixturevalue(request.param)


def _vec(seed, d=32):
    return torch.randn(d, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("layer", [0, 1, 2])
def test_project_out_removes_direction_and_changes_downstream(loaded, layer, make_handle):
    handle, ledger = make_handle(loaded, batch_size=3)
    v = _vec(layer)
    plain = handle.activations(TEXTS, layers=[0, 1, 2], pool="none")
    view = handle.intervene(ProjectOut(layer, v))
    edited = view.activations(TEXTS, layers=[0, 1, 2], pool="none")
    for i in range(len(TEXTS)):
        assert (edited[layer][i] @ v).abs().max() < 1e-4  # every token, not only the mean
        for earlier in range(layer):
            assert torch.equal(edited[earlier][i], plain[earlier][i])
    assert not torch.allclose(view.embed(TEXTS), handle.embed(TEXTS), atol=1e-4)
    assert ledger.entries[-2].edits == (ProjectOut(layer, v).to_dict(),)


def test_ablate_zero_dims(loaded, make_handle):
    handle, _ = make_handle(loaded)
    acts = handle.intervene(Ablate(1, dims=[0, 5, 31])).activations(TEXTS, layers=[1, 2], pool="none")
    for tokens in acts[1]:
        assert (tokens[:, [0, 5, 31]] == 0).all() and (tokens[:, 1] != 0).any()
    assert all((tokens[:, 0] != 0).any() for tokens in acts[2])  # later layers recompute them


def test_ablate_mean_along_direction(loaded, make_handle):
    handle, _ = make_handle(loaded)
    v, mean = _vec(3), _vec(4)
    u = v / v.norm()
    acts = handle.intervene(Ablate(1, directions=v, mode="mean", mean=mean)).activations(
        TEXTS, layers=[1], pool="none")[1]
    for tokens in acts:
        assert torch.allclose(tokens @ u, (mean @ u).expand(tokens.shape[0]), atol=1e-5)


@pytest.mark.parametrize("layer", [0, 1, -1])
def test_add_vector_shifts_the_mean(loaded, layer, make_handle):
    handle, _ = make_handle(loaded)
    v = _vec(5)
    before = handle.activations(TEXTS, layers=[layer])[layer]
    after = handle.intervene(AddVector(layer, v, scale=2.0)).activations(TEXTS, layers=[layer])[layer]
    assert torch.allclose(after - before, (2 * v).expand_as(before), atol=1e-5)


def test_edits_compose_in_order(bert, make_handle):
    handle, _ = make_handle(bert)
    v = _vec(6)
    u = v / v.norm()
    # add then project out: nothing along v remains; project out then add: exactly v remains
    a = handle.intervene(AddVector(1, v)).intervene(ProjectOut(1, v)).activations(TEXTS, layers=[1])[1]
    b = handle.intervene([ProjectOut(1, v), AddVector(1, v)]).activations(TEXTS, layers=[1])[1]
    assert (a @ u).abs().max() < 1e-4
    assert torch.allclose(b @ u, v.norm().expand(len(TEXTS)), atol=1e-4)


def test_edits_reach_logprobs_and_generation(gpt2, make_handle):
    handle, _ = make_handle(gpt2)
    view = handle.intervene(AddVector(1, _vec(7), scale=50.0))
    conts = [" the"] * len(TEXTS)
    assert not torch.allclose(view.logprobs(TEXTS, conts), handle.logprobs(TEXTS, conts))
    assert view.generate(TEXTS, max_new_tokens=4) != handle.generate(TEXTS, max_new_tokens=4)


def test_serialised_edits_behave_the_same(loaded, make_handle):
    handle, _ = make_handle(loaded)
    edits = [ProjectOut(1, _vec(8)), Ablate(2, dims=[3]), AddVector(0, _vec(9))]
    direct = handle.intervene(edits).embed(TEXTS)
    from_dicts = handle.intervene([e.to_dict() for e in edits]).embed(TEXTS)
    assert torch.equal(direct, from_dicts)


def test_gradients_flow_through_edits(bert, make_handle):
    handle, _ = make_handle(bert)
    objective = lambda o: o["last_hidden_state"][..., 0].sum()  # noqa: E731
    plain = handle.gradients(TEXTS, objective, wrt="inputs")
    # zeroing every dim at layer 1 cuts the path from the inputs to the output
    cut = handle.intervene(Ablate(1, dims=list(range(32)))).gradients(TEXTS, objective, wrt="inputs")
    assert plain.abs().sum() > 0 and cut.abs().sum() == 0
