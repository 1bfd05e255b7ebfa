"""How the audit compares a recorded number with a recomputed one, and reads a run's class scores
(shared by core.py and trials.py)."""
from __future__ import annotations

import math

TOLERANCE = 1e-6


def _nan(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _close(a, b) -> bool:
    if _nan(a) and _nan(b):  # results.json writes NaN as null
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= TOLERANCE
    return a == b


def class_scores(rows: list) -> tuple[list, list | None]:
    """(classes, per-row class scores) of prediction rows that carry scores; ([], None) otherwise."""
    classes = sorted(rows[0]["scores"], key=str) if rows and "scores" in rows[0] else []
    return classes, ([[r["scores"][c] for c in classes] for r in rows] if classes else None)
