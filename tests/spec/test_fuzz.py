"""Property tests: no mutation of a valid spec makes fairfight raise anything but
FairfightError, and the CLI never shows a traceback for bad input."""
import json
import os
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fairfight.cli import main
from fairfight.errors import FairfightError
from fairfight.spec.check import check_text, load_spec

ROOT = Path(__file__).resolve().parents[2]
VALID = ROOT / "tests" / "specs" / "valid"
BASES = [(ROOT / "examples/quickstart/spec.yaml").read_text(), (VALID / "full.yaml").read_text(),
         (VALID / "corpus-base.yaml").read_text()]
EXAMPLES = int(os.environ.get("FAIRFIGHT_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10**6) | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6)


@pytest.fixture(autouse=True)
def strict_semantics(monkeypatch):
    # Semantic checks must be defensive on their own, not only behind the safety net.
    monkeypatch.setattr("fairfight.spec.semantics.TOLERATE_BROKEN_STRUCTURE", False)


def _check(text):
    try:
        report = check_text(text, name="fuzz.yaml", base_dir=VALID)
    except FairfightError:  # allowed, though check_text reports rather than raises
        return None
    assert report.ok or report.errors
    for d in report.diagnostics:
        assert d.pos.line >= 1 and d.pos.col >= 1 and d.message
    return report


@st.composite
def text_mutations(draw):
    text = draw(st.sampled_from(BASES))
    lines = text.splitlines(keepends=True)
    kind = draw(st.sampled_from(["truncate", "garbage", "delete", "duplicate", "replace_char", "swap"]))
    if kind == "truncate":
        return text[: draw(st.integers(0, len(text)))]
    if kind == "garbage":
        at = draw(st.integers(0, len(text)))
        junk = draw(st.binary(min_size=1, max_size=8)).decode("latin-1")
        return text[:at] + junk + text[at:]
    i = draw(st.integers(0, len(lines) - 1))
    if kind == "delete":
        return "".join(lines[:i] + lines[i + 1:])
    if kind == "duplicate":
        return "".join(lines[: i + 1] + lines[i:])
    if kind == "swap":
        j = draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
        return "".join(lines)
    at = draw(st.integers(0, len(text) - 1))
    return text[:at] + draw(st.sampled_from(list(":-[]{}#&*!|>'\"%@` \t\n,?0aZ"))) + text[at + 1:]


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


@st.composite
def data_mutations(draw):
    data = yaml.safe_load(draw(st.sampled_from(BASES)))
    path = draw(st.sampled_from([p for p in _paths(data) if p]))
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    kind = draw(st.sampled_from(["delete", "retype", "rename", "duplicate_into_list"]))
    if kind == "delete":
        del parent[last]
    elif kind == "retype":
        parent[last] = draw(json_values)
    elif kind == "rename" and isinstance(parent, dict):
        parent[draw(st.text(min_size=1, max_size=10))] = parent.pop(last)
    elif isinstance(parent, list):
        parent.append(parent[last])
    return yaml.safe_dump(json.loads(json.dumps(data, default=str)), sort_keys=False, allow_unicode=True)


@FUZZ
@given(text_mutations())
def test_text_mutations_only_raise_fairfight_errors(text):
    _check(text)


@FUZZ
@given(data_mutations())
def test_data_mutations_only_raise_fairfight_errors(text):
    _check(text)


@settings(max_examples=max(10, EXAMPLES // 10), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.one_of(text_mutations(), data_mutations()))
def test_cli_never_prints_a_traceback(tmp_path_factory, capsys, text):
    spec = tmp_path_factory.mktemp("fuzz") / "spec.yaml"
    spec.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    for args in (["validate", str(spec)], ["validate", "--format", "json", str(spec)]):
        with pytest.raises(SystemExit) as e:
            main(args)
        out = capsys.readouterr()
        assert "Traceback" not in out.out + out.err
        assert e.value.code in (0, 2)


def test_load_spec_raises_spec_error_with_every_diagnostic(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASES[2].replace("seeds: 3", "seeds: 0").replace("controls:", "contrls:"))
    with pytest.raises(FairfightError) as e:
        load_spec(bad)
    assert len(e.value.diagnostics) >= 2
