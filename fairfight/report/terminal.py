"""The terminal summary printed at the end of `fairfight eval` (rich, on stdout)."""
from __future__ import annotations

COLOURS = {"supported": "green", "not-supported": "red", "inconclusive": "yellow", "invalid": "bold red",
           "not-judged": "dim"}


def print_summary(results: dict, console=None) -> None:
    """The primary metric per contender, then each claim's verdict with its reason, then the notes."""
    from rich.console import Console

    console = console or Console(highlight=False, emoji=False)  # ":x:" in a path:function is not an emoji
    summary_table(results, console)
    for line in problem_lines(results):
        console.print(line, markup=False, style="red", soft_wrap=True)
    if results.get("verdicts"):
        console.print(_verdicts(results["verdicts"]))
    for note in results.get("notes", []):
        console.print(f"note: {note}", markup=False)


def _verdicts(verdicts: list):
    """A two-column grid: the verdict, then the claim with its reason and caveats, which wrap
    under their own indent (column 15), never back at the left edge."""
    from rich.table import Table
    from rich.text import Text

    from .model import unmatched_caveats

    grid = Table.grid(padding=(0, 2))
    grid.add_column(width=13, justify="right", no_wrap=True)
    grid.add_column()
    for v in verdicts:
        body = Text(v["claim"])
        body.append("\n" + v["reason"], style="dim")
        for line in unmatched_caveats(v):
            body.append("\n" + line, style="yellow" if line.startswith(("unmatched affordances", "human judgement")) else "dim")
        grid.add_row(Text(v["verdict"], style=COLOURS.get(v["verdict"], "default")), body)
    return grid


def summary_table(results: dict, console=None) -> None:
    from rich.console import Console
    from rich import box
    from rich.table import Table

    primary = results["evaluate"]["primary"]
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title=f"{results['task']['name']}: {primary} (mean ± sd over seeds)")
    # a label and a value are never cut or wrapped: role, runs and status give way
    table.add_column("contender", no_wrap=True)
    table.add_column("role", min_width=8)
    table.add_column("mean ± sd", no_wrap=True)  # the metric is named in the title
    table.add_column("runs")
    table.add_column("status", min_width=9)
    for row in results["summary"]:
        value = "-" if row["mean"] is None else f"{row['mean']:.3f} ± {row['std']:.3f}"
        table.add_row(row["label"], row["role"], value, str(row["runs"]), row["status"])
    for refusal in results["refusals"]:
        table.add_row(refusal["label"], refusal["role"], "-", "0", "refused (plan)")
    (console or Console(highlight=False, emoji=False)).print(table)


def problem_lines(results: dict) -> list:
    """One line per refused or failed contender (runs and tuning trials) and per plan-time
    refusal, each with its reason: the terminal says why, not only that."""
    from ..evaluator.contender_side.batching import flag as batch_flag
    from ..evaluator.orchestration.tuning import run_reason

    # a plan-time reason already starts with the label ("shift its uses exceed the rules: ...")
    out = [f"refused at plan time: {r['reason']}" if r["reason"].startswith(r["label"] + " ")
           else f"refused at plan time: {r['label']}: {r['reason']}" for r in results.get("refusals", [])]
    by_label = {}
    for run in results.get("runs", []):
        by_label.setdefault(run["label"], []).append(run)
    for label, runs in by_label.items():
        for status in ("refused", "failed"):
            bad = [r for r in runs if r["status"] == status]
            reasons = list(dict.fromkeys(run_reason(r) for r in bad))
            if bad:
                out.append(f"{status}: {label} ({len(bad)} of {len(runs)} runs): {'; '.join(reasons)}")
        kept = [r for r in runs if r["status"] == "succeeded" and batch_flag(r)]
        if kept:
            out.append(f"kept: {label} ({len(kept)} of {len(runs)} runs): {batch_flag(kept[0])}")
    for label, entry in ((results.get("tuning") or {}).get("contenders") or {}).items():
        for trial in entry.get("trials", []):
            if trial["status"] != "succeeded":
                out.append(f"{trial['status']}: {label} tuning trial {trial['trial']}: "
                           f"{trial.get('reason', 'no reason recorded')}")
    return out
