"""Built-in word lists for named concepts, so `spurious_concept: gender` means something exact.

A spec can always grant its own list instead (`knowledge: {gender_words: [he, she, ...]}`).
"""
from __future__ import annotations

import re

from .errors import FairfightError
from .spec.suggest import suggest

CONCEPT_WORDS = {
    "gender": {
        "female": ("she", "her", "hers", "herself", "woman", "women", "girl", "girls", "mother", "mothers", "wife",
                   "daughter", "daughters", "sister", "sisters", "aunt", "niece", "grandmother", "mrs", "ms", "miss",
                   "lady", "ladies", "female", "females", "mom", "mum", "madam", "bride", "girlfriend", "queen"),
        "male": ("he", "him", "his", "himself", "man", "men", "boy", "boys", "father", "fathers", "husband", "son",
                 "sons", "brother", "brothers", "uncle", "nephew", "grandfather", "mr", "sir", "gentleman",
                 "gentlemen", "male", "males", "dad", "king", "groom", "boyfriend"),
    },
}


_WORD = re.compile(r"[A-Za-z']+")


def delete_words(text: str, words: frozenset) -> str:
    """Remove every word in `words` (case-insensitive), keeping the rest of the text as it was
    (token_deletion's deleter, and the `delete_words` split transform's)."""
    return re.sub(r"\s{2,}", " ", _WORD.sub(lambda m: "" if m.group(0).lower() in words else m.group(0), text)).strip()


def concept_words(concept) -> dict:
    """Word lists per value of a concept: a concept name ("gender") or an explicit list of words."""
    if isinstance(concept, (list, tuple)):
        return {"words": tuple(str(w).lower() for w in concept)}
    if concept not in CONCEPT_WORDS:
        raise FairfightError(f"no built-in word list for concept '{concept}'{suggest(concept, CONCEPT_WORDS)}; "
                             f"grant the words themselves as knowledge (a list)")
    return {k: tuple(v) for k, v in CONCEPT_WORDS[concept].items()}


def artifact_sha256(path) -> str:
    """The sha256 of a knowledge artifact: a file's bytes; for a folder (an SAE, say), the hash of
    every file's relative path and sha256, in sorted order (so it names the folder's content)."""
    import hashlib
    from pathlib import Path

    path = Path(path)
    if path.is_dir():
        h = hashlib.sha256()
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(f.relative_to(path).as_posix().encode() + b"\0" + _file_sha256(f).encode() + b"\n")
        return h.hexdigest()
    return _file_sha256(path)


def _file_sha256(path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# the on-disk layouts of an SAE folder (fairfight.sae.formats reads them); here, so that validate
# can tell an SAE folder without importing torch
SAE_LAYOUTS = {"saelens": ("cfg.json", "sae_weights.safetensors"), "dictionary_learning": ("config.json", "ae.pt")}


def sae_layout(folder) -> str | None:
    """"saelens" or "dictionary_learning" if `folder` holds an SAE in that layout, else None."""
    from pathlib import Path

    folder = Path(folder)
    for name, files in SAE_LAYOUTS.items():
        if folder.is_dir() and all((folder / f).is_file() for f in files):
            return name
    return None


def all_words(concept) -> frozenset:
    return frozenset(w for words in concept_words(concept).values() for w in words)
