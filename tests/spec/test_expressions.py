import pytest

from fairfight.spec.expressions import ExpressionError, parse_claim, parse_where
from fairfight.spec.loader import parse
from fairfight.spec.semantics import expression_position
from fairfight.spec.source import Source

ROWS = [
    {"profession": "professor", "gender": "male", "age": 40},
    {"profession": "nurse", "gender": "female", "age": 25},
    {"profession": "nurse", "gender": "male", "age": 31},
    {"profession": "surgeon", "gender": "female", "age": 52},
]


@pytest.mark.parametrize("text, expected", [
    ('profession == "nurse"', [1, 2]),
    ("profession != 'nurse'", [0, 3]),
    ('profession in ["professor", "nurse"]', [0, 1, 2]),
    ('profession not in ["professor", "nurse"]', [3]),
    ('(profession == "professor" and gender == "male") or (profession == "nurse" and gender == "female")', [0, 1]),
    ('not gender == "male"', [1, 3]),
    ("age >= 31 and age < 52", [0, 2]),
    ("age > 30 or gender == 'female'", [0, 1, 2, 3]),
    ('not (age <= 30) and not profession == "surgeon"', [0, 2]),
    ('profession == 3', []),  # ill-typed comparisons match nothing, never crash
    ('age < "x"', []),
])
def test_filters_select_rows(text, expected):
    where = parse_where(text)
    assert [i for i, r in enumerate(ROWS) if where(r)] == expected


def test_filter_columns_have_positions():
    where = parse_where('a == 1 and  bb in [1, 2]')
    assert [(c.name, c.index) for c in where.columns()] == [("a", 0), ("bb", 12)]


@pytest.mark.parametrize("text, index, fragment", [
    ('profession = "x"', 11, "unexpected character '='"),
    ('profession in "x"', 14, "expected '['"),
    ("(a == 1", 7, "expected ')'"),
    ("a == 1 and", 10, "unexpected end"),
    ('a == "x', 5, "unexpected character"),
    ("a ==", 4, "unexpected end"),
    ("", 0, "empty filter"),
])
def test_filter_errors_point_at_the_character(text, index, fragment):
    with pytest.raises(ExpressionError) as e:
        parse_where(text)
    assert e.value.index == index and fragment in e.value.message


def test_claims():
    c = parse_claim("shift beats all baselines on worst_group_accuracy by 0.05")
    assert (c.relation, c.subject.name, c.against, c.metric, c.amount) == ("beats", "shift", None, "worst_group_accuracy", 0.05)
    c = parse_claim("shift beats random_model(shift) on leakage(gender) by 5%")
    assert (c.against.control, c.against.name, c.metric, c.amount) == ("random_model", "shift", "leakage(gender)", 0.05)
    c = parse_claim("a matches b on accuracy within 0.02")
    assert (c.relation, c.against.name, c.amount) == ("matches", "b", 0.02)
    assert parse_claim("x beats y on f1").amount == 0.0


@pytest.mark.parametrize("text, index, fragment", [
    ("shift beat x on y", 6, "did you mean 'beats'?"),
    ("shift beats x on y by", 21, "expected a number"),
    ("shift beats x", 13, "unexpected end"),
    ("shift matches x on y", 20, "expected 'within'"),
    ("shift beats x on y by much", 22, "expected a number"),
])
def test_claim_errors(text, index, fragment):
    with pytest.raises(ExpressionError) as e:
        parse_claim(text)
    assert e.value.index == index and fragment in e.value.message


@pytest.mark.parametrize("yaml_text, line, col", [
    ('w: a == 1 and b = 2\n', 1, 17),                     # plain
    ('w: "a == 1 and b = 2"\n', 1, 18),                   # double-quoted
    ("w: 'a == \"x\" and b = 2'\n", 1, 20),               # single-quoted with inner quotes
    ('w: >\n  a == 1 and\n  b = 2\n', 3, 5),              # folded over two lines
    ('w: |\n  a == 1 and\n  b = 2\n', 3, 5),              # literal block
    ('w: "a == 1 and \\\n  b = 2"\n', 2, 5),              # escaped line break
])
def test_errors_point_into_the_yaml_file(yaml_text, line, col):
    doc = parse(Source("s.yaml", yaml_text))
    with pytest.raises(ExpressionError) as e:
        parse_where(doc.data["w"])
    pos = expression_position(doc, ("w",), e.value.index, e.value.end)
    assert (pos.line, pos.col) == (line, col)
    assert doc.source.line_text(pos.line)[pos.col - 1] == "="
