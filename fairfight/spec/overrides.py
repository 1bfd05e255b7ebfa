"""`--set a.b.c=value` overrides, applied to the loaded document before validation."""
from __future__ import annotations

import re

from ..errors import Position, SpecError
from .loader import Document, parse
from .source import Source

_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*|[0-9]+")


def apply_overrides(doc: Document, overrides) -> None:
    """Set each `PATH=VALUE` in `doc` (VALUE is YAML); raise SpecError listing every bad one."""
    errors = []
    for text in overrides:
        try:
            _apply(doc, text)
        except SpecError as exc:
            errors += exc.diagnostics
    if errors:
        raise SpecError(errors)


def walk(doc: Document, parts, fail):
    """Walk `doc` to the parent of dotted path `parts`, creating mappings on the way (a list may
    grow by one at its end). fail(i, message, length) is called (and must raise) for a bad part i.
    Returns (parent node, the path as keys, the first created path or None)."""
    path, node, created = [], doc.data, None
    for i, part in enumerate(parts):
        if not _PART.fullmatch(part):
            fail(i, f"'{part}' is not a key", max(1, len(part)))
        key = int(part) if part.isdigit() and isinstance(node, list) else part
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not isinstance(key, int) or not 0 <= key < len(node) + (1 if last else 0):
                fail(i, f"'{'.'.join(parts[:i])}' is a list of {len(node)}; '{part}' is not an index in it", len(part))
        elif not isinstance(node, dict):
            fail(i, f"'{'.'.join(parts[:i])}' is a single value, it has no key '{part}'", len(part))
        path.append(key)
        if not last:
            nxt = node[key] if (isinstance(node, dict) and key in node) or (isinstance(node, list) and key < len(node)) else None
            if nxt is None:
                nxt = {}
                created = created or tuple(path)
                if isinstance(node, list):
                    node.append(nxt)
                else:
                    node[key] = nxt
            node = nxt
    return node, path, created


def _fail(source: Source, col: int, message: str, end: int = 0):
    raise SpecError([source.diagnostic(Position(1, col, 1, end or col + 1), "", message)])


def _apply(doc: Document, text: str) -> None:
    source = Source("--set", text)
    dotted, eq, value = text.partition("=")
    if not eq:
        _fail(source, 1, "an override is PATH=VALUE, e.g. evaluate.seeds=3", len(text) + 1)
    parts = dotted.split(".")
    cols = [1]
    for part in parts:
        cols.append(cols[-1] + len(part) + 1)
    node, path, created = walk(doc, parts, lambda i, message, length: _fail(source, cols[i], message, cols[i] + length))
    if created is not None:
        created = (created, Position(1, cols[len(created) - 1], 1, cols[len(created) - 1] + len(parts[len(created) - 1])))
    offset = len(dotted) + 1
    if not value.strip():
        _fail(source, offset + 1, f"missing value after '{dotted}='")
    try:
        padded = parse(Source("--set", " " * offset + value), require_mapping=False)
    except SpecError as exc:
        raise SpecError([_in_override(source, d) for d in exc.diagnostics]) from None
    padded.source = source
    if padded.errors:
        raise SpecError([_in_override(source, d) for d in padded.errors])
    if isinstance(node, list) and path[-1] == len(node):
        node.append(padded.data)
    else:
        node[path[-1]] = padded.data
    prefix = tuple(path)
    for table in ("spans", "key_spans", "styles", "override_text"):
        mine = getattr(doc, table)
        for old in [p for p in mine if p[: len(prefix)] == prefix]:
            del mine[old]
        mine.update({prefix + p: v for p, v in getattr(padded, table).items()})
    doc.override_text.update({prefix + p: text for p, text in _plain_numbers(padded)})
    doc.key_spans[prefix] = Position(1, offset - len(parts[-1]), 1, offset)
    doc.origins[prefix] = source
    if created:
        doc.spans[created[0]] = doc.key_spans[created[0]] = created[1]
        doc.origins[created[0]] = source


def _in_override(source: Source, d):
    """A diagnostic of the parsed value, quoting the override as written (not its padded value);
    one past its end (YAML's "unexpected end") points just after its last character."""
    last = source.text.count("\n") + 1
    pos = d.pos if d.pos.line <= last else Position(last, len(source.line_text(last)) + 1)
    return source.diagnostic(pos, d.path, d.message, d.severity)


def _plain_numbers(padded: Document):
    """(path, raw text) of every unquoted number in an override's value."""
    for p, style in padded.styles.items():
        value = padded.data
        for part in p:
            value = value[part]
        if not style and isinstance(value, (int, float)) and not isinstance(value, bool):
            span = padded.spans[p]
            yield p, padded.source.text[span.col - 1: span.end_col - 1] if span.line == span.end_line else str(value)
