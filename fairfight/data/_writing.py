"""How the builtin datasets write their texts: template filling and one biography (`_Bio`).

Split out of builtin.py, which keeps the datasets' options and the generators that draw rows.
Every draw comes from the `random.Random` passed in (see builtin.py on determinism).
"""
from __future__ import annotations

import random
import re

from fairfight.data import _vocabulary as V

TITLE_SHARE = 0.4  # bios with a job-title sentence (first, after any greeting)


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
                 cued: bool = True, weak: bool = False, carrier: str = "mixed"):
        """`carrier`: what shows the gender. "mixed": a lexical bio has gendered names, pronouns and
        family words, a non-lexical one only hobby and style cues (the default, as in every version);
        "words": only words of the gender concept's list (pronouns, family words, honorifics: a
        unisex first name, gender-neutral hobbies and style), so deleting the list's words removes
        the cue; "other": only what the list cannot delete (a gendered first name, hobby and style
        cues, first-person voice half the time; no pronoun, family word or honorific)."""
        self.rng, self.gender, self.lexical, self.cued, self.weak = rng, gender, lexical, cued, weak
        self.leaning = carrier != "words"
        self.prof = V.PROFESSIONS[profession]
        self.last = rng.choice(V.SURNAMES)
        gendered_name = lexical if carrier == "mixed" else carrier == "other"
        self.first = rng.choice(V.MALE_NAMES if gender == "male" else V.FEMALE_NAMES) \
            if gendered_name else rng.choice(V.UNISEX_NAMES)
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
        pool = V.HOBBIES[self._pool()]
        first = self.rng.choice(pool)
        rest = [h for h in pool + V.HOBBIES["neutral"] if h != first]
        if not self.leaning:  # the neutral pool twice: once each (the default mix keeps its draws as they were)
            rest = list(dict.fromkeys(rest))
        return [first] + self.rng.sample(rest, 2)

    def _pool(self) -> str:
        """The pool a hobby or style cue comes from (mostly the bio's own gender; neutral for "words")."""
        return _leaning(self.rng, self.gender) if self.leaning else "neutral"

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
            personal.append(say(rng.choice(V.STYLE_TEMPLATES[self._pool()])))
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
            style = [t for t in V.STYLE_TEMPLATES[self._pool()] if "{focus}" not in t]
            out.append(say(rng.choice(style)))
        if not out:  # two sentences at least
            out.append(say(rng.choice(V.HOBBY_TEMPLATES)))
        rng.shuffle(out)
        return [opening] + out
