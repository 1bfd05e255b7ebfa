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

These are TOY datasets for offline demos and tests, not evidence about real models.
Same options give byte-identical output: every draw comes from a `random.Random` seeded with
a string (never the global generator, `hash()` or set order).
"""
from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass

from fairfight.data import _vocabulary as V
from fairfight.errors import FairfightError
from fairfight.spec.suggest import suggest

MAX_ROWS = 100_000
NON_LEXICAL_SHARE = 0.3  # bios written with no lexical gender cue
TITLE_SHARE = 0.4  # bios with a job-title sentence (first, after any greeting)
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
                 "confound": 0.5, "profession_signal": PROFESSION_SIGNAL, "seed": 0},
    ),
    "generic_text": Builtin(
        name="generic_text",
        summary="Toy unlabeled everyday sentences (some gendered) for a pretraining cache.",
        columns=("text",),
        splits=("train",),
        options={"size": 1000, "seed": 0},
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
        c = merged["confound"]
        if isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(c) \
                or not 0 <= c <= 1:
            raise _bad(name, "confound", "a number from 0 to 1 (0.5 = independent,"
                       " 1.0 = perfectly confounded)", c)
        s = merged["profession_signal"]
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not math.isfinite(s) \
                or not 0 <= s <= 1:
            raise _bad(name, "profession_signal", "a number from 0 to 1 (the share of bios with any"
                       " profession cue: 1.0 = every bio, 0.0 = none)", s)
    return name, merged


# --- template filling -------------------------------------------------------------------------
_SLOT = re.compile(r"\{(\w+)\}")
_VERB = re.compile(r"\[(\w+)\]")
_FIRST_PERSON = {"is": "am", "has": "have", "does": "do", "focuses": "focus"}


def _first_person(verb: str) -> str:
    """Third-person singular -> first-person present ("teaches" -> "teach")."""
    if verb in _FIRST_PERSON:
        return _FIRST_PERSON[verb]
    if verb.endswith("ies"):
        return verb[:-3] + "y"
    if verb.endswith(("ches", "shes", "sses", "xes", "zzes")):
        return verb[:-2]
    return verb[:-1]


def _a(phrase: str) -> str:
    """Indefinite article + phrase."""
    word = phrase.split(" ", 1)[0]
    acronym = len(word) > 1 and word.isupper()
    vowel = (word[0] in "AEFHILMNORSX") if acronym else \
        (word[0].lower() in "aeiou" and not word.lower().startswith(("uni", "use", "eu")))
    return ("an " if vowel else "a ") + phrase


def _fill(template: str, slot, depth: int = 0) -> str:
    """Replace every {key} by slot(key) (recursively); '{Key}' capitalises the result."""
    if depth > 6:
        raise RuntimeError(f"template recursion too deep: {template!r}")

    def one(m):
        key = m.group(1)
        text = _fill(slot(key.lower()), slot, depth + 1)
        return text[:1].upper() + text[1:] if key[:1].isupper() else text

    return _SLOT.sub(one, template)


def _sentence(template: str, slot, first_person: bool) -> str:
    text = _fill(template, slot)
    text = _VERB.sub(lambda m: _first_person(m.group(1)) if first_person else m.group(1), text)
    return text[:1].upper() + text[1:]


def _leaning(rng: random.Random, gender: str) -> str:
    """Which pool a non-lexical cue comes from: mostly the bio's own gender."""
    r = rng.random()
    return gender if r < 0.7 else "neutral" if r < 0.85 else ("female" if gender == "male" else "male")


class _Bio:
    """One biography: a person (gender, names, voice) and the slot filler for its templates."""

    def __init__(self, rng: random.Random, profession: str, gender: str, lexical: bool,
                 cued: bool = True, weak: bool = False):
        self.rng, self.gender, self.lexical, self.cued, self.weak = rng, gender, lexical, cued, weak
        self.prof = V.PROFESSIONS[profession]
        self.last = rng.choice(V.SURNAMES)
        self.first = rng.choice(V.MALE_NAMES if gender == "male" else V.FEMALE_NAMES) \
            if lexical else rng.choice(V.UNISEX_NAMES)
        doctor = self.prof["doctor_title"]
        self.person = "third" if lexical or rng.random() < 0.5 else "first"
        if lexical:
            intros = [(f"{self.first} {self.last}", rng.choice([self.first, self.last])),
                      (f"{V.HONORIFIC[gender]} {self.last}", f"{V.HONORIFIC[gender]} {self.last}")]
        else:
            intros = [(f"{self.first} {self.last}", rng.choice([self.first, self.last]))]
        if doctor and cued:  # "Dr." would hint at the profession
            intros.append((f"Dr. {self.first} {self.last}", f"Dr. {self.last}"))
        self.intro, self.short = rng.choice(intros)
        self.introduced = False
        self.cache: dict[str, str] = {}
        self.hobbies = self._hobbies()

    def _hobbies(self) -> list[str]:
        pool = V.HOBBIES[_leaning(self.rng, self.gender)]
        first = self.rng.choice(pool)
        rest = [h for h in pool + V.HOBBIES["neutral"] if h != first]
        return [first] + self.rng.sample(rest, 2)

    def subject(self) -> str:
        if self.person == "first":
            return "I"
        if not self.introduced:
            self.introduced = True
            return self.intro
        if self.lexical and self.rng.random() < 0.65:
            return V.PRONOUNS[self.gender][0]
        return self.short

    def possessive(self) -> str:
        if self.person == "first":
            return "my"
        return V.PRONOUNS[self.gender][1] if self.lexical else self.short + "'s"

    def obj(self) -> str:
        if self.person == "first":
            return "me"
        return V.PRONOUNS[self.gender][2] if self.lexical else self.short

    def _once(self, key: str, choices) -> str:
        if key not in self.cache:
            self.cache[key] = _fill(self.rng.choice(choices), self.slot)
        return self.cache[key]

    def slot(self, key: str) -> str:
        rng, prof = self.rng, self.prof
        if key == "s":
            return self.subject()
        if key == "p":
            return self.possessive()
        if key == "o":
            return self.obj()
        if key in ("field", "workplace"):  # one specialty and one main workplace per bio
            return self._once(key, prof[key + "s" if key == "workplace" else key])
        if key == "workplace2":
            first = self.slot("workplace")
            for _ in range(20):
                other = _fill(rng.choice(prof["workplaces"]), self.slot)
                if other != first:
                    return other
            return "another site"
        if key in ("city", "city2"):
            return rng.choice(V.CITIES)
        if key in ("a_title", "a_degree"):
            return _a(_fill(rng.choice(prof[key[2:] + "s"]), self.slot))
        if key in ("duty", "duty2"):
            if "duties" not in self.cache:
                self.cache["duties"] = rng.sample(prof["duties"], 2)
            return self.cache["duties"][key == "duty2"]
        if key in ("hobby", "hobby2", "hobby3"):
            return self.hobbies[{"hobby": 0, "hobby2": 1, "hobby3": 2}[key]]
        simple = {"title": prof["titles"], "degree": prof["degrees"], "focus": prof["focus"],
                  "achievement": prof["achievements"], "award": prof["awards"],
                  "previous": prof["previous"], "grade": prof.get("grade", ()),
                  "university": V.UNIVERSITIES, "hospital": V.HOSPITALS, "employer": V.EMPLOYERS,
                  "kids": V.KIDS, "children": V.CHILDREN, "nw": V.NUMBER_WORDS,
                  "spouse": V.SPOUSE[self.gender], "parent": V.PARENT[self.gender],
                  "first": (self.first,), "last": (self.last,)}
        if key in simple:
            return rng.choice(simple[key])
        if key == "year":
            return str(rng.randint(1988, 2022))
        if key == "n":
            return str(rng.randint(3, 25))
        raise KeyError(f"no slot {{{key}}}")

    def text(self) -> str:
        rng = self.rng
        say = lambda template: _sentence(template, self.slot, self.person == "first")  # noqa: E731
        parts = []
        if self.person == "first" and rng.random() < 0.35:
            parts.append(say(rng.choice(V.FIRST_PERSON_INTROS)))
        if not self.cued:
            return " ".join(parts + self._life(say))
        work = [V.WORKPLACE_TEMPLATES, V.EDUCATION_TEMPLATES, V.DUTY_TEMPLATES, self.prof["extras"],
                V.ACHIEVEMENT_TEMPLATES, V.CAREER_TEMPLATES]
        if self.weak:  # a single sentence about the job, no title
            chosen = [rng.choice(work[:4])]
        else:
            if rng.random() < TITLE_SHARE:
                parts.append(say(rng.choice(V.TITLE_TEMPLATES)))
            chosen = rng.sample(work, rng.randint(2, 4))
        if all(c in (V.ACHIEVEMENT_TEMPLATES, V.CAREER_TEMPLATES) for c in chosen):
            chosen[0] = rng.choice(work[:4])
        parts += [say(rng.choice(c)) for c in chosen]
        family = V.FAMILY_TEMPLATES_LEXICAL if self.lexical else V.FAMILY_TEMPLATES_NEUTRAL
        personal = []
        if rng.random() < (0.45 if self.lexical else 0.3):
            personal.append(say(rng.choice(family)))
        if rng.random() < (0.5 if self.lexical else 0.9):
            personal.append(say(rng.choice(V.HOBBY_TEMPLATES)))
        if rng.random() < (0.4 if self.lexical else 0.8):
            personal.append(say(rng.choice(V.STYLE_TEMPLATES[_leaning(rng, self.gender)])))
        rng.shuffle(personal)
        return " ".join(parts + personal)

    def _life(self, say) -> list[str]:
        """The sentences of a bio without any profession cue: life, places, family, hobbies and
        the same kinds of gender cues as the other bios (style remarks without a {focus})."""
        rng = self.rng
        family = V.FAMILY_TEMPLATES_LEXICAL if self.lexical else V.FAMILY_TEMPLATES_NEUTRAL
        first, *life = rng.sample(V.LIFE_TEMPLATES, rng.randint(1, 2))
        opening = say(first)  # introduces the person, so it stays first
        out = [say(t) for t in life]
        if rng.random() < (0.6 if self.lexical else 0.4):
            out.append(say(rng.choice(family)))
        if rng.random() < (0.7 if self.lexical else 0.95):
            out.append(say(rng.choice(V.HOBBY_TEMPLATES)))
        if rng.random() < (0.5 if self.lexical else 0.85):
            style = [t for t in V.STYLE_TEMPLATES[_leaning(rng, self.gender)] if "{focus}" not in t]
            out.append(say(rng.choice(style)))
        if not out:  # two sentences at least
            out.append(say(rng.choice(V.HOBBY_TEMPLATES)))
        rng.shuffle(out)
        return [opening] + out


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
    profs, seed, signal = opts["professions"], opts["seed"], opts["profession_signal"]
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
            bio = _Bio(rng, profession, gender, lexical=lexical, cued=cued, weak=weak)
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


_GENERATORS = {"synthetic_bios": _synthetic_bios, "generic_text": _generic_text}


def generate(name: str, options: dict | None = None) -> dict[str, list[dict]]:
    """Split name -> rows (each row a dict column -> str value) of builtin dataset `name`.

    `options` overrides the defaults in `BUILTINS[name].options` (see the module docstring).
    An unknown name ("builtin:" prefix allowed), an unknown option or a bad option value
    raises FairfightError with a 'did you mean' where one is close.
    """
    name, opts = resolve_options(name, options)
    return _GENERATORS[name](opts)
