"""`fairfight eval` and `fairfight plan` on a family spec: every member, over one executor and cache."""
from __future__ import annotations

import sys
from pathlib import Path

from .eval_parts import (EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_NOT_SUPPORTED, EXIT_OK, _cache_problem,
                   _only_problem, _out_problem, _print_error, _Progress, _settle_cache, executor_for, exit_code)


def chosen_members(report, names) -> tuple[list, str]:
    """The (Member, Report) pairs to run: all, or those `--member` names; a problem says which name is unknown."""
    from ..spec.suggest import suggest

    every = [m.name for m, _ in report.family]
    for name in names:
        if name not in every:
            return [], f"'{name}' is not a member of this family{suggest(name, every)} (members: {', '.join(every)})"
    return [(m, r) for m, r in report.family if not names or m.name in names], ""


def _plans(opts, members):
    from ..evaluator.orchestration.plan import compile_plan

    return {m.name: compile_plan(r.spec, seeds=opts.seeds, only=opts.only) for m, r in members}


def run_family_plan(opts, report) -> int:
    """The members, each one's runs, and the total (the runs two members share are counted once)."""
    from ..evaluator.orchestration.tuning import tuning_runs

    members, problem = chosen_members(report, getattr(opts, "members", ()))
    problem = problem or _only_problem(members[0][1].spec, opts.only)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_INVALID
    plans = _plans(opts, members)
    spec = members[0][1].spec
    keys, trial_keys, total_trials, refused = set(), set(), 0, 0
    print(f"plan: family {spec.task.name}: {len(members)} member{'s' * (len(members) != 1)} "
          f"({spec.family.combine} over {', '.join(a.name for a in spec.family.axes)})")
    for member, r in members:
        plan = plans[member.name]
        trial_runs = tuning_runs(r.spec, plan)[0]
        trials = len(trial_runs)
        trial_keys |= {t.key for t in trial_runs}
        new = {run.key for run in plan.runs} - keys
        keys |= {run.key for run in plan.runs}
        total_trials += trials
        refused += len(plan.refusals)
        shared = len(plan.runs) - len(new)
        print(f"\n  {member.name}: {len(plan.runs)} runs" + (f" + {trials} tuning trials" if trials else "")
              + (f" ({shared} shared with members above)" if shared else ""))
        for axis in spec.family.axes:
            print(f"    {axis.path} = {_show(member.values[axis.name])}")
        for refusal in plan.refusals:
            print(f"    refused {refusal.label} ({refusal.role}): {refusal.reason}")
    ranged = [c.text for c in spec.claims if c.ranged]
    print(f"\n  total: {len(keys)} distinct runs" + (f" + {len(trial_keys)} distinct tuning trials" if total_trials else "")
          + " (a run two members share is computed once)")
    if ranged:
        print("  claims over the members (Holm over the members each ranges over):")
        for text in ranged:
            print(f"    {text}")
    print("  `fairfight plan SPEC --member NAME` shows one member's runs in full")
    return EXIT_INVALID if refused else EXIT_OK


def _show(value) -> str:
    import json

    from ..spec.ir import to_jsonable

    return value if isinstance(value, str) else json.dumps(to_jsonable(value), ensure_ascii=False)


def run_family_eval(opts, report, state) -> int:
    from ..cache import UserCache, default_root
    from ..errors import FairfightError
    from ..evaluator.orchestration.family import FamilyEvaluation
    from ..evaluator.orchestration.runner import default_out

    members, problem = chosen_members(report, getattr(opts, "members", ()))
    spec = report.family[0][1].spec
    problem = problem or _only_problem(spec, opts.only)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_INVALID
    plans = _plans(opts, members)
    refusals = [(m.name, x) for m, _ in members for x in plans[m.name].refusals]
    if refusals and not opts.allow_refused:
        for name, refusal in refusals:
            print(f"refused in member '{name}': {refusal.reason}", file=sys.stderr)
        print("eval refuses to start: fix the spec, or run the rest with --allow-refused", file=sys.stderr)
        return EXIT_INVALID
    out = Path(opts.out) if opts.out else default_out(spec)
    problem = _out_problem(out, spec)
    if not problem and not opts.no_cache:
        problem = _cache_problem(Path(opts.cache).expanduser() if opts.cache else default_root(), out)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_INVALID
    try:
        (out / "members").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"error: cannot create the results bundle folder '{out}': {exc.strerror or exc}", file=sys.stderr)
        return EXIT_INVALID
    state["out"] = out
    user_cache = None
    try:
        if opts.no_cache:  # members still share their runs and passes, for this eval only
            import tempfile

            state["scratch"] = Path(tempfile.mkdtemp(prefix="fairfight-family-"))
            user_cache = UserCache(state["scratch"])
        else:
            user_cache = UserCache(opts.cache)
        family = FamilyEvaluation([(m, r.spec, r.loader) for m, r in members], out, overrides=opts.overrides,
                                  cache=user_cache, plans=plans)
        trials = family.count_trials()
    except FairfightError as exc:
        _print_error(exc)
        return EXIT_INVALID

    runs = sum(len(p.runs) for p in plans.values())
    where = "no cache (a temporary one for the members)" if opts.no_cache else f"cache: {user_cache.root}"
    print(f"fairfight eval: family of {len(members)} members, {runs} runs"
          + (f" + {trials} tuning trials" if trials else "") + f", bundle: {out}, {where}", file=sys.stderr)
    interrupted = False
    with _Progress(runs + trials, 0, enabled=opts.progress) as progress:
        for ev in family.evaluations:
            ev.on_reused = progress.reuse
        try:
            family.execute(lambda ev: executor_for(opts, ev, out / ".exchange"), progress.started, lambda job, record: progress.done(record),
                           seeds=opts.seeds, only=opts.only)
        except KeyboardInterrupt:
            interrupted = True
        except FairfightError as exc:
            _print_error(exc)
            return EXIT_INVALID
    print(f"{family.shared} run(s) computed once for several members", file=sys.stderr)
    results = family.write(interrupted)
    _write_family_reports(out, [m.member.name for m in family.members])
    if not opts.no_cache:
        _settle_cache(user_cache)
    _family_summary(results)
    if interrupted:
        print(f"interrupted: run the same command with --out {out} to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    return family_exit_code(results, [m.evaluation for m in family.members])


def family_exit_code(family: dict, evaluations) -> int:
    """The worst of the members' exit codes and the family verdicts'."""
    import json

    codes = [exit_code(json.loads((ev.bundle.root / "results.json").read_text(encoding="utf-8")))
             for ev in evaluations]
    verdicts = [v["verdict"] for v in family.get("verdicts", [])]
    if "invalid" in verdicts:
        codes.append(EXIT_INVALID)
    elif any(v in ("not-supported", "inconclusive") for v in verdicts):
        codes.append(EXIT_NOT_SUPPORTED)
    for worst in (EXIT_INVALID, EXIT_FAILED, EXIT_NOT_SUPPORTED):
        if worst in codes:
            return worst
    return EXIT_OK


def _write_family_reports(out, names) -> None:
    """Each member's report, then the family's; a report problem never changes the exit code."""
    from ..report import write_reports

    for name in names:
        try:
            write_reports(out / "members" / name)
        except Exception as exc:  # noqa: BLE001 - the results are written; reports can be re-rendered
            print(f"warning: member {name}'s reports were not written ({type(exc).__name__}: {exc})", file=sys.stderr)
    try:
        from ..report.family import write_family_reports

        md, html = write_family_reports(out)
        print(f"reports: {md}, {html}", file=sys.stderr)
    except Exception as exc:  # noqa: BLE001
        print(f"warning: the family reports were not written ({type(exc).__name__}: {exc}); run "
              f"`fairfight report {out}` to try again", file=sys.stderr)


def _family_summary(family: dict) -> None:
    for m in family["members"]:
        c = m["counts"]
        print(f"  {m['name']}: {c['succeeded']} succeeded, {c['failed']} failed, {c['refused']} refused; "
              + ", ".join(f"{v['claim']}: {v['verdict']}" for v in m["verdicts"]), file=sys.stderr)
    for v in family.get("verdicts", []):
        print(f"{v['verdict'].upper():>14}  {v['claim']}\n                {v['reason']}")
