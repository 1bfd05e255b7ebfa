"""'Did you mean' for every unknown name."""
from __future__ import annotations

import difflib


def suggest(word, candidates) -> str:
    """'; did you mean 'x'?' when a candidate is close to `word`, else ''."""
    match = difflib.get_close_matches(str(word), [str(c) for c in candidates], n=1, cutoff=0.6)
    return f"; did you mean '{match[0]}'?" if match else ""
