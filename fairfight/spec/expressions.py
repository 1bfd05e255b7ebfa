"""The two small languages inside a spec: `where:` filters and `claims:`.

Both are lark grammars (grammars/*.lark). Parse errors carry the index of the offending
character in the string, so callers can point at it inside the YAML file.
"""
from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from importlib import resources

from ..errors import FairfightError
from .suggest import suggest


class ExpressionError(FairfightError):
    """A `where:` or claim string that does not parse. `index` is 0-based in the string."""

    def __init__(self, message: str, index: int, end: int | None = None):
        super().__init__(message)
        self.message, self.index, self.end = message, index, (end if end is not None else index + 1)


# ---------------------------------------------------------------- filters (where:)

_OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@dataclass(frozen=True)
class Column:
    name: str
    index: int  # where the name starts in the expression

    def value(self, row):
        return row[self.name]

    def columns(self):
        return (self,)


@dataclass(frozen=True)
class Literal:
    constant: object

    def value(self, row):
        return self.constant

    def columns(self):
        return ()


@dataclass(frozen=True)
class Compare:
    op: str
    left: object
    right: object

    def __call__(self, row) -> bool:
        try:
            return bool(_OPS[self.op](self.left.value(row), self.right.value(row)))
        except TypeError:  # e.g. "a" < 3: no row satisfies an ill-typed comparison
            return False

    def columns(self):
        return self.left.columns() + self.right.columns()


@dataclass(frozen=True)
class In:
    operand: object
    options: tuple
    negated: bool = False

    def __call__(self, row) -> bool:
        return (self.operand.value(row) in self.options) != self.negated

    def columns(self):
        return self.operand.columns()


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    items: tuple

    def __call__(self, row) -> bool:
        return all(i(row) for i in self.items) if self.op == "and" else any(i(row) for i in self.items)

    def columns(self):
        return tuple(c for i in self.items for c in i.columns())


@dataclass(frozen=True)
class Not:
    item: object

    def __call__(self, row) -> bool:
        return not self.item(row)

    def columns(self):
        return self.item.columns()


@dataclass(frozen=True)
class Where:
    """A parsed filter: call it on a row (a mapping of column -> value)."""

    text: str
    root: object

    def __call__(self, row) -> bool:
        return self.root(row)

    def columns(self) -> tuple:
        """Every column reference, with its index in the text."""
        return self.root.columns()


# ---------------------------------------------------------------- claims

@dataclass(frozen=True)
class Arm:
    """A contender in a claim: `name`, or `control(name)` for a control of a method."""

    name: str
    control: str | None = None
    index: int = 0

    def __str__(self):
        return f"{self.control}({self.name})" if self.control else self.name


@dataclass(frozen=True)
class ClaimAst:
    relation: str  # "beats" | "matches"
    subject: Arm
    against: Arm | None  # None: all baselines
    metric: str
    metric_index: int
    amount: float  # margin for beats (0 if none), tolerance for matches
    members: "MemberRange | None" = None  # a family claim's range over members; None: an ordinary claim


@dataclass(frozen=True)
class MemberRange:
    """'in some member', 'in every member [where COND]', 'in members where COND'."""

    quantifier: str  # "some" | "every"
    where: "Where | None"  # a filter over the axes' values (one row per member); None: every member
    index: int  # where the range starts in the claim
    where_index: int = 0  # where the condition starts in the claim

    def __str__(self):
        cond = f" where {self.where.text}" if self.where is not None else ""
        return f"in {self.quantifier} member{cond}"


# ---------------------------------------------------------------- parsing

@functools.lru_cache(maxsize=None)
def _parser(name: str):
    from lark import Lark

    grammar = resources.files("fairfight.spec.grammars").joinpath(f"{name}.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", maybe_placeholders=True)


_TERMINALS = {
    "COMP": "a comparison (==, !=, <, <=, >, >=)", "COLUMN": "a column name", "STRING": "a quoted string",
    "NUMBER": "a number", "LPAR": "'('", "RPAR": "')'", "LSQB": "'['", "RSQB": "']'", "COMMA": "','",
    "NAME": "a name", "AMOUNT": "a number (0.05 or 5%)", "$END": "the end of the text",
}


def _expected(names) -> str:
    words = sorted({_TERMINALS.get(n, f"'{n.lower()}'") for n in names})
    return ", ".join(words) if len(words) < 8 else ", ".join(words[:7]) + ", ..."


def _parse(name: str, text: str):
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

    try:
        return _parser(name).parse(text)
    except UnexpectedCharacters as exc:
        raise ExpressionError(f"unexpected character {text[exc.pos_in_stream]!r}", exc.pos_in_stream) from None
    except UnexpectedEOF as exc:
        raise ExpressionError(f"unexpected end; expected {_expected(exc.expected)}", len(text)) from None
    except UnexpectedToken as exc:
        tok = exc.token
        if tok.type == "$END":
            raise ExpressionError(f"unexpected end; expected {_expected(exc.expected)}", len(text)) from None
        start = tok.start_pos
        keywords = [n.lower() for n in exc.expected if n.isalpha() and n.isupper() and n not in _TERMINALS]
        hint = suggest(str(tok), keywords)
        raise ExpressionError(f"unexpected '{tok}'; expected {_expected(exc.expected)}{hint}", start,
                              start + max(1, len(str(tok)))) from None


def _unquote(token: str) -> str:
    body = token[1:-1]
    out, i = [], 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            out.append({"n": "\n", "t": "\t"}.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


_MAX_NUMBER_DIGITS = 100  # Python refuses to read integers of over 4300 digits; no column needs 100
_MAX_NESTING = 100  # a filter is evaluated recursively, per row: keep it far from Python's recursion limit


def _number(token):
    text = str(token)
    if len(text) > _MAX_NUMBER_DIGITS:
        raise ExpressionError(f"a number of {len(text)} characters; numbers here have at most "
                              f"{_MAX_NUMBER_DIGITS}", token.start_pos, token.start_pos + len(text))
    return float(text) if any(c in text for c in ".eE") else int(text)


def _where_node(tree, depth=0):
    kind = tree.data
    kids = tree.children
    if depth > _MAX_NESTING:
        raise ExpressionError(f"the filter nests 'not', 'and' and 'or' over {_MAX_NESTING} levels deep; "
                              "write it flatter", 0)
    if kind == "start":
        return _where_node(kids[0], depth)
    if kind in ("or_", "and_"):
        return BoolOp(kind[:-1], tuple(_where_node(k, depth + 1) for k in kids))
    if kind == "not_":
        return Not(_where_node(kids[0], depth + 1))
    if kind == "compare":
        return Compare(str(kids[1]), _operand(kids[0]), _operand(kids[2]))
    if kind in ("in_", "not_in"):
        options = tuple(_operand(k).constant for k in kids[1].children if k is not None)
        return In(_operand(kids[0]), options, kind == "not_in")
    raise AssertionError(kind)  # the grammar has no other rule


def _operand(tree):
    kind = tree.data
    if kind == "column":
        tok = tree.children[0]
        return Column(str(tok), tok.start_pos)
    if kind == "string":
        return Literal(_unquote(str(tree.children[0])))
    if kind == "number":
        return Literal(_number(tree.children[0]))
    return Literal({"true": True, "false": False, "null": None}[kind])


def parse_where(text: str) -> Where:
    """Parse a `where:` filter; raise `ExpressionError` with the offending index."""
    if not text.strip():
        raise ExpressionError("empty filter; write a condition such as profession == \"nurse\"", 0)
    return Where(text, _where_node(_parse("where", text)))


def _amount(token) -> float:
    text = str(token)
    return float(text[:-1]) / 100 if text.endswith("%") else float(text)


def _arm(tree) -> Arm:
    first, second = tree.children
    if second is None:
        return Arm(str(first), None, first.start_pos)
    return Arm(str(second), str(first), first.start_pos)


def parse_claim(text: str) -> ClaimAst:
    """Parse a claim; raise `ExpressionError` with the offending index."""
    if not text.strip():
        raise ExpressionError("empty claim; write e.g. 'shift beats all baselines on accuracy'", 0)
    relation, members = _parse("claims", text).children
    kids = relation.children
    metric_tree = kids[2]
    name, arg, value = metric_tree.children
    metric = str(name) if arg is None else f"{name}({arg})" if value is None else f"{name}({arg}={value})"
    subject = _arm(kids[0])
    members = _members(members, text) if members is not None else None
    if relation.data == "beats":
        against = None if kids[1].data == "all_baselines" else _arm(kids[1])
        margin = _amount(kids[3].children[0]) if kids[3] is not None else 0.0
        return ClaimAst("beats", subject, against, metric, name.start_pos, margin, members)
    return ClaimAst("matches", subject, _arm(kids[1]), metric, name.start_pos, _amount(kids[3]), members)


def _members(tree, text: str) -> MemberRange:
    """The range of a family claim; its condition parsed as a `where:` filter, positions in the claim."""
    if tree.data == "quantified":
        quantifier, cond = str(tree.children[0]), tree.children[1]
        start = text.rfind("in", 0, tree.children[0].start_pos)
    else:
        quantifier, cond = "every", tree.children[0]
        start = text.rfind("in", 0, text.rfind("members", 0, cond.start_pos))
    if cond is None:
        return MemberRange(quantifier, None, max(0, start))
    body = str(cond)[len("where"):]
    offset = cond.start_pos + len("where") + (len(body) - len(body.lstrip()))
    try:
        where = parse_where(body.strip())
    except ExpressionError as exc:
        raise ExpressionError(exc.message, offset + exc.index, offset + exc.end) from None
    return MemberRange(quantifier, where, max(0, start), offset)
