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
GROUP_COLOURS = ["#1f5fa8", "#d9822b", "#2e8b57", "#b03a48", "#6a5acd", "#8c6d31", "#17becf", "#7f7f7f"]


def _figure(width, height):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig


def to_svg(fig, name: str) -> str:
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
    return svg.replace("<svg", f'<svg class="chart" role="img" aria-label="{name}"', 1)


def _style_axes(ax):
    ax.grid(axis="x", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=9)


def metric_chart(results: dict, metric: str) -> str | None:
    """Points (mean over seeds) with confidence-interval error bars per contender, per-seed values
    as small dots; skylines hollow and dashed, controls in their own colour."""
    intervals = results.get("intervals") or {}
    rows = [(c, intervals[c.label][metric]) for c in m.contenders(results)
            if metric in (intervals.get(c.label) or {}) and m.is_number(intervals[c.label][metric].get("mean"))]
    if not rows:
        return None
    n = len(rows)
    fig = _figure(6.4, 0.9 + 0.34 * n)
    ax = fig.add_subplot()
    roles_seen = []
    for i, (c, entry) in enumerate(rows):
        colour, marker, filled, line = ROLE_STYLE.get(c.role, ROLE_STYLE["method"])
        mean = entry["mean"]
        low = entry["low"] if m.is_number(entry.get("low")) else mean
        high = entry["high"] if m.is_number(entry.get("high")) else mean
        bars = ax.errorbar([mean], [i], xerr=[[max(mean - low, 0)], [max(high - mean, 0)]], fmt=marker,
                           color=colour, markerfacecolor=colour if filled else "white", markersize=7, capsize=4,
                           elinewidth=1.6, label=ROLE_LEGEND.get(c.role, c.role) if c.role not in roles_seen else None)
        bars[-1][0].set_linestyle(line)
        roles_seen.append(c.role)
        seeds = [v for v in entry.get("seeds") or [] if m.is_number(v)]
        if len(seeds) > 1:
            ax.plot(seeds, [i + 0.22] * len(seeds), "|", color=colour, alpha=0.7, markersize=6)
    ax.set_yticks(range(n), [c.label for c, _ in rows])
    ax.invert_yaxis()
    ax.set_ylim(n - 0.4, -0.6)
    values = [v for _, e in rows for v in (e.get("low"), e.get("high"), e.get("mean"), *(e.get("seeds") or []))
              if m.is_number(v)]
    if values and min(values) >= 0 and max(values) <= 1:
        ax.set_xlim(-0.02, 1.02)
    better = "lower is better" if m.lower_is_better(metric) else "higher is better"
    conf = m.percent((results.get("evaluate") or {}).get("confidence"))
    ax.set_xlabel(f"{metric} ({better}); bars: {conf} interval; ticks: seeds", fontsize=9)
    _style_axes(ax)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return to_svg(fig, f"chart-{metric}")


def groups_chart(results: dict) -> str | None:
    """Accuracy per evaluation group: grouped horizontal bars per contender."""
    intervals = results.get("intervals") or {}
    names = m.group_names(results)
    rows = [c for c in m.contenders(results) if (intervals.get(c.label) or {}).get("groups")]
    if not names or not rows:
        return None
    k = len(names)
    height = 0.8 / k
    fig = _figure(6.4, 1.0 + (0.16 * k + 0.12) * len(rows))
    ax = fig.add_subplot()
    for j, g in enumerate(names):
        ys = [i - 0.4 + height * (j + 0.5) for i in range(len(rows))]
        xs = [(intervals[c.label]["groups"] or {}).get(g) for c in rows]
        xs = [x if m.is_number(x) else 0.0 for x in xs]
        ax.barh(ys, xs, height=height * 0.92, color=GROUP_COLOURS[j % len(GROUP_COLOURS)], label=g)
    ax.set_yticks(range(len(rows)), [c.label for c in rows])
    for tick, c in zip(ax.get_yticklabels(), rows):
        tick.set_color(ROLE_STYLE.get(c.role, ROLE_STYLE["method"])[0])
        if c.role == "skyline":
            tick.set_fontstyle("italic")
    ax.invert_yaxis()
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(0, 1.0)
    ax.set_xlabel("accuracy within the group (mean over seeds)", fontsize=9)
    _style_axes(ax)
    ax.legend(title="group", loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title_fontsize=8, frameon=False)
    return to_svg(fig, "chart-groups")


def claim_chart(verdict: dict, index: int) -> str | None:
    """One row per comparison: the difference (positive = the subject is better) with its interval,
    and the margin (or the tolerance band) the claim must clear."""
    comps = [c for c in verdict.get("comparisons") or [] if m.is_number(c.get("difference"))]
    if not comps:
        return None
    amount, relation = claim_amount(verdict)
    fig = _figure(6.4, 0.75 + 0.32 * len(comps))
    ax = fig.add_subplot()
    colours = {"supported": "#2e8b57", "not-supported": "#b03a48", "inconclusive": "#c28f00"}
    for i, c in enumerate(comps):
        low = c["low"] if m.is_number(c.get("low")) else c["difference"]
        high = c["high"] if m.is_number(c.get("high")) else c["difference"]
        ax.errorbar([c["difference"]], [i], xerr=[[max(c["difference"] - low, 0)], [max(high - c["difference"], 0)]],
                    fmt="o", color=colours.get(c.get("verdict"), "#555555"), capsize=4, elinewidth=1.6)
    if relation == "matches":
        ax.axvspan(-amount, amount, color="#2e8b57", alpha=0.12, label=f"tolerance ±{amount:g}")
    else:
        ax.axvline(amount, color="#333333", linestyle="--", linewidth=1, label=f"margin {amount:g}")
    ax.axvline(0, color="#999999", linewidth=0.8)
    ax.set_yticks(range(len(comps)), [f"vs {c['against']}" for c in comps])
    ax.invert_yaxis()
    ax.set_ylim(len(comps) - 0.5, -0.5)
    ax.set_xlabel(f"difference on {comps[0]['metric']} (positive: {comps[0]['subject']} is better)", fontsize=9)
    _style_axes(ax)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return to_svg(fig, f"chart-claim-{index}")


def claim_amount(verdict: dict) -> tuple[float, str]:
    """(margin or tolerance, relation) of a claim, from its reason text (results.json does not
    carry them as fields)."""
    found = re.search(r"\b(margin|tolerance) ([-+0-9.eE]+)", verdict.get("reason", ""))
    relation = "matches" if (found and found.group(1) == "tolerance") or " matches " in verdict.get("claim", "") \
        else "beats"
    try:
        return (float(found.group(2)) if found else 0.0), relation
    except ValueError:
        return 0.0, relation
