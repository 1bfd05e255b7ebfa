"""`fairfight audit BUNDLE`: the reviewer's check of a results bundle (exit 0 clean, 1 findings)."""
from __future__ import annotations

import json
import sys

EXIT_CLEAN, EXIT_FINDINGS, EXIT_BAD_INPUT = 0, 1, 2


def run_audit_command(bundle, *, rerun=0, spec=None, fmt="text") -> int:
    from pathlib import Path

    from ..audit import run_audit
    from ..errors import FairfightError

    try:
        if Path(bundle).is_file():  # an archive of `fairfight pack`
            from ..audit import run_archive_audit

            audit = run_archive_audit(bundle, rerun=rerun, spec_path=spec)
        else:
            from ..audit.family import is_family_bundle, run_family_audit

            audit = (run_family_audit if is_family_bundle(bundle) else run_audit)(bundle, rerun=rerun, spec_path=spec)
    except FairfightError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if fmt == "json":
        print(json.dumps(audit.to_dict(), indent=2))
    else:
        _print(audit)
    return EXIT_CLEAN if audit.clean else EXIT_FINDINGS


def _print_contender(out, c: dict) -> None:
    """One block per contender, not a table: at 80 columns a six-column table broke names such as
    knowledge.spurious_concept mid-word. Here lines wrap between names, under their label."""
    from rich.padding import Padding
    from rich.text import Text

    def names(part: dict) -> list:
        return part["model"] + part["data"] + [f"knowledge.{k}" for k in part.get("knowledge", [])]

    granted = ", ".join(names(c["granted"])) or "-"
    if not c["declared"]:
        granted += " (full rules: nothing declared)"
    out.print(Text(f"  {c['label']} ({c['role']}): {'/'.join(c['statuses'])}", style="bold"))
    for label, value in (("granted", granted), ("used", ", ".join(names(c["used"])) or "-"),
                         ("refused", "; ".join(c["refused"]) or "-")):
        line = Text(f"{label + ':':<9}{value}")
        if out.soft_wrap:  # not a terminal: one line each, for grep and diff
            out.print(Text("    ") + line)
        else:
            out.print(Padding(line, (0, 0, 0, 4)))


def _print(audit) -> None:
    from rich.console import Console

    from ..report.model import unmatched_caveats

    # In a terminal lines wrap at its width; piped to a file, a line is a line (rich wrapped at 80 columns,
    # continuation lines at column 0, which broke grep and diff of two audits)
    out = Console(highlight=False, soft_wrap=not sys.stdout.isatty())
    out.print(f"[bold]audit of {audit.bundle}[/]")
    if audit.archive_sha256:
        out.print(f"archive sha256: {audit.archive_sha256} (compare it with the one the paper gives)", markup=False)
    for item in audit.left_out:
        out.print(f"not in the archive ({item.get('why')}): {item.get('what')} {item.get('path')}, sha256 "
                  f"{item.get('sha256')}", markup=False)
    out.print(f"isolation: {audit.isolation}", markup=False)
    out.print("[bold]declared vs used, per contender[/]")
    for c in audit.contenders:
        _print_contender(out, c)
    for v in audit.verdicts:
        out.print(f"recomputed: {v['verdict']:>13}  {v['claim']}", markup=False)
        for line in unmatched_caveats(v):
            out.print(f"             {line}", markup=False)
    for r in audit.reruns:
        out.print(f"rerun: {r['label']} seed {r['seed']}: {r['result']}", markup=False)
    if audit.clean:
        out.print("[green]clean: the bundle is intact, every metric and verdict recomputes, every contender ran "
                  "to the end within its grant (none refused or failed), and every claim was judged[/]")
        return
    out.print(f"[bold red]{len(audit.findings)} finding(s):[/]")
    for f in audit.findings:
        out.print(f"  [{f.kind}] {f.message}", markup=False)
