import dataclasses
import json
import pickle
from pathlib import Path

import pytest

from fairfight.spec.check import check_file, load_spec
from fairfight.spec.ir import FrozenMap, Uses
from fairfight.spec.reference import render
from fairfight.spec.schema import schema, schema_default

ROOT = Path(__file__).resolve().parents[2]
VALID = ROOT / "tests/specs/valid"


def test_defaults_come_from_the_schema():
    spec = load_spec(VALID / "minimal.yaml")
    assert spec.task.tier == schema_default("task", "tier") == "fair-fight"
    assert spec.evaluate.seeds == schema_default("evaluate", "seeds") == 3
    assert spec.evaluate.metrics == ("accuracy",) and spec.evaluate.primary == "accuracy"
    assert spec.evaluate.confidence == 0.95 and spec.evaluate.kind == "classification"
    assert spec.model.revision == "main" and spec.model.kind == "auto"
    assert spec.splits["test"].role == "evaluation" and spec.splits["test"].seed == 0
    assert spec.rules.budget.trials == 1 and spec.rules.grant == Uses()
    assert spec.execution.executor == "local" and spec.baselines == () and spec.claims == ()


def test_full_spec_ir():
    spec = load_spec(VALID / "full.yaml")
    assert spec.rules.grant.data["ambiguous"] == frozenset({"text", "profession"})
    assert spec.rules.budget.wall_time == 600.0
    assert spec.rules.knowledge["profession_words"].value == ("professor", "lecture", "nurse", "patient")
    assert spec.rules.knowledge["features"].artifact == (VALID / "features.json").resolve()
    shift = spec.methods["shift"]
    assert shift.run == f"{(VALID / 'methods.py').resolve()}:shift"
    assert shift.uses.model == frozenset({"activations", "intervene", "gradients"})
    assert shift.uses.missing_from(spec.rules.grant) == []
    assert spec.methods["plain"].uses is None  # declared nothing: the full rules
    assert [b.name for b in spec.baselines][:3] == ["finetune_head", "finetune_full", "zero_shot"]
    assert spec.baselines[2].params["description"] == "a bio of a {label}"
    assert spec.skylines[0].split == "balanced"
    claim = spec.claims[1]
    assert (claim.subject.name, claim.against.control, claim.against.name, claim.amount) == (
        "shift", "random_model", "shift", 0.05)
    assert spec.claims[2].amount == pytest.approx(0.05)
    where = spec.splits["ambiguous"].where
    assert where({"profession": "nurse", "gender": "female"}) and not where({"profession": "nurse", "gender": "male"})
    assert spec.datasets["local"].source == f"jsonl:{(VALID / 'data.jsonl').resolve()}"
    assert spec.datasets["local"].labels["job"]["0"] == "professor"


def test_ir_is_frozen_hashable_picklable_and_serialisable():
    spec = load_spec(VALID / "full.yaml")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.task.name = "x"
    with pytest.raises(TypeError):
        spec.methods["x"] = 1
    hash(spec.rules.grant)
    assert pickle.loads(pickle.dumps(spec)) == spec
    data = json.loads(json.dumps(spec.to_dict()))
    assert data["splits"]["ambiguous"]["where"].startswith("(profession ==")
    assert data["rules"]["grant"]["model"] == sorted(data["rules"]["grant"]["model"])


def test_uses_beyond_rules_are_named():
    rules = Uses(frozenset({"embed"}), FrozenMap({"a": frozenset({"text"})}), frozenset())
    asked = Uses(frozenset({"embed", "weights"}), FrozenMap({"a": frozenset({"text", "y"}), "b": frozenset({"text"})}),
                 frozenset({"k"}))
    assert asked.missing_from(rules) == ["model operation 'weights'", "column 'y' of split 'a'", "split 'b'", "knowledge 'k'"]


def test_overrides_change_the_ir_and_the_hash():
    base = load_spec(VALID / "minimal.yaml")
    over = load_spec(VALID / "minimal.yaml", ["evaluate.seeds=7", "rules.model=[embed]", "task.tier=no-holds-barred"])
    assert over.evaluate.seeds == 7 and over.rules.grant.model == frozenset({"embed"})
    assert over.spec_hash != base.spec_hash
    report = check_file(VALID / "minimal.yaml", ["splits.test.where=profession =! 'x'"])
    assert [d.headline() for d in report.errors] == [
        "--set:1:30: splits.test.where: invalid filter: unexpected character '='"]


@pytest.mark.parametrize("override, message", [
    ("evaluate", "--set:1:1: an override is PATH=VALUE"),
    ("evaluate.seeds=", "missing value after 'evaluate.seeds='"),
    ("task.name.x=1", "--set:1:11: 'task.name' is a single value, it has no key 'x'"),
    ("evaluate.seeds.x=1", "--set:1:10: evaluate.seeds: expected a whole number, got a mapping"),
    ("evaluate.seeds=[1, 2", "YAML syntax error"),
    ("a..b=1", "'' is not a key"),
])
def test_bad_overrides(override, message):
    report = check_file(VALID / "minimal.yaml", [override])
    assert not report.ok and message in report.errors[0].headline(), report.errors[0].headline()


def test_overrides_into_lists():
    ok = load_spec(VALID / "minimal.yaml", ["rules.model=[embed]", "rules.model.1=activations"])
    assert ok.rules.grant.model == frozenset({"embed", "activations"})
    report = check_file(VALID / "minimal.yaml", ["rules.model=[embed]", "rules.model.5=x"])
    assert "--set:1:13: 'rules.model' is a list of 1; '5' is not an index in it" in report.errors[0].headline()


def test_reference_doc_is_current():
    doc = (ROOT / "docs/spec-reference.md").read_text()
    assert doc == render(), "regenerate: python -m fairfight.spec.reference > docs/spec-reference.md"


def test_schema_is_draft7_and_documents_every_property():
    import jsonschema

    s = schema()
    jsonschema.Draft7Validator.check_schema(s)
    missing = []

    def walk(node, path):
        for key, sub in node.get("properties", {}).items():
            if "description" not in sub and "$ref" not in sub:
                missing.append(f"{path}.{key}")
            walk(sub, f"{path}.{key}")
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], f"{path}.*")

    walk(s, "")
    assert missing == []


def test_schema_is_shipped_in_the_package():
    from importlib import resources

    text = resources.files("fairfight._schemas").joinpath("fairfight.schema.json").read_text()
    assert json.loads(text) == json.loads((ROOT / "schema/fairfight.schema.json").read_text())


def test_run_time_errors_quote_their_own_override_among_several():
    quickstart = ROOT / "examples/quickstart/spec.yaml"
    spec = load_spec(quickstart, ['splits.test.where=gender == "x"', "evaluate.seeds=2"])
    first = spec.error("splits.test.where", "boom").diagnostics[0]
    assert first.headline() == "--set:1:19: splits.test.where: boom"
    assert 'splits.test.where=gender == "x"' in first.snippet
    second = spec.error("evaluate.seeds", "boom").diagnostics[0]
    assert second.headline() == "--set:1:16: evaluate.seeds: boom" and "evaluate.seeds=2" in second.snippet
