"""report.md: the whole fight in Markdown, from results.json only."""
from __future__ import annotations

from . import model as m
from .matrix import GROUPS, REFUSED, USED, affordance_matrix


def _cell(x) -> str:
    return str(x).replace("|", "\\|").replace("\n", " ")


def table(headers, rows) -> list[str]:
    out = ["| " + " | ".join(_cell(h) for h in headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(_cell(x) for x in row) + " |" for row in rows]
    return out + [""]


def render_markdown(results: dict) -> str:
    lines: list[str] = []
    lines += _header(results)
    lines += _verdicts(results)
    lines += _rules(results)
    lines += _contenders(results)
    lines += _groups(results)
    lines += _affordances(results)
    lines += _refusals(results)
    lines += _controls(results)
    lines += _tuning(results)
    lines += _notes(results)
    return "\n".join(lines).rstrip() + "\n"


def _header(results) -> list[str]:
    task, ev, counts = results.get("task") or {}, results.get("evaluate") or {}, results.get("counts") or {}
    lines = [f"# fairfight report: {task.get('name', '?')}", ""]
    if task.get("goal"):
        lines += [f"> {task['goal']}", ""]
    trials = counts.get("trials") or {}
    groups = " × ".join(ev.get("groups", [])) or "none"
    lines += [
        f"- **Tier:** {m.tier(results)}",
        f"- **Isolation:** {m.isolation(results)}",
        f"- **Spec:** `{results.get('spec', '?')}` (sha256 `{str(results.get('spec_hash', ''))[:16]}…`)",
        f"- **Evaluation:** split `{ev.get('split')}` ({ev.get('examples', '?')} examples), "
        + (f"generation scored by `{ev.get('scorer')}`" if ev.get("kind") == "generation" else f"target `{ev.get('target')}`")
        + f", groups {groups}; primary metric `{ev.get('primary')}`; "
        f"{m.percent(ev.get('confidence'))} confidence; seeds {', '.join(map(str, results.get('seeds', [])))}"
        + (f" (training splits resampled per seed: `{ev['resample']}`)" if ev.get("resample") else ""),
        f"- **Runs:** {counts.get('succeeded', 0)} succeeded, {counts.get('refused', 0)} refused, "
        f"{counts.get('failed', 0)} failed, {counts.get('pending', 0)} pending; "
        f"{counts.get('refused_at_plan', 0)} contender(s) refused at plan time; tuning trials: "
        f"{trials.get('succeeded', 0)} succeeded, {trials.get('refused', 0)} refused, {trials.get('failed', 0)} failed",
        "",
    ]
    if m.device(results):  # where the model ran (docs/devices.md); older bundles do not say
        lines.insert(lines.index(f"- **Isolation:** {m.isolation(results)}") + 1, f"- **Model device:** {m.device(results)}")
    if results.get("interrupted"):
        lines += ["**This eval was interrupted:** the results below cover the finished runs only, and no verdicts "
                  "were computed. Run the same `fairfight eval` command with the same `--out` to resume.", ""]
    return lines


def _verdicts(results) -> list[str]:
    lines = ["## Claims and verdicts", ""]
    if m.tier(results) == "in-the-wild":
        lines += ["This is an **in-the-wild** report of a method on a real problem: **no verdicts** are computed. "
                  "The numbers below describe the method; they do not say that it beats anything.", ""]
    verdicts = results.get("verdicts")
    if verdicts is None:
        claims = results.get("claims", [])
        lines += ["No verdicts: the eval did not finish." if claims else "The spec makes no claims.", ""]
        return lines
    if not verdicts:
        return lines + ["The spec makes no claims.", ""]
    if m.tier(results) != "in-the-wild":
        lines += table(["claim", "verdict"], [[v["claim"], f"**{v['verdict']}**"] for v in verdicts])
    conf = m.percent((results.get("evaluate") or {}).get("confidence"))
    for v in verdicts:
        lines += [f"### {v['claim']}", "", f"**{v['verdict']}**: {m.verdict_meaning(v)}.", ""]
        if v.get("comparisons"):
            if m.is_all_baselines(v):
                lines += ["\"Beats all baselines\" is an intersection-union test: the claim holds only if it beats "
                          "**each** baseline (every row supported); one row not supported makes it not supported.", ""]
            lines += [f"Differences are *subject minus other*, oriented so that positive means the subject is "
                      f"better; {conf} paired-bootstrap intervals (the same resamples for both arms).", ""]
            lines += table(["against", "metric", "subject", "other", "difference", "interval", "verdict"],
                           [[c["against"], c["metric"], m.num(c.get("subject_value")), m.num(c.get("against_value")),
                             m.signed(c.get("difference")),
                             f"[{m.signed(c.get('low'))}, {m.signed(c.get('high'))}]", c["verdict"]]
                            for c in v["comparisons"]])
        lines += [f"Reason: {v.get('reason', '')}", ""]
        for line in m.unmatched_caveats(v):
            lines += [f"**Caveat:** {line}" if line.startswith(("unmatched affordances", "human judgement")) else f"Note: {line}", ""]
    return lines


def _rules(results) -> list[str]:
    rules = results.get("rules") or {}
    grant = rules.get("grant") or {}
    knowledge = sorted(set(grant.get("knowledge", [])) | set(rules.get("knowledge", [])))
    lines = ["## The rules", "", "What every contender may use; no contender (except a skyline) gets more, and a "
             "contender that declares `uses` gets exactly those.", ""]
    lines += table(["affordance", "granted by the rules"], [
        ["model operations", ", ".join(grant.get("model", [])) or "none"],
        ["data (split: columns)", m.data_text(grant.get("data"))],
        ["knowledge", ", ".join(knowledge) or "none"],
        ["selection (the only split tuning may score on)", rules.get("selection") or "none"],
        ["budget", m.budget_text(rules.get("budget") or {})],
        *([["split transforms", "; ".join(f"{k}: {', '.join(v)}" for k, v in rules["transforms"].items())]]
          if rules.get("transforms") else []),
    ])
    return lines


def _contenders(results) -> list[str]:
    ev = results.get("evaluate") or {}
    intervals = results.get("intervals") or {}
    conf = m.percent(ev.get("confidence"))
    lines = ["## Contenders", ""]
    lines += table(["contender", "role", "status", "runs"],
                   [[c.label, c.note, c.status, len(c.runs)] for c in m.contenders(results)])
    for metric in m.metrics_of(results):
        better = "lower is better" if m.lower_is_better(metric) else "higher is better"
        primary = " (primary)" if metric == ev.get("primary") else ""
        lines += [f"### {metric}{primary}", "",
                  f"Mean over seeds with its {conf} bootstrap interval (examples and seeds resampled); {better}.", ""]
        rows = []
        for c in m.contenders(results):
            entry = (intervals.get(c.label) or {}).get(metric)
            if entry is None:
                values = [(r.get("metrics") or {}).get(metric) for r in c.runs if r.get("metrics")]
                seeds, sd = m.spread(values) if values else ("—", "—")
                rows.append([c.label, c.role, c.why_no_value, seeds, sd])
                continue
            seeds, sd = m.spread(entry.get("seeds"))
            rows.append([c.label, c.role, m.interval(entry, metric), seeds, sd])
        lines += table(["contender", "role", "mean [low, high]", "per seed", "sd over seeds"], rows)
        if any(m.at_floor((intervals.get(c.label) or {}).get(metric), metric) for c in m.contenders(results)):
            lines += [f"*At the floor:* {m.FLOOR_NOTE}.", ""]
    return lines


def _groups(results) -> list[str]:
    intervals = results.get("intervals") or {}
    names = m.group_names(results)
    if not names:
        return []
    generation = (results.get("evaluate") or {}).get("kind") == "generation"
    lines = [f"## {'Score' if generation else 'Accuracy'} per group", "",
             f"{'Mean score' if generation else 'Accuracy'} within each group of the evaluation split "
             f"({' / '.join((results.get('evaluate') or {}).get('groups', []))}), mean over seeds.", ""]
    rows = [[c.label] + [m.num(((intervals.get(c.label) or {}).get("groups") or {}).get(g)) for g in names]
            for c in m.contenders(results) if c.label in intervals]
    return lines + table(["contender", *names], rows)


def _affordances(results) -> list[str]:
    matrix = affordance_matrix(results)
    lines = ["## Affordances: granted, used, refused", "",
             "Per contender (pooled over seeds), from the run grants and ledgers. report.html has the full matrix.", ""]
    rows = []
    for row in matrix.rows:
        used, refused, unused = [], [], []
        for col in matrix.columns:
            cell = row.cells.get(col.key)
            if cell is None or col.group in ("budget", "guard"):
                if cell is not None and cell.state == REFUSED:
                    refused.append(f"{GROUPS[col.group]} {col.name}" if col.group == "budget" else "run-time guard")
                continue
            name = col.name + ("†" if cell.beyond else "") + (" (human judgement)" if col.judgement else "")
            {USED: used, REFUSED: refused}.get(cell.state, unused).append(name)
        rows.append([row.label, row.how, ", ".join(used) or "—", ", ".join(unused) or "—", ", ".join(refused) or "—"])
    lines += table(["contender", "granted", "used", "granted, not used", "refused"], rows)
    if any(c.beyond for r in matrix.rows for c in r.cells.values()):
        lines += ["† beyond the rules (skylines only).", ""]
    for col in matrix.columns:
        if col.judgement:
            lines += [f"**Human judgement:** knowledge `{col.name}` is {col.judgement}; a contender that uses it "
                      "used a person's (or a model's) reading of the features, an affordance no baseline has.", ""]
    return lines


def _refusals(results) -> list[str]:
    plan, runtime = results.get("refusals", []), m.run_refusals(results)
    lines = ["## Refusals and failures", ""]
    if not plan and not runtime:
        return lines + ["None: every contender ran within its grant.", ""]
    if plan:
        lines += ["Refused at plan time (nothing ran):", ""]
        lines += [f"- **{r['label']}** ({r['role']}): {r['reason']}" for r in plan] + [""]
    if runtime:
        lines += ["At run time:", ""]
        for r in runtime:
            where = f"trial {r['trial']}" if r.get("trial") is not None else f"seed {r['seed']}"
            lines.append(f"- **{r['label']}** ({r['role']}, {where}): {r['status']}")
            # one line each: a run's reasons may be a contender's text (its own report, its own refusal
            # record), and a newline in one would start a forged section of this report
            lines += [f"  - {' '.join(str(reason).split())}" for reason in r["reasons"]]
        lines.append("")
    return lines


def _controls(results) -> list[str]:
    controls = (results.get("contenders") or {}).get("controls", [])
    if not controls:
        return []
    primary = (results.get("evaluate") or {}).get("primary")
    intervals = results.get("intervals") or {}
    lines = ["## Controls", "", "Sanity controls rerun each method with something essential broken; a method should "
             "clearly beat its own controls.", ""]
    lines += [f"- `{name}`: {m.CONTROL_NOTES.get(name, name)}" for name in controls] + [""]
    rows = []
    for c in m.contenders(results):
        if c.role != "control":
            continue
        method = next((x for x in m.contenders(results) if x.label == c.name), None)
        rows.append([c.label, c.name, _value(c, intervals, primary), _value(method, intervals, primary)])
    if rows:
        lines += table(["control", "of method", f"{primary}", f"the method's {primary}"], rows)
    return lines


def _value(c, intervals, metric) -> str:
    if c is None:
        return "n/a"
    entry = (intervals.get(c.label) or {}).get(metric)
    return m.interval(entry) if entry else c.why_no_value


def _tuning(results) -> list[str]:
    tuning = results.get("tuning") or {}
    primary = m.tuning_metric(results)
    lines = ["## Tuning", ""]
    lines.append(f"Trials allowed per contender: {tuning.get('trials_allowed', 'n/a')}, scored by `{primary}` ({m.better(primary)}) on a "
                 f"held-out part of the selection split `{tuning.get('selection') or 'none'}` (never the evaluation split). Every "
                 "contender with a search space gets the same number of trials, drawn in the same order.")
    lines.append("")
    entries = tuning.get("contenders") or {}
    if entries:
        rows = []
        for label, entry in entries.items():
            trials = entry.get("trials", [])
            keys = m.searched(trials)
            ok = sum(t.get("status") == "succeeded" for t in trials)
            tried = "; ".join(f"{m.params_text(m.only(t.get('params'), keys))} → {m.num(t.get(primary))}"
                              + ("" if t.get("status") == "succeeded" else
                                 f" ({t.get('status')}: {m.first_line(t.get('reason') or 'no reason recorded')})")
                              for t in trials)
            chosen = m.params_text(m.only(entry["chosen"], keys)) if entry.get("chosen") else "none (defaults)"
            rows.append([label, f"{ok} of {len(trials)}", chosen, m.num(entry.get("best")), tried])
        lines += table(["contender", "trials succeeded", "chosen", f"best held-out {primary}",
                        "trials (searched parameters → held-out value)"], rows)
    else:
        lines += ["No contender was tuned.", ""]
    notes = tuning.get("notes") or {}
    lines += [f"- {label}: {note}" if label != "note" else f"- {note}" for label, note in notes.items()]
    return lines + ([""] if notes else [])


def _notes(results) -> list[str]:
    notes = results.get("notes") or []
    if not notes:
        return []
    return ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
