"""The model server and its stubs: the same results as a handle in-process, the grant checked and
the ledger kept on the server, only plain data accepted from the contender side."""
import multiprocessing as mp
import threading
import time

import pytest
import torch

from testkit import SENTENCES
from fairfight.errors import AffordanceError, BudgetExceeded, FairfightError
from fairfight.evaluator.contender_side.handle_stub import HandleStub, LedgerStub, ServerLink
from fairfight.evaluator.model_side import wire
from fairfight.evaluator.model_side.edits import Ablate, AblateFeatures, ProjectOut
from fairfight.evaluator.model_side.model_handle import OPERATIONS
from fairfight.evaluator.model_side.server import ModelServer
from fairfight.objectives import ClassLogit, Direction, Sum
from fairfight.sae.model import SAE
from fairfight.spec.check import check_file

from runner_fixtures import write_fight

TEXTS = SENTENCES[:4]


@pytest.fixture(scope="module")
def spec(tmp_path_factory, bert_dir):
    folder = tmp_path_factory.mktemp("served")
    path = write_fight(folder, bert_dir, {"probe": ""}, seeds=1)
    path.write_text(path.read_text().replace("budget: {examples: 2000}", "budget: {examples: 40}"))
    report = check_file(path, refusals_ok=True)
    assert report.ok, report.diagnostics
    return report.spec


def _run(grant):
    return {"name": "probe", "role": "method", "declared": True, "control": None, "seed": 0,
            "grant": {"model": sorted(grant), "data": {}, "knowledge": []}}


@pytest.fixture
def served(spec, bert):
    """served(grant) -> (stub, ledger stub, the server's own ledger, the server-side handle)."""
    server = ModelServer(spec, bert)
    conns = []

    def make(grant=OPERATIONS):
        state = server.open(f"run{len(conns)}", {"run": _run(grant)})
        trusted, untrusted = mp.Pipe()
        conns.append(untrusted)
        threading.Thread(target=server.serve_run, args=(state, trusted), daemon=True).start()
        link = ServerLink(untrusted)
        hello = link.call("hello")
        assert hello["files"] and hello["handle"]["hidden_size"] == bert.hidden_size
        return HandleStub(link, 0, hello["handle"]), LedgerStub(link), state.ledger, state.handles[0]

    yield make
    for c in conns:
        c.close()


def test_the_stub_gives_what_the_handle_gives_and_the_server_keeps_the_ledger(served):
    stub, ledger, trusted, handle = served()
    assert (stub.kind, stub.num_layers, stub.hidden_size, stub.grant) == (handle.kind, handle.num_layers,
                                                                          handle.hidden_size, handle.grant)
    assert torch.equal(stub.embed(TEXTS), handle.embed(TEXTS))
    got, want = stub.activations(TEXTS, layers=[1, -1]), handle.activations(TEXTS, layers=[1, -1])
    assert set(got) == {1, -1} and all(torch.equal(got[k], want[k]) for k in want)
    edits = [ProjectOut(1, torch.ones(stub.hidden_size)), Ablate(0, dims=[3])]
    edited = stub.intervene(edits)
    assert [e.to_dict() for e in edited.edits] == [e.to_dict() for e in edits] and stub.edits == ()
    assert torch.equal(edited.embed(TEXTS), handle.intervene(edits).embed(TEXTS))
    assert ledger.totals() == trusted.totals() and trusted.totals()["ops"]["embed"]["calls"] == 4  # both sides charge it


def test_a_refusal_is_recorded_on_the_server_and_raised_as_the_same_type(served):
    stub, ledger, trusted, _ = served(grant=("embed",))
    with pytest.raises(AffordanceError, match="'weights' is not granted"):
        stub.weights()
    ledger.refuse("read:gender", "column 'gender' is not granted", split="train")
    refused = [e.refused for e in trusted.entries if e.refused]
    assert len(refused) == 2 and "weights" in refused[0]
    with pytest.raises(BudgetExceeded):
        stub.embed(TEXTS * 20)  # 80 examples against a budget of 40
    with pytest.raises(FairfightError, match="single string"):
        stub.embed("one text")


def test_gradients_take_declarative_objectives_and_refuse_a_callable(served):
    stub, _, trusted, handle = served()
    with pytest.raises(FairfightError, match=r"declarative objective.*Sum\(.*ClassLogit.*Direction"):
        stub.gradients(TEXTS, lambda o: o["last_hidden_state"].sum())
    for objective, same in [(Sum("last_hidden_state", dims=[0]), lambda o: o["last_hidden_state"][..., 0].sum()),
                            (Sum("hidden_states", layer=1, masked=True),
                             lambda o: (o["hidden_states"][1] * o["attention_mask"][..., None]).sum()),
                            (Direction(torch.ones(handle.hidden_size)),
                             lambda o: (o["last_hidden_state"].sum(-1) * o["attention_mask"]).sum())]:
        assert torch.allclose(stub.gradients(TEXTS, objective, wrt="inputs"),
                              handle.gradients(TEXTS, same, wrt="inputs"), atol=1e-6)
    assert ClassLogit(3).to_dict() == {"objective": "class_logit", "index": 3}
    stub_no, _, trusted_no, _ = served(grant=("embed",))
    with pytest.raises(AffordanceError):  # a refusal comes before the objective's own error
        stub_no.gradients(TEXTS, lambda o: o)
    assert [e.op for e in trusted_no.entries if e.refused] == ["gradients"]


def test_an_sae_travels_as_weights_and_finetune_returns_a_usable_head(served, bert):
    stub, _, _, handle = served()
    g = torch.Generator().manual_seed(0)
    d, m = bert.hidden_size, 4 * bert.hidden_size
    sae = SAE(torch.randn(d, m, generator=g), torch.randn(m, generator=g), torch.randn(m, d, generator=g),
              torch.zeros(d), "topk", k=5)
    assert torch.equal(stub.features(TEXTS, sae, layer=1), handle.features(TEXTS, sae, layer=1))
    other, _, _, _ = served()  # another run on the same server may not name this run's SAE without sending it
    with pytest.raises(FairfightError, match="was sent by this run"):
        other._HandleStub__link.call("features", 0, texts=TEXTS, sae=sae.sha256, layer=1)
    ablated = stub.intervene(AblateFeatures(1, sae, [0, 1]))
    assert not torch.equal(ablated.embed(TEXTS), stub.embed(TEXTS))
    tuned = stub.finetune(TEXTS, ["a", "b", "a", "b"], steps=2, seed=1)
    assert tuned.head.classes == ("a", "b") and len(tuned.head.predict(tuned.embed(TEXTS))) == 4
    assert "weights" in stub.grant and set(stub.weights()) == set(dict(bert.model.named_parameters()))


def test_after_ready_only_each_chunks_own_view_serves_the_run(spec, bert):
    """Predicting processes (contender_side/predicting.py) each get a view: the handles made while
    training, read-only; what one makes is its own; the ledger it reads is the one at `ready`.
    The training's own connection is refused from then on."""
    server = ModelServer(spec, bert)
    state = server.open("run", {"run": _run(OPERATIONS)})

    def connect(view):
        trusted, untrusted = mp.Pipe()
        threading.Thread(target=server.serve_run, args=(view, trusted), daemon=True).start()
        link = ServerLink(untrusted)
        return HandleStub(link, 0, link.call("hello")["handle"]), LedgerStub(link), untrusted

    training, _, _ = connect(state)
    edited = training.intervene([Ablate(0, dims=[3])])  # made while training: every chunk may use it
    server.begin_evaluation("run", TEXTS)
    with pytest.raises(FairfightError, match="closed at `ready`"):
        training.embed(TEXTS)
    first, _, _ = connect(state.view())
    second, _, _ = connect(state.view())
    made = first.intervene([Ablate(0, dims=[5])])  # chunk 1's own
    assert torch.equal(made.embed(TEXTS), state.handles[0].intervene([Ablate(0, dims=[5])]).embed(TEXTS))
    hid = edited._HandleStub__id
    assert torch.equal(HandleStub(second._HandleStub__link, hid, {}).embed(TEXTS), state.handles[hid].embed(TEXTS))
    with pytest.raises(FairfightError, match="no model handle"):  # chunk 2 cannot find chunk 1's handle
        second._HandleStub__link.call("embed", made._HandleStub__id, texts=TEXTS)
    first.embed(["a text that is not an input"])  # charged to the run, and invisible to the next chunk
    assert len(state.ledger.to_dict()["entries"]) > len(state.at_evaluation["entries"])
    assert second._HandleStub__link.call("ledger") == state.at_evaluation


def test_the_wire_carries_plain_data_only():
    value = {"texts": ["a"], 3: torch.arange(6).reshape(2, 3).float(), "n": None, "nested": [(1, 2.5, True)]}
    back = wire.decode(wire.encode(value))
    assert back["texts"] == ["a"] and back["nested"] == [[1, 2.5, True]] and back["n"] is None
    assert torch.equal(back[3], value[3])

    class Sneaky:
        def __reduce__(self):
            return (print, ("ran on the server",))

    for bad in (Sneaky(), print, {"f": lambda: 1}):
        with pytest.raises(FairfightError, match="cannot be sent to the model server"):
            wire.encode(bad)


def test_the_orchestrator_judges_from_the_servers_ledger_and_its_own_chunks():
    from fairfight.evaluator.contender_side.batching import chunk_texts
    from fairfight.evaluator.orchestration.served_runs import judged

    texts = [f"text {i}" for i in range(10)]
    chunks, recheck, sent = chunk_texts(texts, "key")
    plan = (len(texts), chunks, recheck)
    honest = [([{"prediction": "a" if t < "text 5" else "b"} for t in chunk], ["a", "b"]) for chunk in sent]
    ok = judged({"status": "succeeded", "chunk_predictions": honest, "isolation": "os"}, {"entries": []}, plan,
                "fair-fight", "os")
    assert ok["status"] == "succeeded" and ok["batch_check"]["differing"] == 0
    assert [r["prediction"] for r in ok["predictions"]] == ["a" if t < "text 5" else "b" for t in texts]
    # the worker says it succeeded and claims the best isolation; the server's ledger has a refusal
    caught = {"entries": [{"op": "weights", "refused": "operation 'weights' is not granted"}]}
    refused = judged({"status": "succeeded", "chunk_predictions": honest, "isolation": "os"}, caught, plan,
                     "fair-fight", "tripwire")
    assert refused["status"] == "refused" and refused["predictions"] is None and refused["isolation"] == "tripwire"
    assert refused["reasons"] == ["operation 'weights' is not granted"]
    by_batch = [([{"prediction": "a" if i < len(chunk) // 2 else "b"} for i in range(len(chunk))], ["a", "b"])
                for chunk in sent]
    assert judged({"status": "succeeded", "chunk_predictions": by_batch}, None, plan, "fair-fight",
                  "os")["status"] == "refused"
    junk = judged({"status": "won", "elapsed": "soon", "log": [1, "x"], "chunk_predictions": 3}, None, plan,
                  "fair-fight", "os")
    assert junk["status"] == "failed" and junk["elapsed"] == 0.0 and junk["log"] == ["x"]


def test_time_spent_waiting_behind_another_runs_operation_is_not_the_runs_own(spec, bert):
    """The server runs one model operation at a time: a run whose request waits while another run's
    operation holds the model (a long SAE training) has that wait counted apart (QueueClock), and its
    ledger's wall-time clock stands still meanwhile (the orchestrator's limits leave it out too)."""
    server = ModelServer(spec, bert)
    state = server.open("waiting", {"run": _run(OPERATIONS)})
    trusted, untrusted = mp.Pipe()
    threading.Thread(target=server.serve_run, args=(state, trusted), daemon=True).start()
    link = ServerLink(untrusted)
    stub = HandleStub(link, 0, link.call("hello")["handle"])
    stub.embed(TEXTS)  # nothing to wait for
    assert server.queued("waiting") < 0.5
    own_before = state.ledger.elapsed
    with server.compute:  # another run's operation holds the model for 1.5 s
        asked = threading.Thread(target=stub.embed, args=(TEXTS,))
        asked.start()
        time.sleep(1.5)
    asked.join(60)
    assert not asked.is_alive()
    waited = server.queued("waiting")
    assert 1.4 < waited < 5
    assert state.ledger.elapsed - own_before < 1.0  # the wait is not on the run's wall-time clock
    assert server.queued("no such run") == 0.0
