"""builtin:synthetic_reviews: template movie reviews whose genre can be made a confound of their
sentiment (a toy task that is not about biographies; see builtin.py and docs/builtin-data.md).

Every review names its genre through plot and setting ("a haunted farmhouse", "a wedding gone
wrong") and says how the reviewer felt, strongly or mildly. In TRAIN, `confound` sets the share
of each sentiment's reviews in its stereotyped genre (positive: comedy, negative: horror); TEST
is balanced over sentiment x genre, so a classifier that reads the genre instead of the
sentiment fails on scary films people loved and comedies people hated.
"""
from __future__ import annotations

import random

SENTIMENTS = ("positive", "negative")
GENRES = ("comedy", "horror")  # the stereotyped genre of each sentiment, in that order

# the words that name the genre (what a spec may grant as the spurious concept's word list)
GENRE_WORDS = {
    "comedy": ("comedy", "funny", "hilarious", "laughs", "jokes", "gags", "slapstick", "comedic", "sitcom", "witty",
               "prank", "pranks", "wedding", "roommates", "clumsy", "goofy", "farce", "parody", "comedian"),
    "horror": ("horror", "scary", "haunted", "ghost", "ghosts", "monster", "demon", "zombie", "zombies", "creepy",
               "blood", "bloody", "slasher", "killer", "nightmare", "terrifying", "cursed", "vampire", "possessed"),
}

_SETUP = {
    "comedy": ("a {comedy_adj} comedy about {comedy_plot}", "this comedy about {comedy_plot}",
               "a {comedy_adj} film about {comedy_plot}", "the new comedy, which follows {comedy_plot},"),
    "horror": ("a {horror_adj} horror film about {horror_plot}", "this horror movie about {horror_plot}",
               "a {horror_adj} film about {horror_plot}", "the new horror film, which follows {horror_plot},"),
}
_PLOT = {
    "comedy": ("two clumsy roommates planning a wedding", "a goofy family on a road trip", "a prank war at an office",
               "a comedian who inherits a bakery", "a wedding gone wrong", "roommates who swap jobs for a week",
               "a parody of a spy thriller", "a slapstick heist by clumsy amateurs"),
    "horror": ("a haunted farmhouse", "a ghost in an old hospital", "a cursed video tape", "a zombie outbreak in a "
               "small town", "a slasher stalking a summer camp", "a possessed child", "a vampire in the suburbs",
               "a monster beneath a frozen lake"),
}
_ADJ = {"comedy": ("funny", "hilarious", "goofy", "witty"), "horror": ("scary", "creepy", "bloody", "terrifying")}
_DETAIL = {
    "comedy": ("The jokes come fast.", "It is full of gags and pranks.", "There are laughs in every scene.",
               "The slapstick never stops."),
    "horror": ("The ghosts appear at night.", "There is blood on every door.", "The monster is rarely seen.",
               "Every scene is a nightmare."),
}
_FEELING = {
    "positive": {
        "strong": ("I loved it.", "An absolute delight from start to finish.", "Wonderful, I would watch it again.",
                   "A brilliant film, highly recommended.", "The cast is superb and I enjoyed every minute."),
        "mild": ("I liked it more than I expected.", "Worth a look.", "A pleasant way to spend an evening.",
                 "Quite good overall."),
    },
    "negative": {
        "strong": ("I hated it.", "A complete waste of time.", "Dreadful, I walked out halfway.",
                   "A terrible film, avoid it.", "The cast is awful and I was bored throughout."),
        "mild": ("I did not enjoy it much.", "Not worth the ticket.", "A tedious way to spend an evening.",
                 "Rather disappointing overall."),
    },
}
_NEUTRAL = ("It runs about {minutes} minutes.", "I saw it on a {day} with a friend.",
            "It opened in {month}.", "The soundtrack is mostly piano.", "It was shot in {city}.")
_POOLS = {"minutes": tuple(str(n) for n in range(85, 135, 5)),
          "day": ("Monday", "Tuesday", "Friday", "Saturday", "Sunday"),
          "month": ("March", "June", "October", "December"), "city": ("Toronto", "Prague", "Lisbon", "Atlanta")}
_OPENERS = ("{Setup}. {detail}{feeling}", "I watched {setup}. {feeling}{detail}",
            "{Feeling} {Setup} is what I saw last week. {detail}")
DETAIL_SHARE = 0.3  # reviews with a genre detail sentence besides the setup


def _review(rng: random.Random, sentiment: str, genre: str) -> str:
    def pick(options):
        return rng.choice(options)

    # one strong or mild verdict, then a second, strong one: the sentiment is said twice, the
    # genre mostly once (in the setup), so that the genre is a trap but not the whole review
    first = pick(_FEELING[sentiment]["strong" if rng.random() < 0.6 else "mild"])
    second = pick([f for f in _FEELING[sentiment]["strong"] if f != first])
    setup = pick(_SETUP[genre]).format(comedy_adj=pick(_ADJ["comedy"]), comedy_plot=pick(_PLOT["comedy"]),
                                       horror_adj=pick(_ADJ["horror"]), horror_plot=pick(_PLOT["horror"]))
    detail = pick(_DETAIL[genre]) + " " if rng.random() < DETAIL_SHARE else ""
    text = pick(_OPENERS).replace("{Setup}", setup[:1].upper() + setup[1:]).replace("{setup}", setup) \
        .replace("{detail}", detail).replace("{Feeling}", first).replace("{feeling}", first + " ")
    text = " ".join(text.split()) + " " + second
    if rng.random() < 0.5:
        neutral = pick(_NEUTRAL)
        for key, pool in _POOLS.items():
            neutral = neutral.replace("{" + key + "}", pick(pool))
        text += " " + neutral
    return text.replace(", is", " is").replace(",.", ".")


def synthetic_reviews(opts: dict, unique_rows) -> dict[str, list[dict]]:
    seed = opts["seed"]
    seen: set[str] = set()

    def split(rng: random.Random, cells: list[tuple[str, str]], what: str) -> list[dict]:
        rng.shuffle(cells)

        def make(i):
            sentiment, genre = cells[i]
            return {"text": _review(rng, sentiment, genre), "sentiment": sentiment, "genre": genre}

        return unique_rows(len(cells), make, seen, what)

    grid = [(s, g) for s in SENTIMENTS for g in GENRES]
    per_cell = [opts["test_size"] // 4 + (i < opts["test_size"] % 4) for i in range(4)]
    test_cells = [cell for cell, k in zip(grid, per_cell) for _ in range(k)]
    test = split(random.Random(f"synthetic_reviews/test/{seed}"), test_cells, "test reviews")
    train_cells = []
    for j, sentiment in enumerate(SENTIMENTS):
        n = opts["size"] // 2 + (j < opts["size"] % 2)
        k_stereo = int(opts["confound"] * n + 0.5)
        other = GENRES[1 - j]
        train_cells += [(sentiment, GENRES[j])] * k_stereo + [(sentiment, other)] * (n - k_stereo)
    train = split(random.Random(f"synthetic_reviews/train/{seed}"), train_cells, "train reviews")
    return {"train": train, "test": test}
