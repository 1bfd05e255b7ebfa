"""`fairfight audit BUNDLE`: the reviewer's check of a results bundle (exit 0 clean, 1 findings)."""
from __future__ import annotations

import json
import sys

EXIT_CLEAN, EXIT_FINDINGS, EXIT_BAD_INPUT = 0, 1, 2


def run_audit_command(bundle, *, rerun=0, spec=None, fmt="text") -> int:
    from ..audit import run_audit
    from ..errors import FairfightError

    try:
        audit = run_audit(bundle, rerun=rerun, spec_path=spec)
    except FairfightError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if fmt == "json":
        print(json.dumps(audit.to_dict(), indent=2))
    else:
        _print(audit)
    return EXIT_CLEAN if audit.clean else EXIT_FINDINGS


def _print(audit) -> None:
    from rich.console import Console
    from rich.table import Table

    from ..report.model import unmatched_caveats

    out = Console(highlight=False)
    out.print(f"[bold]audit of {audit.bundle}[/]")
    table = Table(title="declared vs used, per contender")
    for col in ("contender", "role", "granted", "used", "refused", "status"):
        table.add_column(col, overflow="fold")
    for c in audit.contenders:
        granted = ", ".join(c["granted"]["model"] + c["granted"]["data"] + c["granted"]["knowledge"]) or "-"
        if not c["declared"]:
            granted += " (full rules: nothing declared)"
        used = ", ".join(c["used"]["model"] + c["used"]["data"]) or "-"
        table.add_row(c["label"], c["role"], granted, used, "; ".join(c["refused"]) or "-", "/".join(c["statuses"]))
    out.print(table)
    for v in audit.verdicts:
        out.print(f"recomputed: {v['verdict']:>13}  {v['claim']}", markup=False)
        for line in unmatched_caveats(v):
            out.print(f"             {line}", markup=False)
    for r in audit.reruns:
        out.print(f"rerun: {r['label']} seed {r['seed']}: {r['result']}", markup=False)
    if audit.clean:
        out.print("[green]clean: the bundle is intact, every metric and verdict recomputes, required contenders "
                  "ran, and every contender stayed within its grant[/]")
        return
    out.print(f"[bold red]{len(audit.findings)} finding(s):[/]")
    for f in audit.findings:
        out.print(f"  [{f.kind}] {f.message}", markup=False)
