"""The terminal summary: a long claim reason wraps under its indent, not at the left edge."""
import json
from pathlib import Path

from rich.console import Console

from fairfight.report.terminal import print_summary

FIXTURE = Path(__file__).parent / "fixtures" / "results.json"


def test_wrapped_reasons_stay_under_their_indent():
    results = json.loads(FIXTURE.read_text())
    console = Console(width=70, record=True, force_terminal=False, highlight=False)
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
    assert " ".join(line.strip() for line in block) == " ".join(reason.split())
