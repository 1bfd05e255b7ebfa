"""The family report: FAMILY/report.md and FAMILY/report.html, from family.json alone.

A heatmap of each ranged claim's difference per member (cell colour: the difference; cell text:
the difference, its interval and the member's decision after Holm), per-axis curves of every
contender's primary metric with intervals, and links to each member's own report.
"""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from . import charts
from . import model as m

FAMILY_JSON = "family.json"


def load_family(root) -> dict:
    return json.loads((Path(root) / FAMILY_JSON).read_text(encoding="utf-8"))


def is_family(root) -> bool:
    return (Path(root) / FAMILY_JSON).is_file()


def decision(test: dict, quantifier: str, alpha: float) -> str:
    """A member's part in a ranged claim's verdict, after Holm (judgement/family.py)."""
    if not test.get("in_range"):
        return "out of range"
    if test.get("p_support") is None:
        return "invalid"
    if quantifier == "some":
        return "passes" if test.get("p_holm", 1) < alpha else ("fails" if test["p_fail"] < alpha else "open")
    return "fails" if test.get("p_holm", 1) < alpha else ("passes" if test["p_support"] < alpha else "open")


def heatmap(family: dict) -> list[dict]:
    """Rows (one per ranged claim) of cells (one per member): difference, interval, decision, colour."""
    rows = []
    for v in family.get("verdicts", []):
        cells = []
        for t in v["members"]:
            d = t.get("difference")
            cells.append({"member": t["member"], "difference": _num(d), "interval": _interval(t),
                          "decision": decision(t, v["quantifier"], v["alpha"]),
                          "p": _p(t.get("p_holm")), "colour": _colour(d, t.get("in_range"))})
        holds = v["quantifier"] == "some"
        rows.append({"claim": v["claim"], "verdict": v["verdict"], "reason": v["reason"], "cells": cells,
                     "p_label": "Holm p that it holds" if holds else "Holm p that it fails"})
    return rows


def _num(x) -> str:
    return "-" if not m.is_number(x) else f"{x:+.3f}"


def _p(x) -> str:
    return "-" if not m.is_number(x) else f"{x:.3g}"


def _interval(t) -> str:
    return "" if not m.is_number(t.get("low")) else f"[{t['low']:+.3f}, {t['high']:+.3f}]"


def _colour(d, in_range) -> str:
    """Blue for the subject ahead, red for behind, white at zero; grey out of range."""
    if not in_range or not m.is_number(d):
        return "#eeeeee"
    x = max(-1.0, min(1.0, d / 0.3))
    r, g, b = (255 - int(150 * x), 255 - int(90 * x), 255) if x >= 0 else (255, 255 + int(150 * x), 255 + int(150 * x))
    return f"#{r:02x}{g:02x}{b:02x}"


def axis_curves(family: dict) -> list[tuple[str, str]]:
    """(axis name, SVG) per axis: each contender's primary metric per member along the axis, with intervals."""
    members = family["members"]
    if not members:
        return []
    primary = members[0]["primary"]
    out = []
    for axis in family["axes"]:
        others = [a["name"] for a in family["axes"] if a["name"] != axis["name"]]
        panels: dict = {}
        for member in members:
            rest = ", ".join(f"{o}={member['labels'][o]}" for o in others)
            panels.setdefault(rest, []).append(member)
        for rest, group in panels.items():
            svg = _curve(axis, group, primary, rest)
            if svg:
                out.append((axis["name"] + (f" ({rest})" if rest else ""), svg))
    return out


def _curve(axis: dict, members: list, primary: str, rest: str) -> str | None:
    labels = axis["labels"]
    order = sorted(members, key=lambda mem: labels.index(mem["labels"][axis["name"]]))
    contenders = list(dict.fromkeys(label for mem in order for label in mem["intervals"]))
    if not contenders:
        return None
    fig = charts._figure(charts.WIDTH, 3.2)
    ax = fig.add_subplot()
    xs = list(range(len(order)))
    for i, label in enumerate(contenders):
        role = _role(label, order[0])
        colour = charts.GROUP_COLOURS[i % len(charts.GROUP_COLOURS)]
        style = charts.ROLE_STYLE.get(role, charts.ROLE_STYLE["method"])
        points = [(x, mem["intervals"].get(label, {}).get(primary)) for x, mem in zip(xs, order)]
        points = [(x, e) for x, e in points if e and m.is_number(e.get("mean"))]
        if not points:
            continue
        offset = (i - len(contenders) / 2) * 0.03
        ax.plot([x + offset for x, _ in points], [e["mean"] for _, e in points], marker=style[1], color=colour,
                linestyle=style[3], label=label)
        for x, e in points:
            if m.is_number(e.get("low")):
                ax.plot([x + offset] * 2, [e["low"], e["high"]], color=colour, linewidth=1.2)
    ax.set_xticks(xs, [mem["labels"][axis["name"]] for mem in order])
    ax.set_xlabel(f"{axis['name']} ({axis['path']})" + (f"; {rest}" if rest else ""), fontsize=10)
    ax.set_ylabel(primary, fontsize=10)
    charts._style_axes(ax)
    fig.legend(loc="outside right center", fontsize=8, frameon=False)
    return charts.to_svg(fig, f"axis-{axis['name']}-{rest}", wide=True)


def _role(label: str, member: dict) -> str:
    return (member.get("roles") or {}).get(label, "method")


def render_markdown(family: dict) -> str:
    task = family.get("task") or {}
    lines = [f"# fairfight family report: {task.get('name', '?')}", "",
             f"{len(family['members'])} members ({family['combine']} over "
             + ", ".join(f"{a['name']} at `{a['path']}`" for a in family["axes"]) + ").", ""]
    if family.get("interrupted"):
        lines += ["**Interrupted**: some runs did not finish; no family verdicts.", ""]
    lines += ["## Claims over the members", ""]
    if not family.get("verdicts"):
        lines += ["No claim ranges over the members.", ""]
    for row in heatmap(family):
        lines += [f"- **{row['verdict']}**: {row['claim']}", f"  - {row['reason']}", "",
                  f"| member | difference | interval | {row['p_label']} | decision |", "|---|---|---|---|---|"]
        lines += [f"| {c['member']} | {c['difference']} | {c['interval']} | {c['p']} | {c['decision']} |"
                  for c in row["cells"]]
        lines.append("")
    lines += ["## Members", "", "| member | runs (ok/failed/refused) | verdicts | report |", "|---|---|---|---|"]
    for mem in family["members"]:
        c = mem["counts"]
        verdicts = "; ".join(f"{v['claim']}: {v['verdict']}" for v in mem["verdicts"]) or "-"
        lines.append(f"| {mem['name']} | {c['succeeded']}/{c['failed']}/{c['refused']} | {verdicts} | "
                     f"[report]({mem['bundle']}/report.md) |")
    lines += ["", "## Primary metric per member", ""]
    primary = family["members"][0]["primary"] if family["members"] else "?"
    contenders = list(dict.fromkeys(label for mem in family["members"] for label in mem["intervals"]))
    lines += ["| contender | " + " | ".join(mem["name"] for mem in family["members"]) + " |",
              "|---|" + "---|" * len(family["members"])]
    for label in contenders:
        cells = []
        for mem in family["members"]:
            e = mem["intervals"].get(label, {}).get(primary)
            cells.append("-" if not e else f"{e['mean']:.3f} [{e['low']:.3f}, {e['high']:.3f}]")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", f"({primary}; intervals from each member's own bootstrap.)", ""]
    return "\n".join(lines)


def render_html(family: dict) -> str:
    import jinja2
    from markupsafe import Markup

    text = resources.files("fairfight.report").joinpath("templates/family.html.j2").read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    primary = family["members"][0]["primary"] if family["members"] else "?"
    contenders = list(dict.fromkeys(label for mem in family["members"] for label in mem["intervals"]))
    table = [{"label": label, "cells": [(mem["intervals"].get(label, {}).get(primary)) for mem in family["members"]]}
             for label in contenders]
    return env.from_string(text).render(
        family=family, task=family.get("task") or {}, heatmap=heatmap(family), primary=primary, table=table,
        curves=[(name, Markup(svg)) for name, svg in axis_curves(family)],
        verdict_class={"supported": "ok", "not-supported": "bad", "inconclusive": "warn", "invalid": "bad"})


def write_family_reports(root) -> tuple[Path, Path]:
    from ..evaluator.orchestration.bundle import write_atomic

    root = Path(root)
    family = load_family(root)
    md_text, html_text = render_markdown(family), render_html(family)
    md, html = root / "report.md", root / "report.html"
    write_atomic(md, md_text)
    write_atomic(html, html_text)
    return md, html
