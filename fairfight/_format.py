"""Numbers for people, shared by verdict reasons, reports and the audit."""
from __future__ import annotations

import math


def signed(x, digits: int = 3) -> str:
    """'+0.194', never '-0.000': a difference that rounds to zero has no sign worth printing."""
    if not isinstance(x, (int, float)) or isinstance(x, bool) or not math.isfinite(x):
        return "n/a"
    text = f"{x:+.{digits}f}"
    return "+" + text[1:] if text.startswith("-") and float(text) == 0 else text
