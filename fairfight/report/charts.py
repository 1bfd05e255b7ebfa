"""Charts for report.html: matplotlib figures rendered to inline SVG strings (no files, no network).

matplotlib is imported only here, and only when a chart is drawn. Figures are made with
matplotlib.figure.Figure (no pyplot, no global backend), text stays text (svg.fonttype none),
and ids and metadata are fixed so that the same results.json gives the same SVG.
"""
from __future__ import annotations

import io
import re

from . import model as m

ROLE_STYLE = {  # colour, marker, filled, line style
    "method": ("#1f5fa8", "o", True, "-"),
    "baseline": ("#5b5b5b", "s", True, "-"),
    "skyline": ("#d9822b", "D", False, "--"),
    "control": ("#8e44ad", "v", True, ":"),
}
ROLE_LEGEND = {"method": "method", "baseline": "baseline", "skyline": "skyline (beyond the rules)",
               "control": "control"}
WIDTH = 5.2  # inches; the page scales the SVG to its column
WIDE = 8.5
GROUP_COLOURS = ["#1f5fa8", "#d9822b", "#2e8b57", "#b03a48", "#6a5acd", "#8c6d31", "#17becf", "#7f7f7f"]


def _figure(width, height):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig


def to_svg(fig, name: str, wide: bool = False) -> str:
    """The figure as an <svg> element for inlining into HTML (no XML header, no metadata, no
    namespace URLs, ids unique per chart, width scaled by CSS)."""
    import matplotlib

    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"fairfight-{name}"}):
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg)  # HTML5 inline SVG needs no namespace declarations
    svg = re.sub(r'(<svg[^>]*?)\s+width="[^"]*"\s+height="[^"]*"', r'\1', svg, count=1)
    css = "chart wide" if wide else "chart"
    return svg.replace("<svg", f'<svg class="{css}" role="img" aria-label="{name}"', 1)


def _style_axes(ax):
    ax.grid(axis="x", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=10)


def metric_chart(results: dict, metric: str) -> str | None:
    """Points (mean over seeds) with confidence-interval error bars per contender, per-seed values
    as small dots; skylines hollow and dashed, controls in their own colour."""
    intervals = results.get("intervals") or {}
    rows = [(c, intervals[c.label][metric]) for c in m.contenders(results)
            if metric in (intervals.get(c.label) or {}) and m.is_number(intervals[c.label][metric].get("mean"))]
    if not rows:
        return None
    n = len(rows)
    fig = _figure(WIDTH, 1.25 + 0.34 * n)
    ax = fig.add_subplot()
    roles_seen = []
    for i, (c, entry) in enumerate(rows):
        colour, marker, filled, line = ROLE_STYLE.get(c.role, ROLE_STYLE["method"])
        _interval(ax, i, entry["mean"], entry.get("low"), entry.get("high"), colour, line)
        ax.plot([entry["mean"]], [i], marker, color=colour, markerfacecolor=colour if filled else "white",
                markersize=7, linestyle="none")
        if c.role not in roles_seen:
            roles_seen.append(c.role)
        seeds = [v for v in entry.get("seeds") or [] if m.is_number(v)]
        if len(seeds) > 1:
            ax.plot(seeds, [i + 0.24] * len(seeds), "|", color=colour, alpha=0.7, markersize=6)
    handles = [_handle(role) for role in roles_seen]
    ax.set_yticks(range(n), [c.label for c, _ in rows])
    ax.invert_yaxis()
    ax.set_ylim(n - 0.4, -0.6)
    values = [v for _, e in rows for v in (e.get("low"), e.get("high"), e.get("mean"), *(e.get("seeds") or []))
              if m.is_number(v)]
    if values and min(values) >= 0 and max(values) <= 1:
        ax.set_xlim(-0.02, 1.02)
    better = "lower is better" if m.lower_is_better(metric) else "higher is better"
    conf = m.percent((results.get("evaluate") or {}).get("confidence"))
    ax.set_xlabel(f"{metric} ({better})\nbars: {conf} interval; small ticks: single seeds", fontsize=10)
    _style_axes(ax)
    fig.legend(handles=handles, loc="outside lower center", ncol=4, fontsize=9, frameon=False, handletextpad=0.3,
               columnspacing=1.2)
    return to_svg(fig, f"chart-{metric}")


def _interval(ax, y, centre, low, high, colour, line="-"):
    """A confidence interval as a line from low to high with end caps. Drawn from the bounds
    themselves, so it stays honest when the point estimate lies outside its bootstrap interval."""
    low = low if m.is_number(low) else centre
    high = high if m.is_number(high) else centre
    ax.plot([low, high], [y, y], color=colour, linewidth=1.6, linestyle=line, solid_capstyle="butt")
    ax.plot([low, high], [y, y], "|", color=colour, markersize=9, markeredgewidth=1.6)


def _handle(role: str):
    from matplotlib.lines import Line2D

    colour, marker, filled, line = ROLE_STYLE.get(role, ROLE_STYLE["method"])
    return Line2D([], [], color=colour, marker=marker, markerfacecolor=colour if filled else "white", markersize=7,
                  linestyle=line, linewidth=1.6, label=ROLE_LEGEND.get(role, role))


def groups_chart(results: dict) -> str | None:
    """Accuracy per evaluation group: grouped horizontal bars per contender."""
    intervals = results.get("intervals") or {}
    names = m.group_names(results)
    rows = [c for c in m.contenders(results) if (intervals.get(c.label) or {}).get("groups")]
    if not names or not rows:
        return None
    k = len(names)
    height = 0.8 / k
    fig = _figure(WIDE, 1.2 + (0.12 * k + 0.08) * len(rows))
    ax = fig.add_subplot()
    for j, g in enumerate(names):
        ys = [i - 0.4 + height * (j + 0.5) for i in range(len(rows))]
        xs = [((intervals[c.label].get("groups") or {}).get(g)) for c in rows]
        colour = GROUP_COLOURS[j % len(GROUP_COLOURS)]
        ax.barh(ys, [x if m.is_number(x) else 0.0 for x in xs], height=height * 0.9, color=colour, label=g)
        for y, x in zip(ys, xs):  # a bar too short to see still says its value
            if not m.is_number(x) or x < 0.03:
                ax.text(0.005, y, "n/a" if not m.is_number(x) else f"{x:.2f}", va="center", ha="left", fontsize=7,
                        color=colour)
    ax.set_yticks(range(len(rows)), [c.label for c in rows])
    for tick, c in zip(ax.get_yticklabels(), rows):
        tick.set_color(ROLE_STYLE.get(c.role, ROLE_STYLE["method"])[0])
        if c.role == "skyline":
            tick.set_fontstyle("italic")
    ax.invert_yaxis()
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(0, 1.0)
    ax.set_xlabel("accuracy within the group (mean over seeds)", fontsize=10)
    _style_axes(ax)
    fig.legend(title="group", loc="outside upper center", ncol=min(k, 4), fontsize=9, title_fontsize=9,
               frameon=False)
    return to_svg(fig, "chart-groups", wide=True)


def claim_chart(verdict: dict, index: int) -> str | None:
    """One row per comparison: the difference (positive = the subject is better) with its interval,
    and the margin (or the tolerance band) the claim must clear."""
    comps = [c for c in verdict.get("comparisons") or [] if m.is_number(c.get("difference"))]
    if not comps:
        return None
    amount, relation = m.claim_terms(verdict)
    fig = _figure(WIDTH + 1.4, 1.3 + 0.32 * len(comps))
    ax = fig.add_subplot()
    colours = {"supported": "#2e8b57", "not-supported": "#b03a48", "inconclusive": "#c28f00"}
    for i, c in enumerate(comps):
        colour = colours.get(c.get("verdict"), "#555555")
        _interval(ax, i, c["difference"], c.get("low"), c.get("high"), colour)
        ax.plot([c["difference"]], [i], "o", color=colour, markersize=6)
    if relation == "matches":
        ax.axvspan(-amount, amount, color="#2e8b57", alpha=0.12, label=f"tolerance ±{amount:g}")
    else:
        ax.axvline(amount, color="#333333", linestyle="--", linewidth=1, label=f"margin {amount:g}")
    if amount != 0 or relation == "matches":
        ax.axvline(0, color="#999999", linewidth=0.8)
    ax.set_yticks(range(len(comps)), [c["against"] for c in comps])
    ax.invert_yaxis()
    ax.set_ylim(len(comps) - 0.5, -0.5)
    ax.set_xlabel(f"difference on {comps[0]['metric']}\n(positive: {comps[0]['subject']} is better)", fontsize=10)
    _style_axes(ax)
    fig.legend(loc="outside lower center", ncol=2, fontsize=9, frameon=False)
    return to_svg(fig, f"chart-claim-{index}")
