"""Declared split transforms (`splits.NAME.transform`): changes to a split's text that are part of
the rules, applied here, on the trusted side, before any contender sees the split.

    delete_words: gender                          the concept's built-in word list
    delete_words: [he, she, his, her]             these words
    delete_words: {concept: gender, keep: [mr]}   the concept's words except those kept
"""
from __future__ import annotations

from ..errors import FairfightError
from ..knowledge import concept_words, delete_words
from .sources import Table


def words_of(step) -> frozenset:
    """The words one `delete_words` step deletes (lower case)."""
    if isinstance(step, str):
        chosen = {w for ws in concept_words(step).values() for w in ws}
    elif isinstance(step, (list, tuple)):
        chosen = {str(w).lower() for w in step}
    else:
        chosen = {w for ws in concept_words(step["concept"]).values() for w in ws}
        chosen -= {str(w).lower() for w in step.get("keep", ())}
    return frozenset(chosen)


def describe(step: dict) -> str:
    """'delete_words gender (32 words)', for plan, results and the report."""
    (kind, arg), = step.items()
    if isinstance(arg, str):
        what = arg
    elif isinstance(arg, (list, tuple)):
        what = "[" + ", ".join(map(str, arg[:6])) + (", ..." if len(arg) > 6 else "") + "]"
    else:
        keep = ", ".join(map(str, arg.get("keep", ())))
        what = f"{arg['concept']}" + (f" except {keep}" if keep else "")
    return f"{kind} {what} ({len(words_of(arg))} words)"


def apply_transforms(table: Table, steps, where: str = "transform") -> Table:
    """The table with each step applied to its text column, in order."""
    if not steps:
        return table
    if "text" not in table.columns:
        raise FairfightError(f"{where}: the split has no text column to transform")
    texts = list(table.columns["text"])
    for step in steps:
        (kind, arg), = step.items()
        if kind != "delete_words":  # the schema allows no other
            raise FairfightError(f"{where}: unknown transform '{kind}'")
        words = words_of(arg)
        texts = [delete_words(t, words) if isinstance(t, str) else t for t in texts]
    return Table({**table.columns, "text": texts})


def transforms_of(spec) -> dict:
    """Split name -> its transforms described (plan, results.json, provenance.json, the report)."""
    return {name: [describe(dict(step)) for step in sp.transform] for name, sp in spec.splits.items() if sp.transform}
