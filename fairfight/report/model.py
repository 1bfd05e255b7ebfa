"""Reading results.json for the reports: contenders in order, numbers formatted, roles explained.

Everything here is a pure function of the results dict (the bundle's results.json); nothing is
rerun or recomputed from predictions. Light imports only (no numpy, no torch).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from .._format import signed  # noqa: F401  (the report modules take it from here)
from ..errors import FairfightError

ROLE_NOTES = {
    "method": "method",
    "baseline": "baseline",
    "skyline": "skyline: allowed more than the rules; never counted as a baseline",
    "control": "control",
}
CONTROL_NOTES = {
    "random_model": "the method rerun on a model of the same architecture with freshly initialised weights",
    "shuffled_labels": "the method rerun with the labels of every granted split permuted",
    "random_direction": "the method rerun with every vector it adds replaced by a random one of the same norm at "
                        "the same place",
}
VERDICT_NOTES = {
    "supported": "the lower confidence bound of the difference clears the margin",
    "not-supported": "the upper confidence bound of the difference is below the margin",
    "inconclusive": "the confidence interval of the difference contains the margin",
    "invalid": "a required baseline or control is missing, failed or was refused",
    "not-judged": "no verdict is computed for this tier",
}
MATCHES_NOTES = {
    "supported": "the whole confidence interval of the difference lies within the tolerance",
    "not-supported": "the confidence interval of the difference lies entirely outside the tolerance",
    "inconclusive": "the confidence interval of the difference straddles the tolerance",
}
LOWER_IS_BETTER = ("leakage",)  # metric families where smaller is better (see evaluator/judgement/scoring.py)


def load_results(bundle) -> dict:
    """results.json of a bundle folder (or the file itself); FairfightError if it is not readable."""
    path = Path(bundle)
    if not path.exists():
        raise FairfightError(f"{bundle}: no such bundle folder")
    if path.is_dir():
        path = path / "results.json"
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FairfightError(f"{path}: no such file (is {bundle} a bundle written by `fairfight eval`?)") from None
    except (OSError, ValueError) as exc:
        raise FairfightError(f"{path}: not readable as JSON: {exc}") from None
    if not isinstance(results, dict) or results.get("format") != "fairfight-results":
        raise FairfightError(f"{path}: not a fairfight results file (format is not 'fairfight-results')")
    return results


def is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def num(x, digits: int = 3) -> str:
    """A metric value for people: 3 decimals, 'n/a' for missing or not-a-number."""
    return f"{x:.{digits}f}" if is_number(x) else "n/a"




def interval(entry: dict | None, metric: str | None = None) -> str:
    """'0.812 [0.750, 0.861]' from an intervals entry; a leakage mean on its lower bound says why."""
    if not entry:
        return "n/a"
    if not is_number(entry.get("mean")):
        return "n/a"
    text = f"{num(entry['mean'])} [{num(entry.get('low'))}, {num(entry.get('high'))}]"
    return text + (" (at the floor)" if at_floor(entry, metric) else "")


FLOOR_NOTE = ("leakage is never below the share of the attribute's most common value: 0.5 for two values on a "
              "balanced evaluation split, where nothing leaks, but more in the bootstrap's resamples, which are not "
              "balanced. A mean on that floor therefore sits on (or below) its interval's lower bound: the interval "
              "says how far above the floor resampling goes, not that the mean is off (docs/metrics.md)")


def at_floor(entry: dict | None, metric: str | None) -> bool:
    """A leakage mean on or below its interval's lower bound: the metric's floor, not a lopsided interval."""
    return bool(metric and metric.split("(")[0] in LOWER_IS_BETTER and entry and is_number(entry.get("mean"))
                and is_number(entry.get("low")) and round(entry["mean"], 3) <= round(entry["low"], 3))


def spread(values) -> tuple[str, str]:
    """(per-seed values, standard deviation) as text."""
    vals = [v for v in values or [] if is_number(v)]
    text = ", ".join(num(v) for v in values or [])
    if len(vals) < 2:
        return text or "n/a", "n/a (one seed)" if vals else "n/a"
    mean = sum(vals) / len(vals)
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1))
    return text, num(sd)


def lower_is_better(metric: str) -> bool:
    return metric.split("(", 1)[0] in LOWER_IS_BETTER


def percent(x) -> str:
    return f"{x:.0%}" if is_number(x) else "n/a"


@dataclass
class Contender:
    label: str
    role: str
    control: str | None = None
    name: str = ""
    runs: list = field(default_factory=list)  # run records (results.json "runs")
    status: str = ""  # "succeeded", "refused", "failed/succeeded", "refused at plan time", ...
    plan_refusal: str | None = None

    @property
    def why_no_value(self) -> str:
        """What to show instead of a number for a contender without an interval."""
        if self.plan_refusal is not None:
            return "refused at plan time"
        bad = sorted({r["status"] for r in self.runs if r["status"] != "succeeded"})
        return "/".join(bad) if bad else "n/a"

    @property
    def note(self) -> str:
        if self.role == "control" and self.control:
            return f"control of {self.name}: {CONTROL_NOTES.get(self.control, self.control)}"
        copied = [r for r in self.runs if r.get("copied_from")]
        if copied:  # its seeds are one run: no spread over seeds to read into
            seed = copied[0]["copied_from"]["seed"]
            return (f"{ROLE_NOTES.get(self.role, self.role)}; seed-free: run once, at seed {seed}, "
                    f"its result given to the other {len(copied)} seed(s)")
        return ROLE_NOTES.get(self.role, self.role)


def contenders(results: dict) -> list[Contender]:
    """Every contender of the fight in a stable order: methods, baselines, skylines, controls (the
    plan's order), then contenders refused at plan time."""
    out: dict[str, Contender] = {}
    for run in results.get("runs", []):
        c = out.setdefault(run["label"], Contender(run["label"], run["role"], run.get("control"), run["name"]))
        c.runs.append(run)
    for c in out.values():
        c.runs.sort(key=lambda r: r.get("seed", 0))
        c.status = "/".join(sorted({r["status"] for r in c.runs}))
    order = {"method": 0, "baseline": 1, "skyline": 2, "control": 3}
    listed = sorted(out.values(), key=lambda c: order.get(c.role, 4))  # stable: plan order within a role
    for refusal in results.get("refusals", []):
        if refusal["label"] not in out:
            name = refusal["label"].split("(", 1)[1][:-1] if refusal["role"] == "control" else refusal["label"]
            control = refusal["label"].split("(", 1)[0] if refusal["role"] == "control" else None
            listed.append(Contender(refusal["label"], refusal["role"], control, name, [], "refused at plan time",
                                    refusal["reason"]))
    return listed


def metrics_of(results: dict) -> list[str]:
    """The scalar metrics with intervals, primary first (group_accuracy is shown per group)."""
    ev = results.get("evaluate", {})
    metrics = [m for m in ev.get("metrics", []) if m != "group_accuracy"]
    primary = ev.get("primary")
    return ([primary] if primary in metrics else []) + [m for m in metrics if m != primary]


def group_names(results: dict) -> list[str]:
    names: list[str] = []
    for entry in (results.get("intervals") or {}).values():
        for g in entry.get("groups", {}) or {}:
            if g not in names:
                names.append(g)
    return sorted(names)


def claim_terms(verdict: dict) -> tuple[float, str]:
    """(margin or tolerance, "beats" | "matches") of a claim. results.json does not carry them as
    fields, so they are read from the verdict's reason (and the claim's wording)."""
    found = re.search(r"\b(margin|tolerance) ([-+0-9.eE]+)", verdict.get("reason", ""))
    matches = (found is not None and found.group(1) == "tolerance") or " matches " in f" {verdict.get('claim', '')} "
    try:
        amount = float(found.group(2)) if found else 0.0
    except ValueError:
        amount = 0.0
    return amount, "matches" if matches else "beats"


def verdict_meaning(verdict: dict) -> str:
    if claim_terms(verdict)[1] == "matches" and verdict.get("verdict") in MATCHES_NOTES:
        return MATCHES_NOTES[verdict["verdict"]]
    return VERDICT_NOTES.get(verdict.get("verdict"), "")


def is_all_baselines(verdict: dict) -> bool:
    """Whether a claim compares against every baseline (an intersection-union test)."""
    return "all baselines" in verdict.get("claim", "") or len(verdict.get("comparisons", [])) > 1


def unmatched_caveats(verdict: dict) -> list[str]:
    """The caveat lines of a 'METHOD beats all baselines' verdict: affordances no required baseline
    uses, with what would match them; those the spec explains, with its reason instead."""
    items = verdict.get("unmatched") or []
    open_items = [u for u in items if not u.get("reason")]
    stated = [u for u in items if u.get("reason")]
    lines = []
    if open_items:
        fixes = "; ".join(f"{u['affordance']}: {u['suggestion']}" for u in open_items)
        lines.append(f"unmatched affordances: {', '.join(u['affordance'] for u in open_items)} (no required "
                     f"baseline uses them: a win over all baselines could come from them alone; {fixes})")
    if stated:
        lines.append("unmatched by design, as the spec states: "
                     + "; ".join(f"{u['affordance']}: {u['reason']}" for u in stated))
    judged = [u for u in items if u.get("judgement")]
    if judged:  # said whatever the spec states: a reader must know a person's choice is in the result
        lines.append("human judgement: " + "; ".join(f"{u['affordance']} ({u['judgement']})" for u in judged)
                     + " - an affordance no baseline has")
    return lines


def budget_text(budget: dict) -> str:
    parts = []
    for key, label in (("trials", "tuning trials per contender"), ("examples", "examples through the model"),
                       ("steps", "training steps"), ("wall_time", "wall time per run")):
        value = budget.get(key)
        if value is None:
            parts.append(f"{label}: unlimited")
        else:
            parts.append(f"{label}: {value:g} s" if key == "wall_time" else f"{label}: {value}")
    return "; ".join(parts)


def params_text(params: dict | None) -> str:
    if not params:
        return "defaults"
    return ", ".join(f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in sorted(params.items()))


def better(metric: str | None) -> str:
    """Which way a metric's values improve, as a reader is told it."""
    return "lower is better" if metric and lower_is_better(metric) else "higher is better"


def tuning_metric(results: dict) -> str | None:
    """What the tuning trials were scored by (bundles older than rules.selection_metric: the primary)."""
    return (results.get("tuning") or {}).get("metric") or (results.get("evaluate") or {}).get("primary")


def searched(trials: list) -> list[str]:
    """The parameters that differ between a contender's trials (its search space, as tried)."""
    keys = sorted({k for t in trials for k in (t.get("params") or {})})
    if len(trials) < 2:
        return keys
    return [k for k in keys if len({json.dumps((t.get("params") or {}).get(k), sort_keys=True) for t in trials}) > 1]


def only(params: dict | None, keys: list) -> dict:
    return {k: v for k, v in (params or {}).items() if k in keys}


def run_refusals(results: dict) -> list[dict]:
    """Run-time refusals and failures, and runs kept with batch-dependent predictions (tiers other
    than fair-fight): [{label, role, seed, trial, status, reasons}]."""
    from ..evaluator.contender_side.batching import flag

    out = []
    for run in results.get("runs", []):
        if run["status"] == "succeeded":
            if flag(run):
                out.append({"label": run["label"], "role": run["role"], "seed": run.get("seed"),
                            "status": "kept", "reasons": [flag(run)]})
            continue
        reasons = list(run.get("reasons") or [])
        if run.get("error") and not reasons:
            reasons = [run["error"]]
        out.append({"label": run["label"], "role": run["role"], "seed": run.get("seed"), "status": run["status"],
                    "reasons": list(dict.fromkeys(first_line(r) if run["status"] == "failed" else r
                                                  for r in reasons))})
    for label, entry in ((results.get("tuning") or {}).get("contenders") or {}).items():
        for trial in entry.get("trials", []):
            if trial.get("status") not in (None, "succeeded"):
                out.append({"label": label, "role": "tuning trial", "seed": None, "trial": trial.get("trial"),
                            "status": trial["status"], "reasons": [f"trial {trial.get('trial')} with "
                                                                   f"{params_text(trial.get('params'))}"]})
    return out


def first_line(text: str) -> str:
    """A failure's message without its traceback (the run's log.txt has the rest)."""
    lines = [x for x in str(text).strip().splitlines() if x.strip()]
    if not lines:
        return ""
    if lines[0].startswith("Traceback"):
        return lines[-1].strip()
    return lines[0].strip()


def tier(results: dict) -> str:
    return (results.get("task") or {}).get("tier", "fair-fight")


def data_text(data: dict) -> str:
    return "; ".join(f"{split}: {', '.join(cols)}" for split, cols in sorted((data or {}).items())) or "none"


def device(results: dict) -> str | None:
    """Where the model ran and in what precision (docs/devices.md); None for bundles written before
    devices were recorded (their reports stay as they were)."""
    dev = results.get("device")
    if not dev:
        return None
    used = ", ".join(dev.get("used") or []) or f"{dev.get('planned')} (no run of this eval reported one)"
    asked = f" (asked: {dev['requested']})" if dev.get("requested") not in (None, dev.get("planned")) else ""
    return f"{used}, {dev.get('dtype')}{asked}"


def isolation(results: dict) -> str:
    """How contenders were kept from what they were not granted (docs/isolation.md)."""
    iso = results.get("isolation") or {}
    level = iso.get("level", "unknown (bundle written before isolation was recorded)")
    meaning = {"os": "the operating system walls contenders in",
               "tripwire": "an audit hook watches contenders; native code can get past it",
               "none": "contenders ran in the evaluating process, unwatched"}.get(level, "")
    # the why names the walls ("Landlock ABI 6 and seccomp"): said once, not after "(Landlock, seccomp)" again
    why = iso.get("why") or ("Landlock, seccomp" if level == "os" else "")
    return f"{level}" + (f": {meaning}" if meaning else "") + (f" ({why})" if why else "")
