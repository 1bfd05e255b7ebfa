"""Tests of the builtin toy datasets (fairfight.data.builtin)."""
from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import math
import os
import pathlib
import re
import subprocess
import sys

import pytest

from fairfight.data import _vocabulary as V
from fairfight.data.builtin import BUILTINS, Builtin, _first_person, generate
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


@pytest.fixture(scope="module")
def bios6_full():
    """Every bio speaks to the profession (the rows of versions before profession_signal)."""
    return generate("synthetic_bios", {"professions": SIX, "size": 3000, "test_size": 600,
                                       "profession_signal": 1.0})


# --- metadata -------------------------------------------------------------------------------
def test_metadata():
    assert set(BUILTINS) == {"synthetic_bios", "generic_text", "synthetic_reviews", "capitals"}
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
                          "confound": 0.5, "profession_signal": 0.8, "lexical_share": None, "seed": 0}
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
            "{'size': 300, 'seed': 7})).encode()).hexdigest(), hashlib.sha256(json.dumps("
            "generate('synthetic_bios', {'size': 300, 'seed': 7, 'profession_signal': 0.35})).encode()).hexdigest())")
    expected = (f"{digest('synthetic_bios', {'size': 300, 'seed': 7})} {digest('generic_text', {'size': 300, 'seed': 7})} "
                f"{digest('synthetic_bios', {'size': 300, 'seed': 7, 'profession_signal': 0.35})}")
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


def test_profession_recoverable_without_title(bios6_full):
    train, test = bios6_full["train"], bios6_full["test"]
    titled = sum(r["profession"] in words(r["text"]) for r in train) / len(train)
    assert 0.2 <= titled <= 0.8  # the job title is often absent
    untitled_test = [r for r in test if r["profession"] not in words(r["text"])]
    assert len(untitled_test) > 100
    assert naive_bayes(train, untitled_test, "profession") >= 0.85


def test_profession_recoverable_from_cued_bios_at_default_signal(bios6):
    """At the default signal, bios that carry a cue still tell the profession (most with less
    to go on); the others cannot, beyond chance (1 in 6 here)."""
    train, test = bios6["train"], bios6["test"]
    cued = [r for r in test if has_profession_cue(r["text"])]
    cue_free = [r for r in test if not has_profession_cue(r["text"])]
    assert naive_bayes(train, cued, "profession") >= 0.8
    assert naive_bayes(train, cue_free, "profession") <= 0.35


def test_gender_recoverable_from_non_lexical_cues_alone(bios6):
    def no_lex(rows):
        return [r for r in rows if not words(r["text"]) & V.LEXICAL_WORDS]

    acc = naive_bayes(no_lex(bios6["train"]), no_lex(bios6["test"]), "gender")
    assert 0.6 <= acc < 0.99  # a real but imperfect signal


# --- profession signal ------------------------------------------------------------------------------
def template_words(text: str) -> set[str]:
    """Words of a vocabulary entry, without its {slot} names; a [verb] in both its forms."""
    verbs = {_first_person(v) for v in re.findall(r"\[(\w+)\]", text)}
    return words(re.sub(r"\{\w+\}", " ", text)) | verbs


def strings(x):
    if isinstance(x, str):
        yield x
    elif isinstance(x, (tuple, list)):
        for y in x:
            yield from strings(y)
    elif isinstance(x, dict):
        for y in x.values():
            yield from strings(y)


# Everything a bio without a profession cue is written from (names, places, life, family,
# hobbies, style remarks without a {focus}, first-person greetings): its words are not cues.
CUE_FREE_POOLS = (V.LIFE_TEMPLATES, V.FAMILY_TEMPLATES_LEXICAL, V.FAMILY_TEMPLATES_NEUTRAL, V.HOBBY_TEMPLATES,
                  V.HOBBIES, [t for pool in V.STYLE_TEMPLATES.values() for t in pool if "{focus}" not in t],
                  V.FIRST_PERSON_INTROS, V.MALE_NAMES, V.FEMALE_NAMES, V.UNISEX_NAMES, V.SURNAMES, V.CITIES,
                  V.KIDS, V.CHILDREN, V.NUMBER_WORDS, V.SPOUSE, V.PARENT, V.HONORIFIC)
CUE_FREE_WORDS = set().union(*(template_words(t) for t in strings(CUE_FREE_POOLS)))
FUNCTION_WORDS = {"s", "been", "than", "this", "its", "after", "around", "before", "among", "new", "year",
                  "first", "based", "used", "several", "major", "recently"}
# The profession cues: every word of a profession's entries (titles, fields, workplaces, degrees,
# duties, focus, achievements, awards, career steps, extras) that no cue-free bio can contain.
PROFESSION_CUES = {p: set().union(*(template_words(t) for t in strings(entry))) - CUE_FREE_WORDS - FUNCTION_WORDS
                   for p, entry in V.PROFESSIONS.items()}
ALL_PROFESSION_CUES = set().union(*PROFESSION_CUES.values())
# An independent core list: the obvious giveaways, which the cue-free pools must not contain.
CORE_PROFESSION_WORDS = {"professor", "nurse", "surgeon", "engineer", "teacher", "attorney", "lawyer", "nursing",
                         "university", "hospital", "clinic", "school", "students", "patients", "research", "phd",
                         "md", "bsn", "jd", "surgery", "law", "court", "classroom", "faculty", "medical", "career",
                         "degree", "department", "doctor", "dr", "lab", "patents", "firm"}


def has_profession_cue(text: str) -> bool:
    return bool(words(text) & ALL_PROFESSION_CUES)


def cue_free_share(rows) -> float:
    return sum(not has_profession_cue(r["text"]) for r in rows) / len(rows)


def test_profession_cue_lists():
    assert CORE_PROFESSION_WORDS <= ALL_PROFESSION_CUES | {"dr"}
    assert not CORE_PROFESSION_WORDS & CUE_FREE_WORDS
    for p, cues in PROFESSION_CUES.items():
        assert p in cues and len(cues) >= 80, p


def test_profession_signal_1_gives_the_rows_of_earlier_versions():
    """profession_signal=1.0 is what synthetic_bios generated before the option existed, byte for
    byte (sha256 of the JSON of the output). Change these digests only on purpose."""
    before = {
        "6adee3ea4661fe2ef6876b035ec5cc956965e28cb2e484f7019edc33e5c8888f": {},  # the old default
        "b436c2c37ca5329fe794f534275f913dbf7cc7271528d9deb3368740ad1d46a5":  # the old quickstart data
            {"size": 1200, "test_size": 400, "confound": 0.5, "seed": 0},
        "e13f88d635a438325c3a3241d82451fe614471292b70acc9e1957aa7acc09350": {"seed": 5, "confound": 0.9},
    }
    for expected, options in before.items():
        assert digest("synthetic_bios", {**options, "profession_signal": 1.0}) == expected, options
    assert digest("synthetic_bios", {"profession_signal": 1}) == next(iter(before))


def test_profession_signal_1_with_six_professions(bios6_full):
    assert hashlib.sha256(json.dumps(bios6_full).encode()).hexdigest() == \
        "d3069ba42c4785e59613c810236d95c3eefbff22b080255856e8d392f8b64ce1"
    assert cue_free_share(bios6_full["train"] + bios6_full["test"]) == 0  # every bio has a cue


@pytest.mark.parametrize("signal", [1.0, 0.8, 0.5, 0.2, 0.0])
def test_share_of_bios_without_profession_cue_tracks_the_knob(signal):
    out = generate("synthetic_bios", {"profession_signal": signal, "size": 2000, "test_size": 800})
    rows = out["train"] + out["test"]
    assert abs(cue_free_share(rows) - (1 - signal)) <= 0.035
    for split in ("train", "test"):
        assert abs(cue_free_share(out[split]) - (1 - signal)) <= 0.06, split
    for cell in {(r["profession"], r["gender"]) for r in rows}:  # in every cell alike
        members = [r for r in rows if (r["profession"], r["gender"]) == cell]
        assert abs(cue_free_share(members) - (1 - signal)) <= 0.08, cell


def cue_sentences(text: str) -> int:
    return sum(bool(words(s) & ALL_PROFESSION_CUES) for s in sentences(text))


def test_lower_signal_also_weakens_the_cues_that_remain():
    """Below 1, a share 1 - signal of the cued bios keeps a single sentence about the job."""
    def sparse_share(signal):
        rows = generate("synthetic_bios", {"profession_signal": signal, "size": 2000})["train"]
        cued = [r for r in rows if has_profession_cue(r["text"])]
        return sum(cue_sentences(r["text"]) == 1 for r in cued) / len(cued)

    full, high, half = sparse_share(1.0), sparse_share(0.8), sparse_share(0.5)
    assert full < 0.1
    assert full + 0.1 <= high < half - 0.15 and half >= 0.35


def test_bios_without_profession_cue_keep_the_gender_cues():
    rows = generate("synthetic_bios", {"profession_signal": 0.0, "size": 2000})["train"]
    texts = [r["text"] for r in rows]
    assert len(set(texts)) == len(texts)
    for t in texts:
        assert not words(t) & (ALL_PROFESSION_CUES | CORE_PROFESSION_WORDS), t
        assert "Dr." not in t and len(sentences(t)) >= 2, t
    lexical = [r for r in rows if words(r["text"]) & V.LEXICAL_WORDS]
    assert 0.6 <= len(lexical) / len(rows) <= 0.8  # about 1 - NON_LEXICAL_SHARE, as for all bios
    male_words, female_words = {"he", "his", "him", "mr", "wife"}, {"she", "her", "ms", "husband"}
    for r in lexical:
        assert not words(r["text"]) & (female_words if r["gender"] == "male" else male_words), r
    no_lexical = [r for r in rows if r not in lexical]
    male = [r for r in no_lexical if r["gender"] == "male"]
    female = [r for r in no_lexical if r["gender"] == "female"]
    assert hobby_rate(female, "female") - hobby_rate(male, "female") > 0.3
    assert hobby_rate(male, "male") - hobby_rate(female, "male") > 0.3
    # and gender, not profession, is what such bios tell
    test = generate("synthetic_bios", {"profession_signal": 0.0, "test_size": 800})["test"]
    assert naive_bayes(rows, test, "gender") >= 0.85
    assert naive_bayes(rows, test, "profession") <= 0.6


def test_profession_signal_is_deterministic_and_keeps_the_other_options():
    opts = {"profession_signal": 0.6, "size": 500, "test_size": 100, "confound": 0.9, "seed": 2}
    a, b = generate("synthetic_bios", opts), generate("synthetic_bios", dict(opts))
    assert json.dumps(a) == json.dumps(b)
    assert abs(stereotyped_share(a["train"], "professor", "male") - 0.9) <= 0.01
    assert set(collections.Counter((r["profession"], r["gender"]) for r in a["test"]).values()) == {25}
    assert a["test"] == generate("synthetic_bios", {**opts, "size": 50, "confound": 0.1})["test"]
    assert a["test"] != generate("synthetic_bios", {**opts, "profession_signal": 0.7})["test"]


def test_bad_profession_signal_is_a_positioned_spec_error():
    from fairfight.spec.check import check_file

    spec = pathlib.Path(__file__).resolve().parents[2] / "examples/quickstart/spec.yaml"
    report = check_file(spec, ["datasets.bios.options.profession_signal=1.5"])
    assert not report.ok
    [d] = report.diagnostics
    assert d.path == "datasets.bios.options.profession_signal" and d.pos.line == 1
    assert "'profession_signal' must be a number from 0 to 1" in d.message and "got 1.5" in d.message
    assert check_file(spec, ["datasets.bios.options.profession_signal=0.3"]).ok


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
    with pytest.raises(FairfightError, match="available: capitals, generic_text, synthetic_bios"):
        generate("bias_in_bios")


@pytest.mark.parametrize("name,option,hint", [("synthetic_bios", "confund", "confound"),
                                              ("synthetic_bios", "profession_signals", "profession_signal"),
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
    ({"profession_signal": 1.5}, r"'profession_signal' must be a number from 0 to 1 .*got 1\.5"),
    ({"profession_signal": -0.01}, "'profession_signal' must be"),
    ({"profession_signal": "low"}, "'profession_signal' must be"),
    ({"profession_signal": True}, "'profession_signal' must be"),
    ({"profession_signal": None}, "'profession_signal' must be"),
    ({"profession_signal": float("inf")}, "'profession_signal' must be"),
    ({"profession_signal": float("nan")}, "'profession_signal' must be"),
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
