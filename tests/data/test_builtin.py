"""Tests of the builtin toy datasets (fairfight.data.builtin)."""
from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import math
import os
import re
import subprocess
import sys
import time

import pytest

from fairfight.data import _vocabulary as V
from fairfight.data.builtin import BUILTINS, Builtin, generate
from fairfight.errors import FairfightError

SIX = ["professor", "nurse", "surgeon", "engineer", "teacher", "attorney"]
# An independent core list of lexical gender words (the module's list must cover it).
CORE_GENDER_WORDS = {"he", "she", "his", "her", "him", "hers", "himself", "herself", "husband",
                     "wife", "mother", "father", "mom", "dad", "mr", "ms", "mrs"}
LEXICAL = CORE_GENDER_WORDS | {n.lower() for n in V.MALE_NAMES + V.FEMALE_NAMES}


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


SENTENCE_END = re.compile(r"(?<!Dr\.)(?<!Mr\.)(?<!Ms\.)(?<!St\.)(?<=[.!?]) ")


def sentences(text: str) -> list[str]:
    return SENTENCE_END.split(text)


def first_sentence(text: str) -> str:
    return sentences(text)[0]


@pytest.fixture(scope="module")
def bios():
    return generate("synthetic_bios")


@pytest.fixture(scope="module")
def bios6():
    return generate("synthetic_bios", {"professions": SIX, "size": 3000, "test_size": 600})


# --- metadata -------------------------------------------------------------------------------
def test_metadata():
    assert set(BUILTINS) == {"synthetic_bios", "generic_text"}
    for key, b in BUILTINS.items():
        assert isinstance(b, Builtin) and b.name == key
        assert b.summary and "\n" not in b.summary
        assert "text" in b.columns
        with pytest.raises(dataclasses.FrozenInstanceError):
            b.name = "x"
    sb = BUILTINS["synthetic_bios"]
    assert sb.columns == ("text", "profession", "gender")
    assert sb.splits == ("train", "test")
    assert sb.options == {"professions": ["professor", "nurse"], "size": 2000, "test_size": 800,
                          "confound": 0.5, "seed": 0}
    gt = BUILTINS["generic_text"]
    assert gt.columns == ("text",) and gt.splits == ("train",)
    assert gt.options == {"size": 1000, "seed": 0}


@pytest.mark.parametrize("name,options", [("synthetic_bios", {"size": 50, "test_size": 20}),
                                          ("generic_text", {"size": 50})])
def test_columns_and_splits_match_metadata(name, options):
    out = generate(name, options)
    meta = BUILTINS[name]
    assert tuple(out) == meta.splits
    for rows in out.values():
        assert rows
        for row in rows:
            assert tuple(row) == meta.columns
            assert all(isinstance(v, str) and v for v in row.values())


def test_default_sizes(bios):
    assert len(bios["train"]) == 2000 and len(bios["test"]) == 800
    assert len(generate("generic_text")["train"]) == 1000
    assert len(generate("generic_text", {"size": 37})["train"]) == 37
    assert {r["gender"] for r in bios["train"]} == {"male", "female"}
    assert {r["profession"] for r in bios["train"]} == {"professor", "nurse"}


def test_builtin_prefix_and_options_not_mutated():
    opts = {"professions": ["nurse", "teacher"], "size": 30, "test_size": 8}
    before = json.dumps(opts)
    assert generate("builtin:synthetic_bios", opts) == generate("synthetic_bios", opts)
    assert json.dumps(opts) == before
    assert BUILTINS["synthetic_bios"].options["professions"] == ["professor", "nurse"]


# --- determinism -------------------------------------------------------------------------------
def digest(name, options):
    return hashlib.sha256(json.dumps(generate(name, options)).encode()).hexdigest()


@pytest.mark.parametrize("name", ["synthetic_bios", "generic_text"])
def test_same_seed_same_rows_different_seed_different_rows(name):
    a, b = generate(name, {"seed": 3}), generate(name, {"seed": 3})
    assert json.dumps(a) == json.dumps(b)
    c = generate(name, {"seed": 4})
    for split in a:
        texts_a = {r["text"] for r in a[split]}
        texts_c = {r["text"] for r in c[split]}
        assert len(texts_a & texts_c) < 0.05 * len(texts_a)


def test_deterministic_across_processes_and_hash_seeds():
    code = ("import hashlib, json; from fairfight.data.builtin import generate; "
            "print(hashlib.sha256(json.dumps(generate('synthetic_bios', {'size': 300, 'seed': 7}))"
            ".encode()).hexdigest(), hashlib.sha256(json.dumps(generate('generic_text', "
            "{'size': 300, 'seed': 7})).encode()).hexdigest())")
    expected = f"{digest('synthetic_bios', {'size': 300, 'seed': 7})} {digest('generic_text', {'size': 300, 'seed': 7})}"
    for hash_seed in ("1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                             check=True).stdout.strip()
        assert out == expected


def test_test_split_does_not_depend_on_train_options():
    a = generate("synthetic_bios", {"size": 100, "confound": 0.5})
    b = generate("synthetic_bios", {"size": 900, "confound": 1.0})
    assert a["test"] == b["test"]


# --- confounding and balance ------------------------------------------------------------------
def stereotyped_share(rows, profession, stereotype):
    rows = [r for r in rows if r["profession"] == profession]
    return sum(r["gender"] == stereotype for r in rows) / len(rows)


@pytest.mark.parametrize("confound", [0.5, 0.9, 1.0, 0.0])
def test_confound_knob(confound):
    train = generate("synthetic_bios", {"confound": confound, "size": 2000})["train"]
    assert abs(stereotyped_share(train, "professor", "male") - confound) <= 0.05
    assert abs(stereotyped_share(train, "nurse", "female") - confound) <= 0.05
    counts = collections.Counter(r["profession"] for r in train)
    assert counts["professor"] == counts["nurse"] == 1000


def test_stereotypes_alternate_for_more_professions():
    profs = ["surgeon", "teacher", "engineer", "nurse"]
    train = generate("synthetic_bios", {"professions": profs, "confound": 1.0, "size": 400,
                                        "test_size": 40})["train"]
    expected = {"surgeon": {"male"}, "teacher": {"female"}, "engineer": {"male"}, "nurse": {"female"}}
    for p in profs:
        assert {r["gender"] for r in train if r["profession"] == p} == expected[p]


def test_test_split_balanced(bios):
    cells = collections.Counter((r["profession"], r["gender"]) for r in bios["test"])
    assert cells == {(p, g): 200 for p in ("professor", "nurse") for g in ("male", "female")}
    # confounded train, still balanced test
    test = generate("synthetic_bios", {"confound": 1.0, "size": 100})["test"]
    assert set(collections.Counter((r["profession"], r["gender"]) for r in test).values()) == {200}


def test_test_split_balanced_when_not_divisible():
    test = generate("synthetic_bios", {"professions": ["nurse", "teacher", "engineer"],
                                       "size": 30, "test_size": 61})["test"]
    cells = collections.Counter((r["profession"], r["gender"]) for r in test)
    assert len(test) == 61 and len(cells) == 6
    assert max(cells.values()) - min(cells.values()) <= 1


def test_no_train_test_overlap(bios, bios6):
    for d in (bios, bios6):
        assert not {r["text"] for r in d["train"]} & {r["text"] for r in d["test"]}


# --- variety and cues -------------------------------------------------------------------------
def test_variety(bios):
    train = bios["train"]
    texts = [r["text"] for r in train]
    assert len(set(texts)) >= 0.9 * len(texts)
    assert len({first_sentence(t) for t in texts}) >= 500
    # many different sentence shapes once names, places and numbers are masked
    shapes = {re.sub(r"\b[A-Z][a-z']+\b|\d+", "X", s) for t in texts for s in sentences(t)}
    assert len(shapes) >= 1000
    lengths = [len(t.split()) for t in texts]
    assert 20 <= sum(lengths) / len(lengths) <= 100 and max(lengths) > 2 * min(lengths)


def test_generation_is_fast():
    start = time.perf_counter()
    generate("synthetic_bios", {"size": 2000, "seed": 11})
    assert time.perf_counter() - start < 2.0


def test_module_lexical_list_covers_core_words():
    assert CORE_GENDER_WORDS <= V.LEXICAL_WORDS
    assert not (set(map(str.lower, V.UNISEX_NAMES)) | set(map(str.lower, V.SURNAMES))) & V.LEXICAL_WORDS


def test_lexical_and_non_lexical_cues(bios6):
    train = bios6["train"]
    no_lexical = [r for r in train if not words(r["text"]) & V.LEXICAL_WORDS]
    assert len(no_lexical) >= 0.2 * len(train)
    # and the module's list is not hiding anything the independent list would find
    assert all(not words(r["text"]) & LEXICAL for r in no_lexical)
    rest = [r for r in train if words(r["text"]) & V.LEXICAL_WORDS]
    with_pronoun = [r for r in rest if words(r["text"]) & {"he", "she", "his", "her", "him"}]
    assert len(with_pronoun) >= 0.85 * len(rest)
    # lexical cues never contradict the row's gender
    male_words = {"he", "his", "him", "mr", "father", "wife"}
    female_words = {"she", "her", "ms", "mother", "husband"}
    for r in rest:
        w = words(r["text"])
        assert not w & (female_words if r["gender"] == "male" else male_words), r


def hobby_rate(rows, pool):
    return sum(any(h in r["text"] for h in V.HOBBIES[pool]) for r in rows) / len(rows)


def test_non_lexical_cues_correlate_with_gender(bios6):
    no_lexical = [r for r in bios6["train"] if not words(r["text"]) & V.LEXICAL_WORDS]
    male = [r for r in no_lexical if r["gender"] == "male"]
    female = [r for r in no_lexical if r["gender"] == "female"]
    assert hobby_rate(female, "female") - hobby_rate(male, "female") > 0.3
    assert hobby_rate(male, "male") - hobby_rate(female, "male") > 0.3


def naive_bayes(train, test, column):
    """Multinomial naive Bayes on word tokens: accuracy on `test`."""
    counts = collections.defaultdict(collections.Counter)
    priors = collections.Counter(r[column] for r in train)
    for r in train:
        counts[r[column]].update(re.findall(r"[a-z']+", r["text"].lower()))
    vocab = set().union(*counts.values())
    totals = {c: sum(k.values()) + len(vocab) for c, k in counts.items()}

    def predict(text):
        toks = re.findall(r"[a-z']+", text.lower())
        return max(sorted(priors), key=lambda c: math.log(priors[c]) + sum(
            math.log((counts[c][t] + 1) / totals[c]) for t in toks if t in vocab))

    return sum(predict(r["text"]) == r[column] for r in test) / len(test)


def test_profession_recoverable_without_title(bios6):
    train, test = bios6["train"], bios6["test"]
    titled = sum(r["profession"] in words(r["text"]) for r in train) / len(train)
    assert 0.2 <= titled <= 0.8  # the job title is often absent
    untitled_test = [r for r in test if r["profession"] not in words(r["text"])]
    assert len(untitled_test) > 100
    assert naive_bayes(train, untitled_test, "profession") >= 0.85


def test_gender_recoverable_from_non_lexical_cues_alone(bios6):
    def no_lex(rows):
        return [r for r in rows if not words(r["text"]) & V.LEXICAL_WORDS]

    acc = naive_bayes(no_lex(bios6["train"]), no_lex(bios6["test"]), "gender")
    assert 0.6 <= acc < 0.99  # a real but imperfect signal


# --- generic_text ---------------------------------------------------------------------------------
def test_generic_text():
    rows = generate("generic_text")["train"]
    texts = [r["text"] for r in rows]
    assert len(set(texts)) == len(texts)
    gendered = [t for t in texts if words(t) & LEXICAL]
    assert 0.2 <= len(gendered) / len(texts) <= 0.8
    all_words = set().union(*(words(t) for t in texts))
    assert {"he", "she", "his", "her"} <= all_words
    assert {"nurse", "professor"} & all_words  # reuses the bios vocabulary
    assert len({first_sentence(t) for t in texts}) >= 500


# --- errors -----------------------------------------------------------------------------------------
def test_unknown_builtin():
    with pytest.raises(FairfightError, match=r"unknown builtin dataset 'synthetic_bio'; did you mean 'synthetic_bios'\?"):
        generate("synthetic_bio")
    with pytest.raises(FairfightError, match="available: generic_text, synthetic_bios"):
        generate("bias_in_bios")


@pytest.mark.parametrize("name,option,hint", [("synthetic_bios", "confund", "confound"),
                                              ("synthetic_bios", "test-size", "test_size"),
                                              ("generic_text", "sizes", "size")])
def test_unknown_option(name, option, hint):
    with pytest.raises(FairfightError, match=rf"no option '{option}'; did you mean '{hint}'\?"):
        generate(name, {option: 1})


def test_option_of_other_builtin_is_unknown():
    with pytest.raises(FairfightError, match="generic_text has no option 'confound'"):
        generate("generic_text", {"confound": 0.9})


@pytest.mark.parametrize("options,pattern", [
    ({"confound": 1.5}, r"'confound' must be a number from 0 to 1.*1\.5"),
    ({"confound": -0.1}, "'confound' must be"),
    ({"confound": "high"}, "'confound' must be"),
    ({"confound": True}, "'confound' must be"),
    ({"confound": float("nan")}, "'confound' must be"),
    ({"size": 0}, r"'size' must be an integer from 1 to 100000, got 0"),
    ({"size": -5}, "'size' must be"),
    ({"size": 2.5}, "'size' must be"),
    ({"size": "100"}, "'size' must be"),
    ({"size": True}, "'size' must be"),
    ({"test_size": 3}, r"'test_size' must be an integer from 4 to"),
    ({"seed": "zero"}, "'seed' must be an integer"),
    ({"professions": ["professor", "nurses"]}, r"unknown profession 'nurses'; did you mean 'nurse'\?"),
    ({"professions": ["astronaut"]}, r"unknown profession 'astronaut' \(supported: professor, nurse"),
    ({"professions": "nurse"}, "'professions' must be a non-empty list"),
    ({"professions": []}, "'professions' must be a non-empty list"),
    ({"professions": ["nurse", "nurse"]}, "without repeats"),
])
def test_bad_option_values(options, pattern):
    with pytest.raises(FairfightError, match=pattern):
        generate("synthetic_bios", options)


def test_bad_generic_size_and_options_type():
    with pytest.raises(FairfightError, match="'size' must be"):
        generate("generic_text", {"size": 0})
    with pytest.raises(FairfightError, match="options must be a mapping"):
        generate("generic_text", ["size", 10])


# --- no heavy imports -----------------------------------------------------------------------------
def test_import_does_not_load_heavy_libraries():
    code = ("import sys, fairfight.data.builtin as b; b.generate('synthetic_bios', {'size': 10}); "
            "print(sorted(m for m in ('torch', 'numpy', 'datasets', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
