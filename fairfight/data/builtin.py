"""Builtin toy datasets, generated deterministically in pure Python (standard library only).

Specs name them as `builtin:NAME`:

synthetic_bios
    Professional biographies for a gender-confounded profession classification task, a toy
    stand-in for Bias in Bios. Columns `text`, `profession`, `gender` ("male"/"female");
    splits "train" and "test". Options:
      professions  ["professor", "nurse"]  which professions (see `PROFESSION_NAMES`); the
                   1st, 3rd, ... are stereotyped male, the 2nd, 4th, ... female
      size         2000   train rows (1 .. 100000)
      test_size    800    test rows (one per profession x gender cell at least)
      confound     0.5    in TRAIN, the share of each profession's rows whose gender is the
                   stereotyped one (exact up to rounding): 0.5 = independent, 1.0 = perfectly
                   confounded, 0.0 = perfectly anti-confounded
      profession_signal
                   0.8    how much the bios speak to the profession, in both splits (0 .. 1):
                   each bio independently has NO profession cue with probability
                   1 - profession_signal (only life, places, family, hobbies and the usual
                   gender cues); a cued bio keeps a single job sentence (no title) with
                   probability 1 - profession_signal, and is written as before otherwise.
                   1.0 = every bio fully cued: byte-identical to versions without the option.
                   The default leaves a plain probe on gender-confounded data a real trap
                   (benchmarks/synthetic_trap.py, docs/builtin-data.md).
      lexical_share
                   null   what carries the gender cue, in both splits: null keeps the default mix
                   (below); a number is the share of bios whose gender shows ONLY through words of
                   the gender concept's list (pronouns, family words, honorifics; a unisex first
                   name, gender-neutral hobbies and style), the rest showing it ONLY through what
                   that list cannot delete (a gendered first name, hobby and style cues,
                   first-person voice half the time). 1.0 = token deletion removes every cue;
                   0.0 = it removes none (docs/builtin-data.md has the trap table)
      seed         0      any integer
    The TEST split is balanced: every profession x gender cell has the same count (cells
    differ by at most one row when test_size is not a multiple of the cell count) and depends
    only on professions, test_size, profession_signal and seed. Train and test never share a
    text.

    About `NON_LEXICAL_SHARE` of the bios carry no lexical gender cue at all (no pronoun,
    gendered name, honorific or family word: they are first-person or name-only bios); the
    gender then shows only through correlated hobbies and word choices. Like the real
    "hard_text", the job-title sentence is absent from most bios, so the profession must be
    read from workplaces, duties, degrees and achievements (or, in the bios that
    profession_signal leaves without any cue, cannot be read at all).

generic_text
    Unlabeled everyday sentences (column `text`, split "train"), some gendered and some not,
    drawn from the same vocabulary: a "pretraining cache" for methods that need unlabeled
    text. Options: size 1000 (1 .. 100000), seed 0.

synthetic_reviews
    Template movie reviews for sentiment classification in which the genre can be made a
    confound (fairfight/data/_reviews.py). Columns `text`, `sentiment` ("positive"/"negative"),
    `genre` ("comedy"/"horror"); splits "train" and "test". Options: size 600, test_size 200
    (at least 4), confound 0.5 (in TRAIN, the share of each sentiment's reviews in its
    stereotyped genre: positive -> comedy, negative -> horror), seed 0. TEST is balanced over
    sentiment x genre.

capitals
    Factual questions under social pressure (a sycophancy task for generation fights;
    fairfight/data/_capitals.py): "What is the capital of X?", plain in split "neutral", and
    after the user suggests a wrong city of the same country in "mild", "firm" and
    "insistent" (more insistent at each level). Split "train" asks other countries at every
    level. Columns `text`, `answer` (the capital; the right letter with format "choice"),
    `capital`, `country`, `suggested` (the user's wrong city, "" in neutral), `distractor`
    (that city in every row), `pressure` (the level). Options: size 61 (countries asked in
    each evaluation split, 1 .. 81 - train_size), train_size 20 (countries in "train",
    0 .. 80), format "open" (free answers: score with contains(answer)) or "choice" (the
    question ends "(A) .. (B) .." with the capital and the distractor in a seeded order:
    score with choice(answer, options=['A', 'B'])), seed 0 (which countries train, which
    phrasing each row uses, the letters). The evaluation splits ask the same countries, in
    the same order, so their rows pair up. Split "asked" holds the rows of all four levels,
    level by level (for claims on more than one level: score(pressure=neutral) and
    score(pressure=insistent) of one evaluation).

These are TOY datasets for offline demos and tests, not evidence about real models.
Same options give byte-identical output: every draw comes from a `random.Random` seeded with
a string (never the global generator, `hash()` or set order).
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

from fairfight.data import _capitals, _reviews
from fairfight.data import _vocabulary as V
from fairfight.data._writing import TITLE_SHARE, _a, _Bio, _fill, _first_person, _leaning, _sentence  # noqa: F401 (re-exported)
from fairfight.errors import FairfightError
from fairfight.spec.suggest import suggest

MAX_ROWS = 100_000
NON_LEXICAL_SHARE = 0.3  # bios written with no lexical gender cue
PROFESSION_NAMES = tuple(V.PROFESSIONS)
PROFESSION_SIGNAL = 0.8  # default share of bios that carry any profession cue (see the docs)


@dataclass(frozen=True)
class Builtin:
    name: str
    summary: str  # one line
    columns: tuple[str, ...]  # columns every row has
    splits: tuple[str, ...]  # named splits it produces
    options: dict  # option name -> default value


BUILTINS: dict[str, Builtin] = {
    "synthetic_bios": Builtin(
        name="synthetic_bios",
        summary="Toy professional bios for gender-confounded profession classification.",
        columns=("text", "profession", "gender"),
        splits=("train", "test"),
        options={"professions": ["professor", "nurse"], "size": 2000, "test_size": 800,
                 "confound": 0.5, "profession_signal": PROFESSION_SIGNAL, "lexical_share": None, "seed": 0},
    ),
    "generic_text": Builtin(
        name="generic_text",
        summary="Toy unlabeled everyday sentences (some gendered) for a pretraining cache.",
        columns=("text",),
        splits=("train",),
        options={"size": 1000, "seed": 0},
    ),
    "synthetic_reviews": Builtin(
        name="synthetic_reviews",
        summary="Toy movie reviews for genre-confounded sentiment classification.",
        columns=("text", "sentiment", "genre"),
        splits=("train", "test"),
        options={"size": 600, "test_size": 200, "confound": 0.5, "seed": 0},
    ),
    "capitals": Builtin(
        name="capitals",
        summary="Country capitals asked plainly and after the user suggests a wrong city (sycophancy).",
        columns=("text", "answer", "capital", "country", "suggested", "distractor", "pressure"),
        splits=("train", *_capitals.LEVELS, "asked"),
        options={"size": len(_capitals.COUNTRIES) - _capitals.DEFAULT_TRAIN, "train_size": _capitals.DEFAULT_TRAIN,
                 "format": "open", "seed": 0},
    ),
}


# --- option checking ------------------------------------------------------------------------
def _bad(name: str, key: str, what: str, value) -> FairfightError:
    return FairfightError(f"builtin:{name} option '{key}' must be {what}, got {value!r}")


def _int_option(name, key, value, lo=None, hi=None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or \
            (lo is not None and value < lo) or (hi is not None and value > hi):
        what = "an integer" if lo is None else f"an integer from {lo} to {hi}"
        raise _bad(name, key, what, value)
    return value


def _check_confound(name, c) -> None:
    if isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(c) or not 0 <= c <= 1:
        raise _bad(name, "confound", "a number from 0 to 1 (0.5 = independent, 1.0 = perfectly confounded)", c)


def resolve_options(name: str, options) -> tuple[str, dict]:
    if isinstance(name, str) and name.startswith("builtin:"):
        name = name[len("builtin:"):]
    if name not in BUILTINS:
        raise FairfightError(f"unknown builtin dataset '{name}'{suggest(name, BUILTINS)}"
                             f" (available: {', '.join(sorted(BUILTINS))})")
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise FairfightError(f"builtin:{name} options must be a mapping, got {options!r}")
    defaults = BUILTINS[name].options
    for key in options:
        if key not in defaults:
            raise FairfightError(f"builtin:{name} has no option '{key}'{suggest(key, defaults)}"
                                 f" (options: {', '.join(sorted(defaults))})")
    merged = {k: options.get(k, list(v) if isinstance(v, list) else v) for k, v in defaults.items()}
    merged["seed"] = _int_option(name, "seed", merged["seed"])
    merged["size"] = _int_option(name, "size", merged["size"], 1, MAX_ROWS)
    if name in ("synthetic_bios", "synthetic_reviews"):
        _check_confound(name, merged["confound"])
    if name == "capitals":
        n = len(_capitals.COUNTRIES)
        merged["train_size"] = _int_option(name, "train_size", merged["train_size"], 0, n - 1)
        merged["size"] = _int_option(name, "size", merged["size"], 1, n - merged["train_size"])
        if merged["format"] not in ("open", "choice"):
            raise _bad(name, "format", "'open' (free answers) or 'choice' (an A/B question)", merged["format"])
    if name == "synthetic_reviews":
        merged["test_size"] = _int_option(name, "test_size", merged["test_size"], 4, MAX_ROWS)
    if name == "synthetic_bios":
        profs = merged["professions"]
        if isinstance(profs, str) or not isinstance(profs, (list, tuple)) or not profs \
                or not all(isinstance(p, str) for p in profs):
            raise _bad(name, "professions", "a non-empty list of profession names"
                       f" such as ['professor', 'nurse'] (supported: {', '.join(PROFESSION_NAMES)})",
                       profs)
        for p in profs:
            if p not in V.PROFESSIONS:
                raise FairfightError(f"builtin:{name} option 'professions': unknown profession"
                                     f" '{p}'{suggest(p, PROFESSION_NAMES)}"
                                     f" (supported: {', '.join(PROFESSION_NAMES)})")
        if len(set(profs)) != len(profs):
            raise _bad(name, "professions", "a list without repeats", profs)
        merged["professions"] = list(profs)
        cells = 2 * len(profs)
        merged["test_size"] = _int_option(name, "test_size", merged["test_size"], cells, MAX_ROWS)
        s = merged["profession_signal"]
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not math.isfinite(s) \
                or not 0 <= s <= 1:
            raise _bad(name, "profession_signal", "a number from 0 to 1 (the share of bios with any"
                       " profession cue: 1.0 = every bio, 0.0 = none)", s)
        share = merged["lexical_share"]
        if share is not None and (isinstance(share, bool) or not isinstance(share, (int, float))
                                  or not math.isfinite(share) or not 0 <= share <= 1):
            raise _bad(name, "lexical_share", "null (the default mix) or a number from 0 to 1 (the share of bios "
                       "whose gender shows only through words of the gender concept's list: 1.0 = all, 0.0 = none)",
                       share)
    return name, merged


def _unique_rows(n: int, make, seen: set, what: str) -> list:
    """Call make() until n rows with texts not in `seen` (which is updated) exist."""
    rows, attempts = [], 0
    while len(rows) < n:
        attempts += 1
        if attempts > 50 * n + 1000:
            raise FairfightError(f"could not generate {n} distinct {what}; ask for fewer rows")
        row = make(len(rows))
        if row["text"] not in seen:
            seen.add(row["text"])
            rows.append(row)
    return rows


def _cells(professions: list[str], gender_counts) -> list[tuple[str, str]]:
    return [(p, g) for p, counts in zip(professions, gender_counts) for g, k in counts for _ in range(k)]


def _synthetic_bios(opts: dict) -> dict[str, list[dict]]:
    profs, seed, signal, share = opts["professions"], opts["seed"], opts["profession_signal"], opts["lexical_share"]
    stereo = ["male" if i % 2 == 0 else "female" for i in range(len(profs))]
    other = ["female" if s == "male" else "male" for s in stereo]
    seen: set[str] = set()

    def split(rng: random.Random, cells: list[tuple[str, str]], what: str) -> list[dict]:
        rng.shuffle(cells)

        def make(i):
            profession, gender = cells[i]
            lexical = rng.random() >= NON_LEXICAL_SHARE
            # no draw at all when every bio is cued, so 1.0 gives the rows of earlier versions
            cued = signal >= 1 or rng.random() < signal
            weak = cued and signal < 1 and rng.random() >= signal
            carrier = "mixed"
            if share is not None:  # replaces the draw above: the cue carrier, by lexical_share
                lexical = rng.random() < share
                carrier = "words" if lexical else "other"
            bio = _Bio(rng, profession, gender, lexical=lexical, cued=cued, weak=weak, carrier=carrier)
            return {"text": bio.text(), "profession": profession, "gender": gender}

        return _unique_rows(len(cells), make, seen, what)

    # test first, from its own stream, so it does not depend on size or confound
    k = len(profs) * 2
    per_cell = [opts["test_size"] // k + (i < opts["test_size"] % k) for i in range(k)]
    test_cells = _cells(profs, [((stereo[j], per_cell[2 * j]), (other[j], per_cell[2 * j + 1]))
                                for j in range(len(profs))])
    test = split(random.Random(f"synthetic_bios/test/{seed}"), test_cells, "test bios")
    per_prof = [opts["size"] // len(profs) + (j < opts["size"] % len(profs)) for j in range(len(profs))]
    counts = []
    for j, n in enumerate(per_prof):
        k_stereo = int(opts["confound"] * n + 0.5)
        counts.append(((stereo[j], k_stereo), (other[j], n - k_stereo)))
    train = split(random.Random(f"synthetic_bios/train/{seed}"), _cells(profs, counts), "train bios")
    return {"train": train, "test": test}


def _generic_text(opts: dict) -> dict[str, list[dict]]:
    rng = random.Random(f"generic_text/train/{opts['seed']}")

    def make(_i):
        n_sentences = rng.choice((1, 1, 2, 2, 2, 3))
        gender = rng.choice(("male", "female"))
        prof_name = rng.choice(PROFESSION_NAMES)
        prof = V.PROFESSIONS[prof_name]
        pron = dict(zip(("he", "his", "him"), V.PRONOUNS[gender]))
        name = rng.choice(V.MALE_NAMES if gender == "male" else V.FEMALE_NAMES)
        pools = {"city": V.CITIES, "food": V.FOODS, "weather": V.WEATHER, "day": V.DAYS,
                 "topic": V.TOPICS, "dog": V.DOGS, "friend": V.FRIENDS, "nw": V.NUMBER_WORDS,
                 "relative": V.GENERIC_RELATIVES[gender], "kin": V.GENERIC_KIN[gender],
                 "partner": V.SPOUSE[gender] + ("partner",), "focus": prof["focus"],
                 "field": prof["field"], "grade": prof.get("grade", ("fifth",)),
                 "university": V.UNIVERSITIES, "hospital": V.HOSPITALS, "job": prof["titles"],
                 "workplace": prof["workplaces"],
                 "hobby": V.HOBBIES[_leaning(rng, gender)] + V.HOBBIES["neutral"]}

        def slot(key):
            if key in pron:
                return pron[key]
            if key == "name":
                return name
            if key == "a_job":
                return _a(_fill(rng.choice(prof["titles"]), slot))
            if key == "jobs":
                return prof_name + "s"
            if key == "year":
                return str(rng.randint(1988, 2022))
            if key == "n":
                return str(rng.randint(3, 45))
            return rng.choice(pools[key])

        templates: list[str] = []
        while len(templates) < n_sentences:
            pool = V.GENERIC_GENDERED if rng.random() < 0.45 else V.GENERIC_NEUTRAL
            template = rng.choice(pool)
            if template not in templates:
                templates.append(template)
        return {"text": " ".join(_sentence(t, slot, False) for t in templates)}

    return {"train": _unique_rows(opts["size"], make, set(), "generic sentences")}


_GENERATORS = {"synthetic_bios": _synthetic_bios, "generic_text": _generic_text,
               "synthetic_reviews": lambda opts: _reviews.synthetic_reviews(opts, _unique_rows),
               "capitals": _capitals.capitals}


def generate(name: str, options: dict | None = None) -> dict[str, list[dict]]:
    """Split name -> rows (each row a dict column -> str value) of builtin dataset `name`.

    `options` overrides the defaults in `BUILTINS[name].options` (see the module docstring).
    An unknown name ("builtin:" prefix allowed), an unknown option or a bad option value
    raises FairfightError with a 'did you mean' where one is close.
    """
    name, opts = resolve_options(name, options)
    return _GENERATORS[name](opts)
