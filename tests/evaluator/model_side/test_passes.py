"""Pooled passes: every shortcut (shared plain pass, edit-after-pooling, resume at the first
edited layer, early stop) gives what a full forward pass with the edits gives."""
import pytest
import torch

from testkit import SENTENCES
from fairfight.evaluator.model_side.edits import Ablate, AddVector, ProjectOut
from fairfight.evaluator.model_side.hooks import locate_layers
from fairfight.evaluator.model_side.forward_cache import ForwardCache, computations

TEXTS = SENTENCES * 3  # more than one batch at batch_size=4, with different lengths


@pytest.fixture(params=["gpt2", "bert", "minilm"])
def loaded(request):
    return request.getfixturevalue(request.param)


def _vec(seed, d):
    return torch.randn(d, generator=torch.Generator().manual_seed(seed))


class Scale2Tanh:
    """A non-affine edit (any object with apply/to_dict is accepted): no pooling shortcut."""

    def __init__(self, layer):
        self.layer = layer

    def apply(self, h):
        return torch.tanh(2 * h)

    def to_dict(self):
        return {"type": "scale2tanh", "layer": self.layer}


def _reference(handle, layers, pool):
    """The full forward pass with edits, token-level (pool="none"), pooled here by hand."""
    tokens = handle.activations(TEXTS, layers=layers, pool="none")
    pick = (lambda t: t.mean(0)) if pool == "mean" else (lambda t: t[-1])
    return {lay: torch.stack([pick(t) for t in tokens[lay]]) for lay in layers}


def _block_runs(loaded):
    """Count calls of the first block's sub-modules: a skipped block calls none of them."""
    blocks, _ = locate_layers(loaded.model)
    count = [0]
    hooks = [m.register_forward_hook(lambda *a: count.__setitem__(0, count[0] + 1))
             for m in blocks[0].children()]
    return count, hooks


def _edits(kind, layer, d):
    return {"project_out": [ProjectOut(layer, torch.stack([_vec(1, d), _vec(2, d)]))],
            "ablate_mean": [Ablate(layer, dims=[0, 3], mode="mean", mean=_vec(3, d))],
            "add_then_project": [AddVector(layer, _vec(4, d), scale=0.5), ProjectOut(layer, _vec(5, d))],
            "non_affine": [Scale2Tanh(layer)]}[kind]


@pytest.mark.parametrize("kind", ["project_out", "ablate_mean", "add_then_project", "non_affine"])
@pytest.mark.parametrize("pool", ["mean", "last"])
def test_edited_read_at_the_edited_layer_matches_a_full_pass(loaded, make_handle, tmp_path, kind, pool):
    layer = loaded.num_layers - 1
    edits = _edits(kind, layer, loaded.hidden_size)
    plain, _ = make_handle(loaded, batch_size=4)
    expected = _reference(plain.intervene(edits), [layer], pool)
    cache = ForwardCache(tmp_path, loaded.identity)
    cached, _ = make_handle(loaded, batch_size=4, forward_cache=cache)
    cached.activations(TEXTS, layers=[0], pool=pool)  # the shared plain pass (every layer) is now cached
    count, hooks = _block_runs(loaded)
    got = cached.intervene(edits).activations(TEXTS, layers=[layer], pool=pool)[layer]
    for h in hooks:
        h.remove()
    assert torch.allclose(got, expected[layer], atol=1e-5)
    if kind != "non_affine":
        assert count[0] == 0  # edit-after-pooling: no block ran at all
    uncached = plain.intervene(edits).activations(TEXTS, layers=[layer], pool=pool)[layer]
    assert torch.allclose(uncached, got, atol=1e-5)  # with or without a cache: the same numbers


@pytest.mark.parametrize("kind", ["project_out", "non_affine"])
@pytest.mark.parametrize("pool", ["mean", "last"])
def test_reads_above_an_edit_resume_from_cached_states(loaded, make_handle, tmp_path, kind, pool):
    n = loaded.num_layers
    edits = _edits(kind, 1, loaded.hidden_size)
    plain, _ = make_handle(loaded, batch_size=4)
    expected = _reference(plain.intervene(edits), [0, 1, n], pool)
    cache = ForwardCache(tmp_path, loaded.identity)
    cached, _ = make_handle(loaded, batch_size=4, forward_cache=cache)
    count, hooks = _block_runs(loaded)
    view = cached.intervene(edits)
    got = view.activations(TEXTS, layers=[0, 1, n], pool=pool)
    first = count[0]  # the states at layer 1 were computed: block 0 ran once per batch
    cached.intervene(ProjectOut(1, _vec(9, loaded.hidden_size))).embed(TEXTS)
    for h in hooks:
        h.remove()
    for lay in (0, 1, n):
        assert torch.allclose(got[lay], expected[lay], atol=1e-4), lay
    assert first > 0 and count[0] == first  # the second edit at layer 1 resumed: block 0 never ran again
    log = computations(tmp_path)
    assert sum("states@1" in line for line in log) == 1
    assert sum(line.endswith("edited") for line in log) == 2
    if pool == "mean":
        assert torch.allclose(view.embed(TEXTS), expected[n], atol=1e-4)  # read back from the cache


def test_a_non_affine_edit_at_the_last_layer(loaded, make_handle, tmp_path):
    n = loaded.num_layers
    edits = [Scale2Tanh(n)]
    plain, _ = make_handle(loaded, batch_size=4)
    expected = _reference(plain.intervene(edits), [n], "mean")[n]
    cached, _ = make_handle(loaded, batch_size=4, forward_cache=ForwardCache(tmp_path, loaded.identity))
    assert torch.allclose(cached.intervene(edits).embed(TEXTS), expected, atol=1e-5)


def test_edits_at_two_layers_and_early_stop(loaded, make_handle, tmp_path):
    d, n = loaded.hidden_size, loaded.num_layers
    edits = [AddVector(1, _vec(6, d)), ProjectOut(n - 1, _vec(7, d))]
    plain, _ = make_handle(loaded, batch_size=4)
    layers = list(range(n))  # stops before the last layer
    expected = _reference(plain.intervene(edits), layers, "mean")
    cached, _ = make_handle(loaded, batch_size=4, forward_cache=ForwardCache(tmp_path, loaded.identity))
    got = cached.intervene(edits).activations(TEXTS, layers=layers)
    for lay in layers:
        assert torch.allclose(got[lay], expected[lay], atol=1e-4), lay


def test_edit_at_layer_zero_and_plain_reads_share_one_pass(bert, make_handle, tmp_path):
    cache = ForwardCache(tmp_path, bert.identity)
    handle, _ = make_handle(bert, batch_size=4, forward_cache=cache)
    a = handle.activations(TEXTS, layers=[1])[1]
    e = handle.embed(TEXTS)
    b = handle.activations(TEXTS, layers=[0, 2])
    assert len(computations(tmp_path)) == 1  # one plain pass, every layer
    assert torch.equal(b[2], e)
    plain, _ = make_handle(bert, batch_size=4)
    assert torch.allclose(plain.activations(TEXTS, layers=[1])[1], a, atol=1e-6)
    edits = [ProjectOut(0, _vec(8, bert.hidden_size))]
    expected = _reference(plain.intervene(edits), [2], "mean")[2]
    assert torch.allclose(handle.intervene(edits).embed(TEXTS), expected, atol=1e-4)


def test_states_too_large_to_keep_run_from_the_input(bert, make_handle, tmp_path, monkeypatch):
    monkeypatch.setenv("FAIRFIGHT_MAX_STATES_BYTES", "1000")
    edits = [ProjectOut(1, _vec(10, bert.hidden_size))]
    plain, _ = make_handle(bert, batch_size=4)
    expected = _reference(plain.intervene(edits), [2], "mean")[2]
    cached, _ = make_handle(bert, batch_size=4, forward_cache=ForwardCache(tmp_path, bert.identity))
    assert torch.allclose(cached.intervene(edits).embed(TEXTS), expected, atol=1e-5)
    log = computations(tmp_path)
    assert not any("states@" in line for line in log) and sum(line.endswith("edited") for line in log) == 1


def test_resampled_reads_take_their_rows_from_one_pass_over_the_whole_split(bert, make_handle, tmp_path):
    """evaluate.resample: each seed's sample of a split (duplicates included) is served by one
    plain pass over the whole split, and gives what a pass over the sample itself gives."""
    universe = list(dict.fromkeys(TEXTS))
    samples = [universe[1:], [universe[0], universe[0], universe[3]]]
    cache = ForwardCache(tmp_path, bert.identity, universes=[universe])
    handle, _ = make_handle(bert, batch_size=4, forward_cache=cache)
    plain, _ = make_handle(bert, batch_size=4)
    for sample in samples:
        assert torch.allclose(handle.activations(sample, layers=[1])[1], plain.activations(sample, layers=[1])[1],
                              atol=1e-5)
        assert torch.allclose(handle.embed(sample), plain.embed(sample), atol=1e-5)
    assert [line.split()[1] for line in computations(tmp_path)] == [str(len(universe))]  # one pass, every sample
    edits = [Scale2Tanh(1)]  # an edited read (resumed from token states): also one pass over the whole split
    for sample in samples:
        assert torch.allclose(handle.intervene(edits).embed(sample), plain.intervene(edits).embed(sample), atol=1e-5)
    log = computations(tmp_path)
    assert sum(line.endswith("edited") for line in log) == 1 and sum("states@1" in line for line in log) == 1
    handle.embed(["a text outside the split"])  # not a sample of it: its own pass
    assert len(computations(tmp_path)) == len(log) + 1


def test_a_read_takes_each_texts_rows_from_whichever_entry_holds_it(bert, make_handle, tmp_path):
    """The evaluation inputs reach predictors in chunks drawn per run, so texts a contender makes
    of them (token_deletion's) come back in new compositions: rows that earlier entries hold
    between them are not computed again, only the texts no entry holds are; and a new process
    finds them on disk."""
    from fairfight.evaluator.model_side.forward_cache import TextIndex

    first, second = SENTENCES[:3], SENTENCES[3:]
    handle, _ = make_handle(bert, batch_size=4, forward_cache=ForwardCache(tmp_path, bert.identity))
    plain, _ = make_handle(bert, batch_size=4)
    handle.embed(first)
    handle.activations(second, layers=[1])
    assert [line.split()[1] for line in computations(tmp_path)] == ["3", "3"]
    mixed = [second[1], first[0], second[2], first[0]]
    got, expected = handle.activations(mixed, layers=[0, 2]), plain.activations(mixed, layers=[0, 2])
    assert len(computations(tmp_path)) == 2
    assert all(torch.allclose(got[r], expected[r], atol=1e-5) for r in (0, 2))
    new = ["a text no entry holds", "and a second one, longer than the first"]
    partly = [first[1], new[0], second[0], new[1], new[0]]
    assert torch.allclose(handle.embed(partly), plain.embed(partly), atol=1e-5)
    assert computations(tmp_path)[-1].split()[1] == "2"  # only the new texts, once each
    TextIndex._open.clear()  # as a fresh process: the index is rebuilt from disk
    again, _ = make_handle(bert, batch_size=4, forward_cache=ForwardCache(tmp_path, bert.identity))
    assert torch.allclose(again.embed(mixed + partly), plain.embed(mixed + partly), atol=1e-5)
    assert len(computations(tmp_path)) == 3
    other_pool = again.activations(mixed, layers=[2], pool="last")[2]  # another pool is another family
    assert len(computations(tmp_path)) == 4
    assert torch.allclose(other_pool, plain.activations(mixed, layers=[2], pool="last")[2], atol=1e-5)


def test_entries_deleted_by_hand_are_recomputed_not_read(bert, make_handle, tmp_path):
    """The forward cache may be pruned at any time: a text whose entry is gone is computed again,
    in the same process (whose index still lists the entry) and in a fresh one."""
    import shutil

    from fairfight.evaluator.model_side.forward_cache import TextIndex

    handle, _ = make_handle(bert, batch_size=4, forward_cache=ForwardCache(tmp_path, bert.identity))
    plain, _ = make_handle(bert, batch_size=4)
    handle.embed(SENTENCES[:3])
    handle.embed(SENTENCES[3:])
    first = computations(tmp_path)[0].split()[0]
    shutil.rmtree(tmp_path / first)
    mixed = [SENTENCES[4], SENTENCES[0], SENTENCES[3]]
    assert torch.allclose(handle.embed(mixed), plain.embed(mixed), atol=1e-5)
    assert computations(tmp_path)[-1].split()[1] == "1"  # only the text the deleted entry held
    shutil.rmtree(tmp_path / computations(tmp_path)[-1].split()[0])
    TextIndex._open.clear()  # a fresh process reads a log that names a deleted entry
    again, _ = make_handle(bert, batch_size=4, forward_cache=ForwardCache(tmp_path, bert.identity))
    assert torch.allclose(again.embed(mixed), plain.embed(mixed), atol=1e-5)
    assert computations(tmp_path)[-1].split()[1] == "1"
