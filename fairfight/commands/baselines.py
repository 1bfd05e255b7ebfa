"""`fairfight baselines`: the built-in contenders, what they do and what they use."""
from __future__ import annotations

import textwrap

from ..spec.vocabulary import BASELINES as NEEDS
from ..spec.vocabulary import SKYLINES as SKYLINE_NEEDS


def _needs(item) -> str:
    ops = " or ".join(" + ".join(alt) for alt in item.model_any if alt) or "no model access"
    parts = [f"model: {ops}"]
    parts.append("data: text + target of a granted split" if item.labeled else "data: none (no training labels)")
    if item.knowledge:
        parts.append("knowledge: " + ", ".join(item.knowledge))
    if item.attribute:
        parts.append("+ a group attribute's labels")
    if item.skyline:
        parts.append("(may exceed the rules: a skyline)")
    return "; ".join(parts)


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
    for title, table, needs in (("baselines", BASELINES, NEEDS), ("skylines", SKYLINES, SKYLINE_NEEDS),
                                ("controls (rerun every method)", CONTROLS, {})):
        print(f"{title}:")
        for name, entry in table.items():
            print(f"  {name}")
            for line in textwrap.wrap(entry.summary, 88):
                print(f"      {line}")
            if name in needs:
                print(f"      uses: {_needs(needs[name])}")
            if entry.search:
                print(f"      search: {', '.join(f'{k} in {v}' for k, v in entry.search.items())}")
            if spec is not None and entry.kind != "control":
                print(f"      under {spec_path}: {_under(spec, name, CannotRun)}")
        print()
    return 0


def _under(spec, name, cannot_run) -> str:
    from ..baselines import uses_for
    from ..spec.ir import Contender, FrozenMap

    split = next((s.split for s in spec.skylines if s.name == name), None)
    try:
        uses, params = uses_for(spec, Contender(name, "baseline", None, None, FrozenMap(), FrozenMap(), split))
    except cannot_run as exc:
        return f"cannot run: {exc}"
    data = "; ".join(f"{s}[{', '.join(sorted(c))}]" for s, c in sorted(uses.data.items())) or "-"
    knowledge = f"; knowledge {', '.join(sorted(uses.knowledge))}" if uses.knowledge else ""
    return f"granted model {', '.join(sorted(uses.model)) or '-'}; data {data}{knowledge}"
