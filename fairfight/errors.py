"""One exception root and positioned diagnostics.

Every user-input problem is a `Diagnostic` (a typed, serialisable record); a failed
check raises `SpecError` carrying all of them at once, sorted by position.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


class FairfightError(Exception):
    """Root of every error fairfight raises on purpose (bad input, refused work)."""


class AffordanceError(FairfightError):
    """A contender asked for something its grant does not include."""


class BudgetExceeded(FairfightError):
    """A contender went past a budget of the rules (examples, steps, wall time)."""


@dataclass(frozen=True, order=True)
class Position:
    line: int  # 1-based
    col: int  # 1-based
    end_line: int = 0
    end_col: int = 0

    def __post_init__(self):
        if not self.end_line:
            object.__setattr__(self, "end_line", self.line)
        if not self.end_col:
            object.__setattr__(self, "end_col", self.col + 1)


@dataclass(frozen=True)
class Diagnostic:
    """One finding about a spec: where, what, and how bad."""

    file: str
    pos: Position
    path: str  # dotted path into the spec, e.g. "rules.model[2]"; "" for the file itself
    message: str
    severity: str = "error"  # "error" | "warning"
    snippet: str = field(default="", compare=False)  # source line(s) with a caret
    code: str = ""  # a stable name for the kind of finding, e.g. "refused-contender"

    @property
    def sort_key(self):
        return (self.file, self.pos.line, self.pos.col, self.path, self.message)

    def headline(self) -> str:
        where = f"{self.file}:{self.pos.line}:{self.pos.col}"
        path = f" {self.path}:" if self.path else ""
        tag = "" if self.severity == "error" else f" {self.severity}:"
        return f"{where}:{tag}{path} {self.message}"

    def render(self) -> str:
        return self.headline() + ("\n" + self.snippet if self.snippet else "")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["pos"] = asdict(self.pos)
        return d


class SpecError(FairfightError):
    """A spec (or a --set override) is invalid. Carries every diagnostic found."""

    def __init__(self, diagnostics):
        self.diagnostics = sorted(diagnostics, key=lambda d: d.sort_key)
        errors = [d for d in self.diagnostics if d.severity == "error"]
        head = errors[0].headline() if errors else "invalid spec"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(head + more)

    def render(self) -> str:
        return "\n".join(d.render() for d in self.diagnostics)
