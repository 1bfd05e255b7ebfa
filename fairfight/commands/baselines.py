"""`fairfight baselines`: the built-in contenders, what they do and what they use."""
from __future__ import annotations

import textwrap

from ..baselines.reference import param_text, uses_text


def run_baselines(spec_path=None) -> int:
    from ..baselines import BASELINES, CONTROLS, SKYLINES, CannotRun

    spec = None
    if spec_path:
        from ..spec.check import check_file
        from .validate import print_diagnostics

        report = check_file(spec_path, refusals_ok=True)
        if not report.ok:
            print_diagnostics([report], strict=False)
            return 2
        spec = report.spec
    for title, table in (("baselines", BASELINES), ("skylines", SKYLINES), ("controls (rerun every method)", CONTROLS)):
        print(f"{title}:")
        for name, entry in table.items():
            print(f"  {name}")
            for line in textwrap.wrap(entry.summary, 88):
                print(f"      {line}")
            for line in textwrap.wrap(f"uses: {uses_text(name)}", 88, subsequent_indent="  "):
                print(f"      {line}")
            print("      params:" if entry.parameters else "      params: none")
            for param in entry.parameters:
                for line in textwrap.wrap(param_text(param), 86, subsequent_indent="    "):
                    print(f"        {line}")
            if spec is not None and entry.kind != "control":
                print(f"      under {spec_path}: {_under(spec, name, CannotRun)}")
        print()
    return 0


def _under(spec, name, cannot_run) -> str:
    from ..baselines import uses_for
    from ..spec.ir import Contender, FrozenMap

    split = next((s.split for s in spec.skylines if s.name == name), None)
    listed = next((c for c in (*spec.baselines, *spec.skylines) if c.name == name), None)
    contender = listed or Contender(name, "baseline", None, None, FrozenMap(), FrozenMap(), split)
    try:
        uses, params = uses_for(spec, contender)
    except cannot_run as exc:
        return f"cannot run: {exc}"
    data = "; ".join(f"{s}[{', '.join(sorted(c))}]" for s, c in sorted(uses.data.items())) or "-"
    knowledge = f"; knowledge {', '.join(sorted(uses.knowledge))}" if uses.knowledge else ""
    import json

    shown = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in sorted(params.items()))
    return f"granted model {', '.join(sorted(uses.model)) or '-'}; data {data}{knowledge}; params {shown or '-'}"
