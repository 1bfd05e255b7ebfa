"""YAML → plain data plus a table of source positions for every path.

The YAML here is deliberately plainer than YAML 1.1: `yes`/`no`/`on`/`off` stay text,
dates stay text, `010` is ten, keys are text as written, duplicate keys are errors.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import Diagnostic, Position, SpecError
from .source import Source, format_path

_MAX_NODES = 200_000  # alias bombs: a spec never needs more

# YAML 1.2 core schema, and nothing else, decides what a plain scalar means.
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
YAML11_BOOLS = {"yes", "no", "on", "off", "y", "n", "Yes", "No", "On", "Off", "YES", "NO", "ON", "OFF"}


_PLAIN = "tag:fairfight,2026:plain"
_STD = "tag:yaml.org,2002:"
_KNOWN_TAGS = {_PLAIN} | {_STD + t for t in ("str", "int", "float", "bool", "null", "seq", "map")}
_KIND = {yaml.SequenceNode: "seq", yaml.MappingNode: "map", yaml.ScalarNode: "scalar"}


class _Resolver(yaml.resolver.BaseResolver):
    """Marks untagged plain scalars; `_core_value` decides what they mean."""

    yaml_implicit_resolvers = {}

    def resolve(self, kind, value, implicit):
        if kind is yaml.ScalarNode and implicit[0]:
            return _PLAIN
        return super().resolve(kind, value, implicit)

if yaml.__with_libyaml__:  # libyaml parses large specs several times faster
    from yaml._yaml import CParser as _CParser

    class _Composer(_CParser, _Resolver):
        def __init__(self, text):
            _CParser.__init__(self, text)
            _Resolver.__init__(self)

else:  # pragma: no cover - PyYAML without libyaml

    class _Composer(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser,
                    yaml.composer.Composer, _Resolver):
        def __init__(self, text):
            yaml.reader.Reader.__init__(self, text)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
            _Resolver.__init__(self)


@dataclass
class Document:
    """A loaded spec: data, and where each part of it was written."""

    source: Source
    data: object
    spans: dict = field(default_factory=dict)  # path tuple -> Position of the value
    key_spans: dict = field(default_factory=dict)  # path tuple -> Position of its key
    styles: dict = field(default_factory=dict)  # path tuple -> scalar style (None, '"', "'", '|', '>')
    errors: list = field(default_factory=list)  # problems that do not stop further checks
    origins: dict = field(default_factory=dict)  # path -> Source of a --set override that wrote it
    # path -> the text of a plain number given by --set: kept as text where the schema wants text
    # (a shell makes quoting awkward, and 0123 read as a number would lose its leading zero)
    override_text: dict = field(default_factory=dict)

    def pos(self, path: tuple, key: bool = False) -> Position:
        """Position of `path` (its key if asked and known), else of its nearest parent."""
        path = tuple(path)
        while True:
            table = self.key_spans if key else self.spans
            if path in table:
                return table[path]
            if key and path in self.spans:
                return self.spans[path]
            if not path:
                return Position(1, 1)
            path = path[:-1]

    def source_of(self, path) -> Source:
        path = tuple(path)
        for n in range(len(path), -1, -1):
            if path[:n] in self.origins:
                return self.origins[path[:n]]
        return self.source

    def diagnostic(self, path, message, *, key=False, severity="error", pos=None, code="") -> Diagnostic:
        pos = pos or self.pos(path, key=key)
        d = self.source_of(path).diagnostic(pos, format_path(tuple(path)), message, severity)
        return dataclasses.replace(d, code=code) if code else d


def _position(node) -> Position:
    s, e = node.start_mark, node.end_mark
    end_line, end_col = e.line + 1, e.column + 1
    if (end_line, end_col) <= (s.line + 1, s.column + 1):
        end_line, end_col = s.line + 1, s.column + 2
    return Position(s.line + 1, s.column + 1, end_line, end_col)


class _Builder:
    def __init__(self, source: Source):
        self.source = source
        self.doc = Document(source, None)
        self.errors: list[Diagnostic] = []
        self.count = 0
        self.active: set[int] = set()

    def error(self, node, path, message):
        self.errors.append(self.source.diagnostic(_position(node), format_path(path), message))

    def build(self, node, path=()):
        self.count += 1
        if self.count > _MAX_NODES:
            raise SpecError([self.source.diagnostic(_position(node), format_path(path),
                                                    f"the spec is too large (over {_MAX_NODES} nodes; alias bomb?)")])
        self.doc.spans[path] = _position(node)
        if node.tag not in _KNOWN_TAGS:
            tag = "!!" + node.tag[len(_STD):] if node.tag.startswith(_STD) else node.tag
            self.error(node, path, f"YAML tags such as '{tag}' are not supported in specs")
        elif not isinstance(node, yaml.ScalarNode) and node.tag != _STD + _KIND[type(node)]:
            # `!!str {a: 1}` would silently stay a mapping (scalars are checked in _scalar)
            noun = "a list" if isinstance(node, yaml.SequenceNode) else "a mapping"
            self.error(node, path, f"the YAML tag '!!{node.tag[len(_STD):]}' does not fit {noun}")
        if isinstance(node, yaml.ScalarNode):
            self.doc.styles[path] = node.style
            return self._scalar(node, path)
        if id(node) in self.active:
            self.error(node, path, "recursive alias: a value cannot contain itself")
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
            return self._mapping(node, path)
        finally:
            self.active.discard(id(node))

    def _mapping(self, node, path):
        out = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or (
                isinstance(key_node, yaml.ScalarNode) and key_node.value == "<<" and not key_node.style
            ):
                self.error(key_node, path, "merge keys ('<<') are not supported; write the keys out")
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.error(key_node, path, "a key must be plain text, not a list or a mapping")
                continue
            key = key_node.value
            if key == "" and not key_node.style:
                self.error(key_node, path, "empty key: a key must be text")
                continue
            child = path + (key,)
            if key in out:
                first = self.doc.key_spans[child]
                self.error(key_node, child, f"duplicate key '{key}' (first written at line {first.line}); "
                                            "the second value would silently win in plain YAML")
                continue
            self.doc.key_spans[child] = _position(key_node)
            out[key] = self.build(value_node, child)
        return out

    def _scalar(self, node, path):
        value, tag = node.value, node.tag
        if tag == _PLAIN or tag not in _KNOWN_TAGS:  # unknown tags were reported: read as written
            return _core_value(value) if not node.style else value
        kind = tag[len("tag:yaml.org,2002:"):] if tag.startswith("tag:yaml.org,2002:") else "str"
        converted = _core_value(value) if kind != "str" else value
        expected = {"int": int, "float": (float, int), "bool": bool, "null": type(None)}.get(kind, str)
        if kind in ("seq", "map") or not isinstance(converted, expected) or (kind == "int" and isinstance(converted, bool)):
            self.error(node, path, f"'{value}' cannot be read as !!{kind}")
            return value
        return float(converted) if kind == "float" else converted


def _core_value(value: str):
    """What a plain scalar means under the YAML 1.2 core schema (and nothing more)."""
    if _BOOL.match(value):
        return value.lower() == "true"
    if _NULL.match(value):
        return None
    if _INT.match(value):
        return int(value, 0) if value[:2] in ("0o", "0x") else int(value)
    if _FLOAT.match(value):
        low = value.lower()
        if low.endswith(".inf"):
            return float("-inf") if low.startswith("-") else float("inf")
        return float("nan") if low == ".nan" else float(value)
    return value


def _decode(raw: bytes, name: str) -> str:
    def fail(prefix: bytes, message: str):
        text = prefix.decode("utf-8", errors="replace")
        line = text.count("\n") + 1
        col = len(text) - (text.rfind("\n") + 1) + 1
        src = Source(name, text)
        raise SpecError([src.diagnostic(Position(line, col), "", message)])

    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):  # what PowerShell's `>` writes
        src = Source(name, raw.decode("utf-16", errors="replace"))
        raise SpecError([src.diagnostic(Position(1, 1), "", "the file is UTF-16 text; save it as UTF-8")])
    nul = raw.find(b"\x00")
    if nul >= 0:
        fail(raw[:nul], "this is a binary file, not a YAML spec (NUL byte)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        fail(raw[: exc.start], f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x})")
    # A lone CR ends a line for YAML: make it a newline, so positions count lines as YAML does.
    text = _LONE_CR.sub("\n", text)
    breaks = [m.start() for m in _OTHER_BREAKS.finditer(text)]
    if breaks:  # YAML 1.1 ends a line at these, editors do not: every later position would be off
        src = Source(name, text)
        raise SpecError([src.diagnostic(Position(*src.line_col(i)), "", (
            f"character U+{ord(text[i]):04X} ({_BREAK_NAMES[text[i]]}) ends a line in YAML but not in most editors, "
            "so what follows would be read (and reported) on the wrong line; write a space or a newline instead"))
            for i in breaks[:20]])
    return text


_LONE_CR = re.compile(r"\r(?!\n)")
_OTHER_BREAKS = re.compile("[\x85\u2028\u2029]")
_BREAK_NAMES = {"\x85": "NEXT LINE", "\u2028": "LINE SEPARATOR", "\u2029": "PARAGRAPH SEPARATOR"}
_MAX_BYTES = 16 * 2**20  # a spec is a few kB; this is a log or a dataset given by mistake


def read_source(path) -> Source:
    p = Path(path)

    def fail(message):
        raise SpecError([Diagnostic(str(path), Position(1, 1), "", message)])

    try:
        if p.is_dir():
            fail("is a directory, not a spec file")
        if p.exists() and not p.is_file():  # a FIFO or a device: reading could block, or never end
            fail("is not a regular file (a pipe or a device?); give the spec's file")
        if p.exists() and p.stat().st_size > _MAX_BYTES:
            fail(f"the file has {p.stat().st_size / 2**20:.0f} MiB; a spec is a small YAML file "
                 f"(at most {_MAX_BYTES // 2**20} MiB): is this the right file?")
        raw = p.read_bytes()
    except OSError as exc:
        fail(f"cannot read the spec: {exc.strerror or exc}")
    return Source(str(path), _decode(raw, str(path)))


def parse(source: Source, *, require_mapping: bool = True) -> Document:
    """Compose the YAML of `source` into a `Document`; raise `SpecError` on any problem."""
    try:
        composer = _Composer(source.text)
        try:
            node = composer.get_single_node()
        finally:
            composer.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Position(mark.line + 1, mark.column + 1) if mark else Position(1, 1)
        what = exc.problem or exc.context or "invalid YAML"
        if what == "but found another document":  # libyaml's words, cut from their context
            what = "a spec is one YAML document, and a second one starts here"
        if mark and source.line_text(mark.line + 1)[mark.column:mark.column + 1] == "\t":
            what += " (a tab: YAML is indented with spaces only)"
        raise SpecError([source.diagnostic(pos, "", f"YAML syntax error: {what}")]) from None
    except yaml.reader.ReaderError as exc:
        line, col = source.line_col(exc.position)
        raise SpecError([source.diagnostic(Position(line, col), "",
                                           f"character {exc.character!r} is not allowed in YAML")]) from None
    except yaml.YAMLError as exc:
        raise SpecError([source.diagnostic(Position(1, 1), "", f"YAML error: {exc}")]) from None
    if node is None:
        raise SpecError([source.diagnostic(Position(1, 1), "",
                                           "the file is empty; a spec is a mapping that starts with 'fairfight: 1'")])
    builder = _Builder(source)
    data = builder.build(node)
    builder.doc.errors = builder.errors  # duplicate keys and the like: reported with the rest
    if require_mapping and data is None:
        raise SpecError([source.diagnostic(_position(node), "", "the document is empty; a spec is a mapping that "
                                                                  "starts with 'fairfight: 1'")])
    if require_mapping and not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a single value ({type(data).__name__})"
        raise SpecError([source.diagnostic(_position(node), "",
                                           f"a spec must be a mapping of keys to values, not {kind}")])
    builder.doc.data = data
    return builder.doc


def load_document(path) -> Document:
    return parse(read_source(path))
