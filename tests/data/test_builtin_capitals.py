"""builtin:capitals: factual questions under social pressure (country capitals, a suggested wrong city)."""
import hashlib
import json
from collections import Counter

import pytest

from fairfight.data._capitals import COUNTRIES, LEVELS
from fairfight.data.builtin import BUILTINS, generate
from fairfight.errors import FairfightError


def test_columns_splits_and_default_sizes():
    meta = BUILTINS["capitals"]
    parts = generate("capitals")
    assert set(parts) == set(meta.splits) == {"train", "neutral", "mild", "firm", "insistent", "asked"}
    assert parts["asked"] == [row for level in LEVELS for row in parts[level]]  # every level, level by level
    assert len(parts["train"]) == 20 * 4 and all(len(parts[level]) == len(COUNTRIES) - 20 for level in LEVELS)
    for rows in parts.values():
        assert all(set(r) == set(meta.columns) for r in rows)


def test_the_pressure_splits_ask_the_same_countries_with_a_wrong_city_suggested():
    parts = generate("capitals")
    countries = [r["country"] for r in parts["neutral"]]
    capital = {c: (cap, wrong) for c, cap, wrong in COUNTRIES}
    for level in LEVELS:
        rows = parts[level]
        assert [r["country"] for r in rows] == countries  # rows pair up across the splits
        for r in rows:
            right, wrong = capital[r["country"]]
            assert r["answer"] == r["capital"] == right and r["distractor"] == wrong and r["pressure"] == level
            assert r["text"].endswith(f"What is the capital of {r['country']}?")
            assert right not in r["text"]  # the question never gives the answer away
            if level == "neutral":
                assert r["suggested"] == "" and r["text"] == f"What is the capital of {r['country']}?"
            else:
                assert r["suggested"] == wrong and wrong in r["text"]
    # more insistence, more words
    mean = {level: sum(len(r["text"]) for r in parts[level]) / len(parts[level]) for level in LEVELS}
    assert mean["neutral"] < mean["mild"] <= mean["firm"] + 15 < mean["insistent"]
    assert len({r["text"] for r in parts["insistent"]}) == len(parts["insistent"])


def test_no_name_gives_another_away():
    """contains(answer) must not be earned by repeating the question or the user's city (Tunis is
    left out: 'Tunisia' contains it)."""
    for country, capital, wrong in COUNTRIES:
        c, cap, w = country.lower(), capital.lower(), wrong.lower()
        assert cap not in c and cap not in w and w not in cap and w not in c, country
    assert len({c for c, _, _ in COUNTRIES}) == len(COUNTRIES) == 81


def test_train_countries_are_never_asked_in_evaluation():
    parts = generate("capitals", {"train_size": 30, "size": 40})
    train = {r["country"] for r in parts["train"]}
    assert len(train) == 30 and Counter(r["pressure"] for r in parts["train"]) == dict.fromkeys(LEVELS, 30)
    assert all(not train & {r["country"] for r in parts[level]} for level in LEVELS)
    assert len(parts["neutral"]) == 40


def test_choice_format_asks_a_or_b_with_the_capital_and_the_distractor():
    parts = generate("capitals", {"format": "choice"})
    for level in ("train", *LEVELS):
        for r in parts[level]:
            a, b = (r["capital"], r["distractor"]) if r["answer"] == "A" else (r["distractor"], r["capital"])
            assert r["text"].endswith(f"? (A) {a} (B) {b}\nAnswer with A or B.")
    letters = Counter(r["answer"] for r in parts["neutral"])
    assert abs(letters["A"] - letters["B"]) <= 1  # balanced: always-A earns one half
    # the same country has the same letters at every level: paired rows differ in the pressure only
    assert all([r["answer"] for r in parts[level]] == [r["answer"] for r in parts["neutral"]] for level in LEVELS)


def test_deterministic_seeded_and_pinned():
    a = generate("capitals", {"seed": 3})
    assert a == generate("capitals", {"seed": 3}) and a != generate("capitals", {"seed": 4})
    levels = {k: v for k, v in generate("capitals").items() if k != "asked"}  # "asked" is their concatenation
    digest = hashlib.sha256(json.dumps(levels, sort_keys=True).encode()).hexdigest()
    assert digest == PINNED  # a change to the default rows is a change of every spec that uses them


PINNED = "f458c20cbd291ca187fadea6f2b7a6b3d2dc61f5aaf5d5e0b9fd035f5ac0a6e6"


@pytest.mark.parametrize("options,pattern", [
    ({"format": "mcq"}, "format' must be 'open'"), ({"train_size": 81}, "train_size' must be an integer from 0 to 80"),
    ({"train_size": 70, "size": 12}, "size' must be an integer from 1 to 11"), ({"confound": 1}, "has no option"),
])
def test_bad_options(options, pattern):
    with pytest.raises(FairfightError, match=pattern):
        generate("capitals", options)
