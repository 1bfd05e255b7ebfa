"""What a method author needs is documented: every metric (definition and direction) in
docs/metrics.md, every public attribute of the context and of its handles, and the knowledge
forms, in docs/method-api.md. Adding an attribute or a metric without documenting it fails here."""
import dataclasses
import re
from pathlib import Path

from fairfight.evaluator.contender_side.context import Context, DataView, KnowledgeView, SplitHandle, TaskInfo
from fairfight.evaluator.model_side.ledger import Ledger
from fairfight.evaluator.judgement.scoring import HIGHER_IS_BETTER
from fairfight.spec.vocabulary import METRICS

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _public(obj) -> set:
    return {n for n in dir(obj) if not n.startswith("_")}


def test_every_metric_is_documented_with_its_direction():
    page = (DOCS / "metrics.md").read_text()
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(\w+)(?:\(\w+\))?` \| [^|]+ \| (higher|lower) \|",
                                                         page, re.M)}
    assert set(rows) == set(METRICS)
    for name, better in rows.items():
        assert (better == "higher") == HIGHER_IS_BETTER[name], name
    assert "## Leakage, explained" in page


def test_every_public_attribute_of_the_context_is_documented():
    page = (DOCS / "method-api.md").read_text()
    ctx = Context(model=None, data=None, knowledge=None, params={}, seed=0, ledger=Ledger(),
                  predictors_factory=lambda c: None, task=TaskInfo("sentiment", ("negative", "positive")))
    for name in _public(ctx):
        assert f"`ctx.{name}" in page, name
    for field in dataclasses.fields(TaskInfo):
        assert f"`ctx.task.{field.name}`" in page, field.name
    split = SplitHandle("train", {"text": ["a"]}, frozenset({"text"}), Ledger(), "rules")
    for name in _public(split):
        assert f"`.{name}`" in page, name
    for view in (DataView({}, Ledger(), "rules"), KnowledgeView({}, Ledger(), "rules")):
        for name in _public(view):
            assert f".{name}()" in page or f"`.{name}`" in page, (type(view).__name__, name)


def test_the_knowledge_forms_and_what_a_method_receives_are_documented():
    page = (DOCS / "method-api.md").read_text()
    section = page.split("## Knowledge", 1)[1].split("\n## ", 1)[0]
    for needed in ("a name", "a word list", "an artifact file", "sha256", "as text", "concept_words"):
        assert needed in section, needed
