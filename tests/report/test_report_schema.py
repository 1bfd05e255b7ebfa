"""schema/results.schema.json: the published contract of results.json."""
import copy
import json
from pathlib import Path

import jsonschema
import pytest

from report_fixtures import FIXTURES, load

SCHEMA = Path(__file__).resolve().parents[2] / "schema" / "results.schema.json"


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def errors(validator, results):
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(results)]


def test_schema_is_draft07_with_descriptions():
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["description"] and all("description" in schema["properties"][k] or "$ref" in schema["properties"][k]
                                         for k in ("format", "version", "runs", "verdicts", "intervals"))


def test_a_fresh_real_bundle_validates(validator, small_bundle):
    out, _ = small_bundle
    assert errors(validator, load(out / "results.json")) == []


def test_the_fixture_validates(validator):
    assert errors(validator, load(FIXTURES / "results.json")) == []


@pytest.mark.parametrize("break_it, where", [
    (lambda r: r.pop("runs"), "'runs' is a required property"),
    (lambda r: r.update(version=2), "version"),
    (lambda r: r["runs"][0].update(status="crashed"), "runs/0/status"),
    (lambda r: r["runs"][0]["grant"].update(model=["telepathy"]), "runs/0/grant/model/0"),
    (lambda r: r["verdicts"][0].update(verdict="probably"), "verdicts/0/verdict"),
    (lambda r: r["evaluate"].update(metrics=["accuracy", "vibes"]), "evaluate/metrics/1"),
    (lambda r: r.pop("intervals"), "'intervals' is a required property"),  # required unless interrupted
    (lambda r: r["counts"].update(succeeded=-1), "counts/succeeded"),
    (lambda r: r["tuning"].update(metric="vibes"), "tuning/metric"),
])
def test_a_broken_results_file_does_not_validate(validator, break_it, where):
    broken = copy.deepcopy(load(FIXTURES / "results.json"))
    break_it(broken)
    found = errors(validator, broken)
    assert found and any(where in e for e in found), found


def test_an_interrupted_results_file_needs_no_verdicts(validator):
    partial = copy.deepcopy(load(FIXTURES / "results.json"))
    partial["interrupted"] = True
    for key in ("verdicts", "notes", "intervals"):
        partial.pop(key)
    assert errors(validator, partial) == []


def test_model_operations_agree_with_the_spec_vocabulary():
    from fairfight.spec.vocabulary import MODEL_OPS

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema["definitions"]["model_op"]["enum"] == list(MODEL_OPS)
