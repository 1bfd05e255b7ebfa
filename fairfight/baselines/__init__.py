"""Built-in baselines, skylines and controls, written on the public method API only.

Each entry says what it does, what it uses (computed from the rules: least privilege), its
default parameters and its search space for tuning parity.
"""
from __future__ import annotations

import inspect

from .catalogue import BASELINES, CONTROLS, SKYLINES, Builtin, CannotRun, builtin, uses_for


def source_of(name: str) -> str:
    """The source code of a built-in contender (its code identity in run keys)."""
    entry = builtin(name)
    return inspect.getsource(inspect.getmodule(entry.function))


__all__ = ["BASELINES", "CONTROLS", "SKYLINES", "Builtin", "CannotRun", "builtin", "source_of", "uses_for"]
