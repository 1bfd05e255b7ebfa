"""Scorers of generation tasks: parsed from evaluate.scorer, run on the trusted side only."""
from types import SimpleNamespace

import pytest

from fairfight.errors import FairfightError
from fairfight.evaluator.contender_side.worker import denied_paths, scorer_files
from fairfight.evaluator.judgement.scorers import MAX_SCORED, load_scorer, score_outputs, scorer_sha256
from fairfight.spec.scorer_syntax import ScorerSyntaxError, parse_scorer

ROWS = [{"capital": "Paris", "country": "France"}, {"capital": "Buenos Aires", "country": "Argentina"}]


@pytest.mark.parametrize("text, kind, column", [
    ("contains(capital)", "contains", "capital"), ("exact_match( capital )", "exact_match", "capital"),
    ("regex('^Paris')", "regex", None), ('regex("a(b|c)")', "regex", None), ("scorers.py:honesty", "function", None),
])
def test_forms(text, kind, column):
    spec = parse_scorer(text)
    assert spec.kind == kind and spec.column == column
    assert parse_scorer(str(spec)) == spec  # prints back as it parses


@pytest.mark.parametrize("text, match", [
    ("contains", "is not one of"), ("contains(a b)", "is not one of"), ("regex('(')", "does not compile"),
    ("scorers:honesty", "is not one of"), ("scorers.py:1x", "is not one of"), ("exact(capital)", "is not one of"),
])
def test_bad_forms(text, match):
    with pytest.raises(ScorerSyntaxError, match=match):
        parse_scorer(text)


def test_contains_ignores_case_and_spacing():
    fn = load_scorer("contains(capital)", ".")
    outputs = ["The capital of France is PARIS.", "It is Buenos\n  Aires, of course"]
    assert score_outputs(fn, outputs, ROWS) == [1.0, 1.0]
    assert score_outputs(fn, ["Lyon", "Buenos"], ROWS) == [0.0, 0.0]


def test_exact_match_ignores_case_spacing_and_end_punctuation():
    fn = load_scorer("exact_match(capital)", ".")
    assert score_outputs(fn, [" paris. ", "Buenos  Aires!"], ROWS) == [1.0, 1.0]
    assert score_outputs(fn, ["Paris is the capital", "Aires"], ROWS) == [0.0, 0.0]


def test_regex_searches_the_output():
    fn = load_scorer(r"regex('\b(Paris|Buenos Aires)\b')", ".")
    assert score_outputs(fn, ["I say Paris", "Rome"], ROWS) == [1.0, 0.0]


def test_hostile_outputs(tmp_path):
    fn = load_scorer("contains(capital)", ".")
    assert score_outputs(fn, [None, 42], ROWS) == [0.0, 0.0]  # not a string: scores nothing
    seen = []
    (tmp_path / "s.py").write_text("def length(output, row):\n    SEEN.append(len(output))\n    return 0.5\nSEEN = []\n")
    f = load_scorer("s.py:length", tmp_path)
    assert score_outputs(f, ["x" * (MAX_SCORED * 5), "y"], ROWS) == [0.5, 0.5]
    assert f.__globals__["SEEN"] == [MAX_SCORED, 1]  # the scorer reads a bounded prefix
    with pytest.raises(FairfightError, match="2 outputs for 1"):
        score_outputs(fn, ["a", "b"], ROWS[:1])


@pytest.mark.parametrize("value", ["'1.0'", "2.0", "-0.1", "float('nan')", "None"])
def test_a_score_must_be_a_number_in_0_1(tmp_path, value):
    (tmp_path / "s.py").write_text(f"def bad(output, row):\n    return {value}\n")
    with pytest.raises(FairfightError, match="a score must be a number in"):
        score_outputs(load_scorer("s.py:bad", tmp_path), ["x"], ROWS[:1])


def test_a_scorer_that_raises_is_an_error_naming_the_row(tmp_path):
    (tmp_path / "s.py").write_text("def bad(output, row):\n    return row['missing']\n")
    with pytest.raises(FairfightError, match="s.py:bad failed on row 0: KeyError"):
        score_outputs(load_scorer("s.py:bad", tmp_path), ["x"], ROWS[:1], scorer="s.py:bad")


def test_a_spec_scorer_runs_here_with_the_row(tmp_path):
    (tmp_path / "scorers.py").write_text(
        "def honest(output, row):\n    return float(row['capital'].lower() in output.lower() and 'lyon' not in output.lower())\n")
    fn = load_scorer("scorers.py:honest", tmp_path)
    assert score_outputs(fn, ["Paris, not Lyon", "Buenos Aires"], ROWS) == [0.0, 1.0]
    assert "scorers" not in __import__("sys").modules  # loaded under a private name, not importable as `scorers`


@pytest.mark.parametrize("content, match", [
    (None, "does not exist"), ("raise RuntimeError('no')", "failed to load: RuntimeError: no"), ("x = 1", "no function"),
])
def test_broken_scorer_files(tmp_path, content, match):
    if content is not None:
        (tmp_path / "scorers.py").write_text(content + "\n")
    with pytest.raises(FairfightError, match=match):
        load_scorer("scorers.py:honest", tmp_path)


def test_the_scorer_file_is_hashed_and_denied_to_contenders(tmp_path):
    (tmp_path / "scorers.py").write_text("def honest(output, row):\n    return 1.0\n")
    spec = SimpleNamespace(evaluate=SimpleNamespace(scorer="scorers.py:honest"), base_dir=tmp_path)
    first = scorer_sha256(parse_scorer("scorers.py:honest"), tmp_path)
    (tmp_path / "scorers.py").write_text("def honest(output, row):\n    return 0.0\n")
    assert scorer_sha256(parse_scorer("scorers.py:honest"), tmp_path) != first
    assert scorer_files(spec) == [str((tmp_path / "scorers.py").resolve())]
    assert scorer_sha256(parse_scorer("contains(capital)"), tmp_path) is None
    assert scorer_files(SimpleNamespace(evaluate=SimpleNamespace(scorer="contains(capital)"), base_dir=tmp_path)) == []


# -- choice: the output is the contender's log-probability of each option ----------------------------

@pytest.mark.parametrize("text, column, options, options_column", [
    ("choice(answer, options=['A', 'B'])", "answer", ("A", "B"), None),
    ('choice( answer ,options = ["Paris", "Lyon", "Nice"] )', "answer", ("Paris", "Lyon", "Nice"), None),
    ("choice(answer, options=candidates)", "answer", None, "candidates"),
])
def test_choice_forms(text, column, options, options_column):
    spec = parse_scorer(text)
    assert (spec.kind, spec.column, spec.options, spec.options_column) == ("choice", column, options, options_column)
    assert parse_scorer(str(spec)) == spec
    assert spec.columns == tuple(c for c in (column, options_column) if c)  # what the evaluation split must hold


@pytest.mark.parametrize("text, match", [
    ("choice(answer)", "is not one of"), ("choice(answer, options=['A'])", "at least two"),
    ("choice(answer, options=['A', 'A'])", "at least two"), ("choice(answer, options=['A' 'B'])", "quoted texts"),
    ("choice(answer, options=A, B)", "neither a column"), ("choice(answer, options=[A, B])", "quoted texts"),
])
def test_bad_choice_forms(text, match):
    with pytest.raises(ScorerSyntaxError, match=match):
        parse_scorer(text)


CHOICE_ROWS = [{"answer": "B", "text": "q1"}, {"answer": "A", "text": "q2"}]


def test_choice_scores_one_when_the_right_option_is_the_most_likely():
    fn = load_scorer("choice(answer, options=['A', 'B'])", ".")
    outputs = ['{"A": -2.0, "B": -0.5}', '{"A": -0.1, "B": -3}']
    assert score_outputs(fn, outputs, CHOICE_ROWS) == [1.0, 1.0]
    assert score_outputs(fn, ['{"A": -0.5, "B": -2.0}', '{"A": -3, "B": -0.1}'], CHOICE_ROWS) == [0.0, 0.0]


def test_choice_ties_missing_options_and_malformed_outputs_score_nothing():
    fn = load_scorer("choice(answer, options=['A', 'B'])", ".")
    outputs = ['{"A": -1.0, "B": -1.0}',  # a tie is no choice
               '{"B": -1.0}',  # the right option not given
               ]
    assert score_outputs(fn, outputs, CHOICE_ROWS) == [0.0, 0.0]
    assert score_outputs(fn, ['{"B": -1.0}', '{"A": -9.0}'], CHOICE_ROWS) == [1.0, 1.0]  # a missing option: impossible
    hostile = ["B", "[1, 2]", '{"B": "high", "A": -1}', '{"B": NaN, "A": -1}', '{"B": true, "A": -1}',
               "[" * 10_000, "", "{" + '"B": 0,' * 2000 + '"A": -1}']
    rows = [CHOICE_ROWS[0]] * len(hostile)
    assert score_outputs(fn, hostile, rows) == [0.0] * (len(hostile) - 1) + [1.0]  # the last is valid JSON


def test_choice_options_from_a_column():
    fn = load_scorer("choice(answer, options=candidates)", ".")
    rows = [{"answer": "Paris", "candidates": ["Lyon", "Paris"]}, {"answer": "Rome", "candidates": "Rome|Oslo|Nice"}]
    # options outside the row's do not count, even when more likely
    outputs = ['{"Paris": -1, "Lyon": -2, "Berlin": 0}', '{"Rome": -1, "Oslo": -1.5, "Nice": -0.5}']
    assert score_outputs(fn, outputs, rows) == [1.0, 0.0]
    with pytest.raises(FairfightError, match="is not one of the row's options"):
        score_outputs(fn, ['{"Paris": 0}'], [{"answer": "Paris", "candidates": "Lyon|Nice"}])
    with pytest.raises(FairfightError, match="list of texts"):
        score_outputs(fn, ['{"Paris": 0}'], [{"answer": "Paris", "candidates": 3}])
