"""Attacks an adversarial author would try, each through a real `fairfight eval` with the model in
the model server and the contenders in sandboxed processes (issue 12's list). Each run ends refused
with the reason in results.json and in `fairfight audit`, or (an attack that finds nothing) is shown
harmless, with what it found recorded in its log."""
import json
import os
import subprocess
import sys

import pytest

from fairfight.evaluator.contender_side import sandbox

from runner_fixtures import CHEATERS, write_fight

needs_os = pytest.mark.skipif(sandbox.expected()[0] != "os", reason="no Landlock ABI >= 4 / seccomp here")

ATTACKS = '''
import os
import sys
from fairfight import method

DATA = {data!r}
MODEL_DIR = {model!r}


def _reachable_modules(roots, limit=400_000):
    """Every torch.nn.Module reachable from `roots` through attributes, containers and module globals."""
    import torch
    seen, found, todo = set(), [], list(roots)
    while todo and len(seen) < limit:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, (str, bytes, int, float, bool, type(None))):
            continue
        seen.add(id(obj))
        if isinstance(obj, torch.nn.Module):
            found.append(obj)
            continue
        if type(obj) is dict:
            todo += list(obj.values())
        elif type(obj) in (list, tuple, set, frozenset):  # exact types: a subclass's __iter__ may run code
            todo += list(obj)
        try:
            todo += list(vars(obj).values())
        except TypeError:
            pass
        for name in getattr(type(obj), "__slots__", ()):
            todo.append(getattr(obj, name, None))
    return found


@method
def walks_to_the_weights(ctx):
    """Walks ctx (the model stub, its connection, the data and ledger) and every module's globals for an
    nn.Module, and zeroes the weights of whatever it reaches."""
    import torch
    found = _reachable_modules([ctx, ctx.model, ctx.data, ctx.ledger, dict(sys.modules)])
    weighted = [m for m in found if any(True for _ in m.parameters())]  # activation functions hold no weights
    with torch.no_grad():
        for module in weighted:
            for p in module.parameters():
                p.zero_()
    ctx.log(f"modules reached: {{len(found)}}; with weights: {{len(weighted)}}")
    return ctx.predictors.probe(ctx.model, ctx.data["train"].texts, ctx.data["train"]["profession"], layer=1)


@method
def walks_gc(ctx):
    import gc
    try:
        gc.get_objects()
    except Exception:
        pass  # the tripwire refused it, and recorded it
    return ctx.predictors.constant("nurse")


@method
def safetensors_loads_the_model(ctx):
    from safetensors.torch import load_file  # native code: no Python audit event, only the kernel stops it
    load_file(MODEL_DIR + "/model.safetensors")
    return ctx.predictors.constant("nurse")


@method
def switches_the_guard_off(ctx):
    from fairfight.evaluator.contender_side import guard
    guard._ACTIVE.active = False  # the audit hook does nothing now ...
    os.close(os.open(DATA, os.O_RDONLY))  # ... and the kernel still refuses
    return ctx.predictors.constant("nurse")


@method
def patches_the_stub(ctx):
    from fairfight.evaluator.contender_side import handle_stub
    handle_stub.HandleStub.grant = property(lambda self: frozenset(handle_stub.OPERATIONS))
    try:
        ctx.model.weights()  # the stub says granted; the server decides
    except Exception:
        pass
    return ctx.predictors.constant("nurse")


@method
def erases_its_trace(ctx):
    try:
        ctx.data["train"]["gender"]
    except Exception:
        pass
    for target in (ctx.ledger, ctx.data, ctx.data["train"]):  # wipe whatever record this process holds
        for name in list(vars(target)):
            setattr(target, name, None)
    ctx.ledger = None
    return ctx.predictors.constant("nurse")
'''

NAMES = ("walks_to_the_weights", "walks_gc", "safetensors_loads_the_model", "switches_the_guard_off",
         "patches_the_stub", "erases_its_trace", "balances_each_batch")
REFUSED = {  # run -> what its reasons say
    "walks_gc": "walking objects with gc.get_objects",
    "safetensors_loads_the_model": "OS sandbox refused",
    "switches_the_guard_off": "OS sandbox refused",
    "patches_the_stub": "operation 'weights' is not granted",
    "erases_its_trace": "column 'gender' of split 'train' is not granted",
    "balances_each_batch": "batch-dependent predictions",
}


def _cli(*args):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "COLUMNS": "400"}
    env.pop("FAIRFIGHT_ISOLATION", None)
    return subprocess.run([sys.executable, "-m", "fairfight.cli", *args], capture_output=True, text=True,
                          timeout=600, env=env)


@pytest.fixture(scope="module")
def attacked(tmp_path_factory, bert_dir):
    folder = tmp_path_factory.mktemp("attacks")
    spec = write_fight(folder, bert_dir, {n: "" for n in NAMES}, cheaters=True, seeds=1)
    attacks = ATTACKS.format(data=str(folder / "bios.jsonl"), model=str(bert_dir))
    balances = CHEATERS[CHEATERS.index("@method\ndef balances_each_batch"):CHEATERS.index("@method\ndef crashes")]
    (folder / "cheaters.py").write_text(attacks + "\n\n" + balances)
    r = _cli("eval", str(spec), "--out", str(folder / "bundle"), "--workers", "2", "--no-progress")
    results = json.loads((folder / "bundle" / "results.json").read_text())
    audit = _cli("audit", str(folder / "bundle"))
    return folder, r, {run["label"]: run for run in results["runs"]}, audit


@needs_os
@pytest.mark.parametrize("name", sorted(REFUSED))
def test_the_attack_is_refused_with_its_reason_in_results_and_audit(attacked, name):
    _, r, runs, audit = attacked
    run = runs[name]
    assert run["status"] == "refused", (run, r.stderr)
    assert any(REFUSED[name] in reason for reason in run["reasons"]), run["reasons"]
    assert run["metrics"] is None and run["isolation"] == "os" and run["model_access"] == "server"
    line = next((x for x in audit.stdout.splitlines() if f"] {name} refused" in x), "")
    assert REFUSED[name] in line, audit.stdout


@needs_os
def test_the_caught_refusal_stays_in_the_ledger_the_server_kept(attacked):
    folder, _, runs, _ = attacked
    for name in ("patches_the_stub", "erases_its_trace"):
        ledger = json.loads((folder / "bundle" / "runs" / runs[name]["key"] / "ledger.json").read_text())
        assert [e for e in ledger["entries"] if e["refused"]], ledger


@needs_os
def test_walking_to_the_weights_finds_no_module_and_changes_nothing(attacked):
    folder, _, runs, _ = attacked
    run = runs["walks_to_the_weights"]
    assert run["status"] == "succeeded" and run["model_access"] == "server", run
    log = (folder / "bundle" / "runs" / run["key"] / "log.txt").read_text()
    assert "with weights: 0" in log, log
    assert run["metrics"]["accuracy"] > 0.5  # a probe on the model's real (unzeroed) activations


def test_served_runs_record_where_the_server_ran_the_model(attacked):
    folder, _, runs, _ = attacked
    assert runs["walks_to_the_weights"]["device"] == {"device": "cpu", "dtype": "float32"}
    provenance = json.loads((folder / "bundle" / "provenance.json").read_text())
    assert provenance["device"]["used"] == ["cpu"]  # what the runs report, not only what was planned
