"""The spec corpus: every tests/specs/valid/*.yaml validates; every tests/specs/invalid/*.yaml
gives exactly the diagnostics in the .expected file beside it (line:col: path: message)."""
from pathlib import Path

import pytest

from fairfight.spec.check import check_file

SPECS = Path(__file__).resolve().parents[1] / "specs"
VALID = sorted((SPECS / "valid").glob("*.yaml"))
INVALID = sorted((SPECS / "invalid").glob("*.yaml"))


def _lines(report):
    # The file name is the same on every line; the rest is what the user reads.
    return [d.headline().split(":", 1)[1] for d in report.diagnostics]


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid(path):
    report = check_file(path)
    assert report.ok, "\n".join(d.render() for d in report.diagnostics)
    assert report.spec is not None or report.family  # a family: a spec per member


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid(path):
    expected_file = path.with_suffix(".expected")
    assert expected_file.exists(), f"write {expected_file.name} with the expected diagnostics"
    expected = [line for line in expected_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    report = check_file(path)
    assert not report.ok
    assert _lines(report) == expected
    for d in report.diagnostics:  # every diagnostic points at a real place, with a caret
        assert d.pos.line >= 1 and d.pos.col >= 1
        assert "^" in d.snippet or d.pos.line > 1_000_000


def test_corpus_is_large_enough():
    assert len(INVALID) >= 40
    assert len(VALID) >= 3
