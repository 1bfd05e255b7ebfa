"""`fairfight validate`: check specs, report every diagnostic, return the exit code."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

EXIT_OK, EXIT_INVALID = 0, 2


@dataclass
class ValidateOptions:
    specs: list
    overrides: list = field(default_factory=list)
    fmt: str = "text"
    strict: bool = False
    data: bool | str = "local"  # True: load the data and check the spec against it; "local": the columns of
    #                             local files, from their headers (cheap); False: the spec alone (--no-data)


def run_validate(opts: ValidateOptions) -> int:
    from ..spec.check import check_file

    reports = [check_file(path, opts.overrides, data=opts.data) for path in opts.specs]
    failed = [r for r in reports if not r.ok or (opts.strict and r.warnings)]
    if opts.fmt == "json":
        print(json.dumps({"valid": not failed, "files": [r.to_dict() for r in reports]}, indent=2))
    else:
        print_diagnostics(reports, opts.strict)
    return EXIT_INVALID if failed else EXIT_OK


def print_diagnostics(reports, strict, stream=None):
    emit = _emitter(stream)
    for report in reports:
        for d in report.diagnostics:
            colour = "red" if d.severity == "error" or strict else "yellow"
            emit(d.headline(), f"bold {colour}")
            if d.snippet:
                emit(d.snippet, None)
        n_err, n_warn = len(report.errors), len(report.warnings)
        if report.ok and not (strict and n_warn):
            extra = f" ({n_warn} warning{'s' * (n_warn != 1)})" if n_warn else ""
            if report.family is not None:
                n = len(report.family)
                extra = f": a family of {n} member{'s' * (n != 1)} ({', '.join(m.name for m, _ in report.family)})" + extra
            emit(f"ok: {report.file} is valid{extra}", "green")
        else:
            count = n_err + (n_warn if strict else 0)
            emit(f"invalid: {report.file}: {count} problem{'s' * (count != 1)}", "bold red")


def _emitter(stream):
    """Colours for a terminal (rich); plain lines elsewhere, the same text without importing rich
    (most of `validate`'s time in a script or CI is imports)."""
    import os
    import sys

    target = stream or sys.stdout
    if not (getattr(target, "isatty", lambda: False)() or os.environ.get("FORCE_COLOR")):
        return lambda text, style: print(text, file=target)
    from rich.console import Console
    from rich.text import Text

    out = Console(highlight=False, soft_wrap=True, file=stream)
    return lambda text, style: out.print(Text(text, style=style or ""))
