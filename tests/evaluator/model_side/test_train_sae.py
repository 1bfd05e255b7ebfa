"""ctx.model.train_sae: an SAE trained on the model side, stored in the forward cache under what
went in, and read (not trained again) by a later run with the same inputs; each run's ledger
says which it was. Through the model server, the SAE comes back as the server's reply and the
run may name it in features and AblateFeatures."""
import multiprocessing as mp
import threading

import pytest
import torch

from testkit import SENTENCES
from fairfight.errors import AffordanceError, FairfightError
from fairfight.evaluator.contender_side.handle_stub import HandleStub, ServerLink
from fairfight.evaluator.model_side.edits import AblateFeatures
from fairfight.evaluator.model_side.forward_cache import ForwardCache, computations
from fairfight.evaluator.model_side.model_handle import OPERATIONS
from fairfight.evaluator.model_side.server import ModelServer
from fairfight.spec.check import check_file

from runner_fixtures import write_fight

TEXTS = SENTENCES * 3
MANY = [f"{s} ({i})" for i in range(12) for s in SENTENCES]  # more than forward_cache.SMALL_PASS texts
ARGS = dict(layer=1, width=64, k=4, steps=30, batch_size=64, seed=0)


def _trainings(root):
    return [line for line in computations(root) if " sae@" in line]


def _notes(ledger):
    return [e.note for e in ledger.entries if e.op == "train_sae"]


def test_a_second_run_with_the_same_inputs_trains_nothing(bert, make_handle, tmp_path):
    # pass_threads: the machine-wide pass lock, as in an eval (the states and the training both take it)
    first, ledger1 = make_handle(bert, forward_cache=ForwardCache(tmp_path, bert.identity, pass_threads=1))
    assert first.train_sae(MANY, **ARGS).training["steps"] == 30  # states and training, each under the pass lock
    sae = first.train_sae(TEXTS, **ARGS)
    assert sae.training["steps"] == 30 and sae.d_sae == 64 and sae.d_in == bert.hidden_size
    assert len(_trainings(tmp_path)) == 2 and _notes(ledger1) == ["trained", "trained"]
    # another run (its own handle, ledger and cache object) with the same inputs: read, not trained
    second, ledger2 = make_handle(bert, forward_cache=ForwardCache(tmp_path, bert.identity, pass_threads=1))
    again = second.train_sae(TEXTS, **ARGS)
    assert again.sha256 == sae.sha256 and again.training == sae.training
    assert len(_trainings(tmp_path)) == 2 and _notes(ledger2) == ["reused"]
    # both ledgers count the logical use: the states read and the steps
    assert ledger2.totals()["steps"] == 30 and ledger1.totals()["steps"] == 60
    assert ledger2.totals()["ops"]["activations"] == {"calls": 1, "examples": len(TEXTS)}
    # another seed, other texts, another layer: trained again
    second.train_sae(TEXTS, **{**ARGS, "seed": 1})
    second.train_sae(TEXTS[:-1], **ARGS)
    second.train_sae(TEXTS, **{**ARGS, "layer": 2})
    assert len(_trainings(tmp_path)) == 5 and _notes(ledger2) == ["reused", "trained", "trained", "trained"]
    # training on another number of threads may round differently: it is another entry
    third, ledger3 = make_handle(bert, forward_cache=ForwardCache(tmp_path, bert.identity, pass_threads=2))
    third.train_sae(TEXTS, **ARGS)
    assert _notes(ledger3) == ["trained"]


def test_the_same_training_without_a_cache_gives_the_same_sae(bert, make_handle, tmp_path):
    cached, _ = make_handle(bert, forward_cache=ForwardCache(tmp_path, bert.identity))
    plain, ledger = make_handle(bert)
    assert cached.train_sae(TEXTS, **ARGS).sha256 == plain.train_sae(TEXTS, **ARGS).sha256
    assert _notes(ledger) == ["trained"]


def test_a_damaged_stored_sae_is_not_used(bert, make_handle, tmp_path):
    handle, _ = make_handle(bert, forward_cache=ForwardCache(tmp_path, bert.identity))
    sae = handle.train_sae(TEXTS, **ARGS)
    (folder,) = [p for p in tmp_path.iterdir() if (p / "sae.json").exists()]
    meta = (folder / "sae.json").read_text()
    (folder / "sae.json").write_text(meta.replace(sae.sha256, "0" * 64))  # weights no longer match their name
    other, ledger = make_handle(bert, forward_cache=ForwardCache(tmp_path, bert.identity))
    assert other.train_sae(TEXTS, **ARGS).sha256 == sae.sha256
    assert _notes(ledger) == ["trained"]


def test_train_sae_needs_activations_and_a_plain_handle(bert, make_handle):
    handle, ledger = make_handle(bert, grant=("embed",))
    with pytest.raises(AffordanceError, match="'activations' is not granted"):
        handle.train_sae(TEXTS, **ARGS)
    full, _ = make_handle(bert)
    with pytest.raises(FairfightError, match="width must be a positive int"):
        full.train_sae(TEXTS, **{**ARGS, "width": 0})
    sae = full.train_sae(TEXTS, **ARGS)
    with pytest.raises(FairfightError, match="not on an intervene view"):
        full.intervene([AblateFeatures(1, sae, [0])]).train_sae(TEXTS, **ARGS)


@pytest.fixture(scope="module")
def spec(tmp_path_factory, bert_dir):
    path = write_fight(tmp_path_factory.mktemp("served-sae"), bert_dir, {"probe": ""}, seeds=1)
    report = check_file(path, refusals_ok=True)
    assert report.ok, report.diagnostics
    return report.spec


def test_through_the_model_server_the_sae_is_the_servers_and_reused_across_runs(spec, bert, tmp_path):
    server = ModelServer(spec, bert)
    conns = []

    def open_run(i):
        run = {"name": "probe", "role": "method", "declared": True, "control": None, "seed": 0,
               "grant": {"model": sorted(OPERATIONS), "data": {}, "knowledge": []}}
        state = server.open(f"run{i}", {"run": run, "forward_cache": str(tmp_path), "pass_threads": 1})
        trusted, untrusted = mp.Pipe()
        conns.append(untrusted)
        threading.Thread(target=server.serve_run, args=(state, trusted), daemon=True).start()
        link = ServerLink(untrusted)
        return HandleStub(link, 0, link.call("hello")["handle"]), state

    try:
        stub, state = open_run(0)
        sae = stub.train_sae(TEXTS, **ARGS)
        assert sae.training["steps"] == 30 and sae.sha256 in state.saes
        # the run names it without sending its weights (the server made it)
        assert stub.features(TEXTS, sae, layer=1).shape == (len(TEXTS), 64)
        assert len(stub.intervene([AblateFeatures(1, sae, [0, 1])]).embed(TEXTS)) == len(TEXTS)
        stub2, state2 = open_run(1)
        assert stub2.train_sae(TEXTS, **ARGS).sha256 == sae.sha256
        assert len(_trainings(tmp_path)) == 1
        assert _notes(state.ledger) == ["trained"] and _notes(state2.ledger) == ["reused"]
        tokens = stub2.tokens(TEXTS[:2])
        assert len(tokens) == 2 and tokens[0]["tokens"][0] == "[CLS]"
        sparse = stub2.features(TEXTS[:2], sae, layer=1, pool="sparse")
        assert [i.shape[0] for i, _ in sparse] == [len(t["tokens"]) for t in tokens]
        assert torch.allclose(torch.zeros(len(tokens[0]["tokens"]), 64).scatter_add(1, *sparse[0]),
                              stub2.features(TEXTS[:1], sae, layer=1, pool="none")[0], atol=1e-5)
    finally:
        for c in conns:
            c.close()
