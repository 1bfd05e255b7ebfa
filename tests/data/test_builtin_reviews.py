"""builtin:synthetic_reviews: a toy task that is not about biographies (genre-confounded sentiment)."""
import re
from collections import Counter

import pytest

from fairfight.data._reviews import GENRE_WORDS
from fairfight.data.builtin import BUILTINS, generate
from fairfight.errors import FairfightError


def test_columns_splits_and_default_sizes():
    meta = BUILTINS["synthetic_reviews"]
    parts = generate("synthetic_reviews")
    assert set(parts) == set(meta.splits) == {"train", "test"}
    assert len(parts["train"]) == 600 and len(parts["test"]) == 200
    for rows in parts.values():
        assert all(set(r) == set(meta.columns) for r in rows)
        assert {r["sentiment"] for r in rows} == {"positive", "negative"}
        assert {r["genre"] for r in rows} == {"comedy", "horror"}


def test_deterministic_and_seeded():
    a = generate("synthetic_reviews", {"size": 50, "test_size": 20, "seed": 3})
    assert a == generate("synthetic_reviews", {"size": 50, "test_size": 20, "seed": 3})
    assert a != generate("synthetic_reviews", {"size": 50, "test_size": 20, "seed": 4})


@pytest.mark.parametrize("confound", [0.5, 0.9, 1.0])
def test_confound_sets_the_share_of_the_stereotyped_genre_in_train_and_test_stays_balanced(confound):
    parts = generate("synthetic_reviews", {"size": 400, "test_size": 100, "confound": confound})
    cells = Counter((r["sentiment"], r["genre"]) for r in parts["train"])
    assert cells[("positive", "comedy")] == cells[("negative", "horror")] == round(200 * confound)
    assert set(Counter((r["sentiment"], r["genre"]) for r in parts["test"]).values()) == {25}
    assert not {r["text"] for r in parts["train"]} & {r["text"] for r in parts["test"]}


def test_every_review_names_its_genre_and_never_the_other():
    for row in generate("synthetic_reviews", {"size": 300})["train"]:
        tokens = set(re.findall(r"[a-z]+", row["text"].lower()))
        other = "horror" if row["genre"] == "comedy" else "comedy"
        assert tokens & set(GENRE_WORDS[row["genre"]]), row["text"]
        assert not tokens & set(GENRE_WORDS[other]), row["text"]


@pytest.mark.parametrize("options,pattern", [
    ({"confound": 1.5}, "confound' must be a number from 0 to 1"),
    ({"test_size": 3}, "test_size' must be an integer from 4"),
    ({"professions": ["nurse"]}, "has no option 'professions'"),
])
def test_bad_options(options, pattern):
    with pytest.raises(FairfightError, match=pattern):
        generate("synthetic_reviews", options)
