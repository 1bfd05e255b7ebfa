"""report.html: one self-contained file (inline CSS, inline SVG charts, no scripts, no network).

Same content as report.md, plus per-metric charts with confidence intervals, a per-group
accuracy chart, a chart per claim, and the affordance matrix. Rendered with jinja2 from the
template shipped in fairfight/report/templates/.
"""
from __future__ import annotations

from importlib import resources

from . import charts
from . import model as m
from .matrix import GROUPS, LEGEND, affordance_matrix

VERDICT_CLASS = {"supported": "ok", "not-supported": "bad", "inconclusive": "warn", "invalid": "bad",
                 "not-judged": "muted"}


def _template():
    import jinja2

    text = resources.files("fairfight.report").joinpath("templates/report.html.j2").read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    return env.from_string(text)


def render_html(results: dict, examples=()) -> str:
    """`examples`: report/examples.py's per-contender evaluation examples (read from the bundle)."""
    from markupsafe import Markup

    return _template().render(**context(results, Markup), examples=list(examples))


def context(results: dict, markup=str) -> dict:
    task, ev, rules = results.get("task") or {}, results.get("evaluate") or {}, results.get("rules") or {}
    grant = rules.get("grant") or {}
    counts, trials = results.get("counts") or {}, (results.get("counts") or {}).get("trials") or {}
    everyone = m.contenders(results)
    intervals = results.get("intervals") or {}
    svg = lambda s: markup(s) if s else None  # noqa: E731
    return {
        "title": f"fairfight report: {task.get('name', '?')}",
        "task": task, "tier": m.tier(results), "evaluate": ev, "results": results,
        "confidence": m.percent(ev.get("confidence")),
        "spec_hash": str(results.get("spec_hash", ""))[:16], "isolation": m.isolation(results),
        "device": m.device(results),
        "seeds": ", ".join(map(str, results.get("seeds", []))),
        "groups": " × ".join(ev.get("groups", [])) or "none",
        "counts": counts, "trial_counts": trials,
        "verdicts": _verdicts(results, svg),
        "has_claims": bool(results.get("claims")),
        "rules": [
            ("model operations", ", ".join(grant.get("model", [])) or "none"),
            ("data (split: columns)", m.data_text(grant.get("data"))),
            ("knowledge", ", ".join(sorted(set(grant.get("knowledge", [])) | set(rules.get("knowledge", []))))
             or "none"),
            ("selection (the only split tuning may score on)", rules.get("selection") or "none"),
            ("budget", m.budget_text(rules.get("budget") or {})),
            *([("split transforms", "; ".join(f"{k}: {', '.join(v)}" for k, v in rules["transforms"].items()))]
              if rules.get("transforms") else []),
        ],
        "contenders": [{"label": c.label, "role": c.role, "note": c.note, "status": c.status, "runs": len(c.runs)}
                       for c in everyone],
        "metrics": [_metric(results, metric, everyone, intervals, svg) for metric in m.metrics_of(results)],
        "group_names": m.group_names(results),
        "group_rows": [{"label": c.label, "role": c.role,
                        "cells": [m.num(((intervals.get(c.label) or {}).get("groups") or {}).get(g))
                                   for g in m.group_names(results)]}
                       for c in everyone if c.label in intervals],
        "groups_chart": svg(charts.groups_chart(results)),
        "matrix": _matrix(results),
        "legend": LEGEND,
        "plan_refusals": results.get("refusals", []),
        "run_refusals": m.run_refusals(results),
        "controls": _controls(results, everyone, intervals),
        "tuning": _tuning(results),
        "notes": results.get("notes") or [],
    }


def _verdicts(results, svg) -> list:
    out = []
    for i, v in enumerate(results.get("verdicts") or []):
        out.append({
            "claim": v["claim"], "verdict": v["verdict"], "cls": VERDICT_CLASS.get(v["verdict"], "muted"),
            "meaning": m.verdict_meaning(v), "reason": v.get("reason", ""),
            "caveats": [{"text": line, "warn": line.startswith(("unmatched affordances", "human judgement"))} for line in m.unmatched_caveats(v)],
            "relation": m.claim_terms(v)[1],
            "all_baselines": m.is_all_baselines(v),
            "chart": svg(charts.claim_chart(v, i)),
            "comparisons": [{"against": c["against"], "metric": c["metric"], "subject": m.num(c.get("subject_value")),
                             "other": m.num(c.get("against_value")), "difference": m.signed(c.get("difference")),
                             "interval": f"[{m.signed(c.get('low'))}, {m.signed(c.get('high'))}]",
                             "verdict": c["verdict"], "cls": VERDICT_CLASS.get(c["verdict"], "muted")}
                            for c in v.get("comparisons") or []],
        })
    return out


def _metric(results, metric, everyone, intervals, svg) -> dict:
    rows = []
    for c in everyone:
        entry = (intervals.get(c.label) or {}).get(metric)
        if entry is None:
            values = [(r.get("metrics") or {}).get(metric) for r in c.runs if r.get("metrics")]
            seeds, sd = m.spread(values) if values else ("—", "—")
            rows.append({"label": c.label, "role": c.role, "interval": c.why_no_value, "seeds": seeds, "sd": sd})
            continue
        seeds, sd = m.spread(entry.get("seeds"))
        rows.append({"label": c.label, "role": c.role, "interval": m.interval(entry, metric), "seeds": seeds, "sd": sd})
    floor = any(m.at_floor((intervals.get(c.label) or {}).get(metric), metric) for c in everyone)
    return {"name": metric, "primary": metric == (results.get("evaluate") or {}).get("primary"),
            "floor_note": m.FLOOR_NOTE if floor else None,
            "better": "lower is better" if m.lower_is_better(metric) else "higher is better",
            "rows": rows, "chart": svg(charts.metric_chart(results, metric))}


def _matrix(results) -> dict:
    mx = affordance_matrix(results)
    groups = []
    for col in mx.columns:
        if groups and groups[-1]["group"] == col.group:
            groups[-1]["span"] += 1
        else:
            groups.append({"group": col.group, "title": GROUPS[col.group], "span": 1})
    columns = []
    for col in mx.columns:
        name = col.name if col.group != "budget" else f"{col.name} (limit {col.limit:,})" if col.limit is not None \
            else col.name
        if col.group == "guard":
            name = "files, network, processes, gc"
        if col.judgement:
            name += " (human judgement)"
        columns.append({"name": name, "group": col.group, "in_rules": col.in_rules,
                        "title": f"{GROUPS[col.group]}: {col.name}" + ("" if col.in_rules else " (not in the rules)")
                        + (f"; human judgement, an affordance no baseline has: {col.judgement}" if col.judgement
                           else "")})
    rows = []
    for row in mx.rows:
        cells = []
        for col in mx.columns:
            cell = row.cells.get(col.key)
            if cell is None:
                cells.append({"text": "·", "cls": "none", "title": "not granted", "beyond": False})
                continue
            state_cls = cell.state.replace(" ", "-")
            cells.append({"text": cell.text, "cls": state_cls, "beyond": cell.beyond,
                          "title": "; ".join([cell.state + (" (beyond the rules)" if cell.beyond else "")]
                                             + cell.details)})
        rows.append({"label": row.label, "role": row.role, "how": row.how, "status": row.status, "cells": cells,
                     "note": row.note})
    judged = [{"name": c.name, "judgement": c.judgement} for c in mx.columns if c.judgement]
    return {"groups": groups, "columns": columns, "rows": rows, "judged": judged}


def _controls(results, everyone, intervals) -> dict:
    names = (results.get("contenders") or {}).get("controls", [])
    primary = (results.get("evaluate") or {}).get("primary")
    by_label = {c.label: c for c in everyone}

    def value(c):
        if c is None:
            return "n/a"
        entry = (intervals.get(c.label) or {}).get(primary)
        return m.interval(entry) if entry else c.why_no_value

    rows = [{"label": c.label, "method": c.name, "value": value(c), "method_value": value(by_label.get(c.name))}
            for c in everyone if c.role == "control"]
    return {"names": [(n, m.CONTROL_NOTES.get(n, n)) for n in names], "rows": rows, "primary": primary}


def _tuning(results) -> dict:
    tuning = results.get("tuning") or {}
    primary = m.tuning_metric(results)
    rows = []
    for label, entry in (tuning.get("contenders") or {}).items():
        trials = entry.get("trials", [])
        keys = m.searched(trials)
        rows.append({"label": label, "ok": sum(t.get("status") == "succeeded" for t in trials), "n": len(trials),
                     "chosen": m.params_text(m.only(entry["chosen"], keys)) if entry.get("chosen") else "none (defaults)",
                     "all_params": m.params_text(entry.get("chosen")), "best": m.num(entry.get("best")),
                     "trials": [{"params": m.params_text(m.only(t.get("params"), keys)), "value": m.num(t.get(primary)),
                                 "status": t.get("status")} for t in trials]})
    notes = [(None if label == "note" else label, note) for label, note in (tuning.get("notes") or {}).items()]
    return {"allowed": tuning.get("trials_allowed", "n/a"), "selection": tuning.get("selection") or "none",
            "rows": rows, "notes": notes, "primary": primary, "better": m.better(primary)}
