"""The terminal summary after eval says why each contender was refused or failed."""
import io

from rich.console import Console

from fairfight.report import print_summary

from report_fixtures import FIXTURES, load


def test_the_summary_prints_each_refusal_and_failure_with_its_reason():
    results = load(FIXTURES / "results.json")
    buffer = io.StringIO()
    print_summary(results, Console(file=buffer, width=100, highlight=False))
    text = buffer.getvalue()
    for refusal in results["refusals"]:
        assert f"refused at plan time: {refusal['label']}: {refusal['reason']}" in text
    refused = {r["label"]: r for r in results["runs"] if r["status"] == "refused"}
    assert refused
    for label, run in refused.items():
        assert f"refused: {label} (" in text and run["reasons"][0] in text, label
