"""evaluate.resample: which rows each seed trains on."""
from collections import Counter

import pytest

from fairfight.data.sources import Table
from fairfight.data.splits import resample_rows
from fairfight.spec.build import parse_resample

TABLE = Table({"text": [f"t{i}" for i in range(100)], "y": ["a"] * 70 + ["b"] * 30})


def rows(kind, seed, split="train", strata=()):
    return resample_rows(TABLE, parse_resample(kind), split, seed, strata)


def test_none_keeps_every_row_in_order():
    assert rows("none", 0) == rows("none", 5) == list(range(100))


def test_subsample_keeps_that_fraction_without_duplicates():
    picked = rows("subsample(0.8)", 0)
    assert len(picked) == 80 and len(set(picked)) == 80 and picked == sorted(picked)
    assert len(rows("subsample(.25)", 0)) == 25


def test_bootstrap_draws_n_rows_with_replacement():
    picked = rows("bootstrap", 0)
    assert len(picked) == 100 and max(Counter(picked).values()) > 1 and len(set(picked)) < 100


@pytest.mark.parametrize("kind", ["subsample(0.8)", "bootstrap"])
def test_the_same_seed_gives_the_same_rows_and_another_seed_others(kind):
    assert rows(kind, 1) == rows(kind, 1)  # what makes contenders paired: nothing else enters the draw
    assert len({tuple(rows(kind, seed)) for seed in range(5)}) == 5
    assert rows(kind, 1, split="train") != rows(kind, 1, split="generic")  # splits draw independently


def test_strata_keep_a_balanced_split_balanced():
    for kind in ("subsample(0.5)", "bootstrap"):
        labels = Counter(TABLE.columns["y"][i] for i in rows(kind, 3, strata=("y",)))
        assert labels == ({"a": 35, "b": 15} if kind.startswith("sub") else {"a": 70, "b": 30})
