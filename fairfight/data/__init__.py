"""Data sources: deterministic builtin datasets (see `fairfight.data.builtin`)."""
from __future__ import annotations

from pathlib import Path

# The modules that generate builtin datasets. A contender must not run them: with the spec's
# options they give back every split, labels included (docs/trust-boundary.md).
GENERATORS = tuple(f"{__name__}.{m}" for m in ("builtin", "_reviews", "_writing", "_vocabulary"))


def generator_files() -> list[str]:
    """The generators' sources and compiled files, which the contender's sandbox leaves out."""
    here = Path(__file__).parent
    names = [m.rsplit(".", 1)[1] for m in GENERATORS]
    out = [here / f"{n}.py" for n in names]
    out += [p for n in names for p in (here / "__pycache__").glob(f"{n}.*.pyc")]
    return [str(p) for p in out]
