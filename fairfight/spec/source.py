"""A spec's text with the means to point into it: positions, snippets, diagnostics."""
from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass, field

from ..errors import Diagnostic, Position


_NEWLINE = re.compile("\n")


@dataclass
class Source:
    name: str  # what messages call the file (as the user gave it)
    text: str
    _starts: list = field(default_factory=list, repr=False)

    def __post_init__(self):
        self._starts = [0] + [m.end() for m in _NEWLINE.finditer(self.text)]

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column of a character offset."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._starts, offset) - 1
        return line + 1, offset - self._starts[line] + 1

    def offset(self, line: int, col: int) -> int:
        line = max(1, min(line, len(self._starts)))
        return self._starts[line - 1] + col - 1

    def line_text(self, line: int) -> str:
        if not 1 <= line <= len(self._starts):
            return ""
        start = self._starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]

    def snippet(self, pos: Position) -> str:
        text = self.line_text(pos.line).rstrip("\r")
        if not text and pos.line > len(self._starts):
            return ""
        width = pos.end_col - pos.col if pos.end_line == pos.line else len(text) - pos.col + 1
        width = max(1, min(width, max(1, len(text) - pos.col + 1)))
        gutter = f"{pos.line:>4} | "
        pad = "".join("\t" if c == "\t" else " " for c in text[: pos.col - 1])
        return f"{gutter}{text}\n{' ' * (len(gutter) - 2)}| {pad}^{'~' * (width - 1)}"

    def diagnostic(self, pos: Position, path: str, message: str, severity="error") -> Diagnostic:
        return Diagnostic(self.name, pos, path, message, severity, self.snippet(pos))


@functools.lru_cache(maxsize=8)
def source_of(name: str, text: str) -> Source:
    """One Source per spec text: diagnostics found after the IR is built (hundreds, in a large
    spec) share its line index instead of each indexing the whole text again."""
    return Source(name, text)


def format_path(path: tuple) -> str:
    """('rules', 'model', 2) -> 'rules.model[2]'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
