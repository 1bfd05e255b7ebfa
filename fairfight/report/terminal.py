"""The terminal summary printed at the end of `fairfight eval` (rich, on stdout)."""
from __future__ import annotations

COLOURS = {"supported": "green", "not-supported": "red", "inconclusive": "yellow", "invalid": "bold red",
           "not-judged": "dim"}


def print_summary(results: dict, console=None) -> None:
    """The primary metric per contender, then each claim's verdict with its reason, then the notes."""
    from rich.console import Console

    from .model import unmatched_caveats

    console = console or Console(highlight=False)
    summary_table(results, console)
    for v in results.get("verdicts", []):
        console.print(f"[{COLOURS.get(v['verdict'], 'default')}]{v['verdict']:>13}[/]  {v['claim']}")
        console.print(f"               {v['reason']}", style="dim", markup=False)
        for line in unmatched_caveats(v):
            console.print(f"               {line}", style="yellow" if line.startswith("unmatched affordances") else "dim",
                          markup=False)
    for note in results.get("notes", []):
        console.print(f"note: {note}", markup=False)


def summary_table(results: dict, console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    primary = results["evaluate"]["primary"]
    table = Table(title=f"{results['task']['name']}: {primary} (mean ± sd over seeds)")
    for col in ("contender", "role", primary, "runs", "status"):
        table.add_column(col)
    for row in results["summary"]:
        value = "-" if row["mean"] is None else f"{row['mean']:.3f} ± {row['std']:.3f}"
        table.add_row(row["label"], row["role"], value, str(row["runs"]), row["status"])
    for refusal in results["refusals"]:
        table.add_row(refusal["label"], refusal["role"], "-", "0", "refused (plan)")
    (console or Console(highlight=False)).print(table)
