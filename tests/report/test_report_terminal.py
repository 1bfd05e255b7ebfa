"""The terminal summary after eval: why each contender was refused or failed; labels and values
never cut at 80 columns; long claim reasons wrap under their indent."""
import io

from rich.console import Console

from fairfight.report import print_summary
from fairfight.report.model import unmatched_caveats

from report_fixtures import FIXTURES, load


def test_the_summary_prints_each_refusal_and_failure_with_its_reason():
    results = load(FIXTURES / "results.json")
    buffer = io.StringIO()
    print_summary(results, Console(file=buffer, width=100, highlight=False))
    text = buffer.getvalue()
    for refusal in results["refusals"]:
        assert refusal["reason"].startswith(refusal["label"])  # so the label is not printed twice
        assert f"refused at plan time: {refusal['reason']}" in text
    refused = {r["label"]: r for r in results["runs"] if r["status"] == "refused"}
    assert refused
    for label, run in refused.items():
        assert f"refused: {label} (" in text and run["reasons"][0] in text, label


def test_at_80_columns_no_label_or_value_is_cut():
    results = load(FIXTURES / "results.json")
    buffer = io.StringIO()
    print_summary(results, Console(file=buffer, width=80, highlight=False))
    table = buffer.getvalue().split("refused at plan time")[0]
    assert "…" not in table
    for row in results["summary"]:
        assert row["label"] in table and row["status"] in table


def test_wrapped_reasons_stay_under_their_indent():
    results = load(FIXTURES / "results.json")
    console = Console(width=70, record=True, highlight=False)
    print_summary(results, console)
    lines = console.export_text().splitlines()
    reason = results["verdicts"][0]["reason"]
    start = next(i for i, line in enumerate(lines) if line.strip() and reason.startswith(line.strip()))
    block = []
    for line in lines[start:]:
        if not line.strip() or not line.startswith(" " * 15):
            break
        block.append(line)
    assert len(block) > 1, "the fixture's reason should wrap at 70 columns"
    # the verdict's caveats (unmatched affordances, ...) follow its reason under the same indent
    expected = " ".join([reason, *unmatched_caveats(results["verdicts"][0])])
    assert " ".join(line.strip() for line in block) == " ".join(expected.split())


def test_a_reason_holding_a_path_and_function_is_printed_as_written(capsys):
    # 'methods.py:X: no function' holds ':X:', which rich would turn into an emoji
    results = load(FIXTURES / "results.json")
    failed = next(r for r in results["runs"] if r["status"] in ("refused", "failed"))
    failed["reasons"] = ["/specs/methods.py:X: no function 'X'"]
    print_summary(results)
    assert "methods.py:X: no function 'X'" in capsys.readouterr().out
