"""`fairfight eval` and `fairfight plan`: the core behind the click layer."""
from __future__ import annotations

import sys
from pathlib import Path

from .eval_parts import (EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_NOT_SUPPORTED, EXIT_OK,  # noqa: F401
                         EvalOptions, _cache_problem, _check, _only_problem, _out_problem, _print_error, _Progress,
                         _settle_cache, executor_for, exit_code)


def run_plan(opts: EvalOptions) -> int:
    from ..evaluator.orchestration.plan import compile_plan
    from ..evaluator.orchestration.tuning import HELD_OUT, tuning_runs

    report = _check(opts, refusals_ok=True)
    if report is None:
        return EXIT_INVALID
    spec = report.spec
    if report.family is not None:
        from .family import chosen_members, run_family_plan

        if len(opts.members) != 1:
            return run_family_plan(opts, report)
        members, problem = chosen_members(report, opts.members)
        if problem:
            print(f"error: --member: {problem}", file=sys.stderr)
            return EXIT_INVALID
        spec = members[0][1].spec
        print(f"member {members[0][0].name} of the family:")
    problem = _only_problem(spec, opts.only)
    if problem:
        print(f"error: --only: {problem}", file=sys.stderr)
        return EXIT_INVALID
    plan = compile_plan(spec, seeds=opts.seeds, only=opts.only)
    trials, tuning_notes = tuning_runs(spec, plan)
    by_label, trials_of = {}, {}
    for run in plan.runs:
        by_label.setdefault(run.label, []).append(run)
    for trial in trials:
        trials_of.setdefault(trial.name, []).append(trial)
    extra = f" + {len(trials)} tuning trials" if trials else ""
    print(f"plan: {spec.task.name}: {len(plan.runs)} runs = {len(by_label)} contenders x seeds "
          f"{', '.join(map(str, plan.seeds))}{extra}")
    from ..data.transforms import transforms_of

    for split, steps in transforms_of(spec).items():
        print(f"  split '{split}' transformed (on the trusted side, before any contender sees it): {'; '.join(steps)}")
    if "note" in tuning_notes:
        print(f"  tuning: {tuning_notes['note']}")
    elif trials:
        from ..report.model import better as direction

        print(f"  tuning: up to {spec.rules.budget.trials} trials per contender with a search space, the same "
              f"draws for each, trained on '{spec.rules.selection}' less a held-out {HELD_OUT:.0%} that scores "
              f"them on {spec.tuning_metric}; the best trial's ({direction(spec.tuning_metric)}) parameters replace "
              "the defaults below")
    for label, runs in by_label.items():
        r, grant = runs[0], runs[0].grant
        data = "; ".join(f"{s}[{', '.join(sorted(c))}]" for s, c in sorted(grant.data.items())) or "-"
        model = ", ".join(sorted(grant.model)) or "-"
        print(f"\n  {label} ({r.role}{'' if r.declared else '; declares no uses: granted the full rules'})")
        print(f"    model: {model}")
        print(f"    data: {data}")
        if grant.knowledge:
            print(f"    knowledge: {', '.join(sorted(grant.knowledge))}")
        tuned = bool(trials_of.get(r.name)) and not r.control
        for line in param_lines(r, tuned):
            print(line)
        if tuned:
            print(f"    tuning: {_searched(trials_of[r.name])}")
        elif r.control and trials_of.get(r.name):
            print(f"    tuning: none of its own; it takes the parameters tuning chooses for {r.name}")
        elif label in tuning_notes:
            print(f"    tuning: {tuning_notes[label]}")
        rekeyed = " (before tuning: the chosen parameters give new keys)" if trials_of.get(r.name) else ""
        print(f"    run keys{rekeyed}: {' '.join(x.key[:12] for x in runs)}")
        if any(x.twin for x in runs):
            print(f"    seed-free: computed at seed {runs[0].seed} only; the other seeds get its result "
                  "(docs/baselines.md)")
    for refusal in plan.refusals:
        print(f"\n  refused {refusal.label} ({refusal.role}): {refusal.reason}")
    return EXIT_INVALID if plan.refusals else EXIT_OK


def _searched(trials) -> str:
    """'3 trials over l2 in [0.1, 1.0], layer in [2, 4]' from one contender's trial runs."""
    keys = sorted({k for t in trials for k in t.params if len({repr(u.params.get(k)) for u in trials}) > 1})
    values = {k: sorted({repr(t.params[k]) for t in trials}) for k in keys}
    space = ", ".join(f"{k} in [{', '.join(values[k])}]" for k in keys) or "one point"
    return f"{len(trials)} trial{'s' if len(trials) != 1 else ''} over {space}"


def param_lines(run, tuned: bool = False) -> list[str]:
    """The parameters a run will get, one per line; values as JSON, so a prompt with newlines
    stays on its line. A built-in's parameter decided at run time says so."""
    import json

    lines = [f"      {k}: {json.dumps(v, ensure_ascii=False, default=str)}" for k, v in sorted(run.params.items())]
    if run.role in ("baseline", "skyline"):
        from ..baselines.parameters import PARAMETERS, AtRunTime

        lines += [f"      {p.name}: (at run time) {p.default}" for p in PARAMETERS.get(run.name, ())
                  if isinstance(p.default, AtRunTime) and p.set_by == "spec" and p.name not in run.params]
    title = "    params (defaults; tuning chooses the searched ones):" if tuned else "    params:"
    return [title, *lines] if lines else []


def run_eval(opts: EvalOptions) -> int:
    """Check everything that can be checked before compute (the spec, its data, the plan), then
    run. An unexpected crash is exit 3 with a message (and the traceback in the bundle), never 1."""
    state = {"out": None, "scratch": None}  # the bundle folder, once known: where a crash leaves its traceback
    try:
        return _run_eval_reporting(opts, state)
    finally:
        if state["scratch"] is not None:  # --no-cache: the passes do not outlive the eval
            import shutil

            shutil.rmtree(state["scratch"], ignore_errors=True)


def _run_eval_reporting(opts: EvalOptions, state: dict) -> int:
    from ..errors import FairfightError

    try:
        return _run_eval(opts, state)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except FairfightError as exc:  # bad input found late: a message, as everywhere
        _print_error(exc)
        return EXIT_INVALID
    except Exception as exc:  # noqa: BLE001 - a bug must not look like "a claim is not supported" (exit 1)
        import traceback

        out = state["out"]
        detail = traceback.format_exc()
        where = ""
        if out is not None:
            try:
                out.mkdir(parents=True, exist_ok=True)
                (out / "eval-error.txt").write_text(detail, encoding="utf-8")
                where = f"; the traceback is in {out / 'eval-error.txt'}"
            except OSError:
                pass
        import os

        if not where and not os.environ.get("FAIRFIGHT_TRACEBACK"):
            where = " (set FAIRFIGHT_TRACEBACK=1 to see the traceback)"  # a message, never a traceback, by default
        print(f"error: eval stopped by an unexpected {type(exc).__name__}: {exc}{where}. This is a bug in fairfight "
              "or its inputs that no check caught; the results (if any) are incomplete", file=sys.stderr)
        if os.environ.get("FAIRFIGHT_TRACEBACK"):
            print(detail, file=sys.stderr)
        return EXIT_FAILED


def _run_eval(opts: EvalOptions, state: dict) -> int:
    from ..errors import FairfightError
    from ..evaluator.orchestration.plan import compile_plan
    from ..evaluator.orchestration.runner import Evaluation, default_out

    try:
        report = _check(opts, refusals_ok=opts.allow_refused, data=True)
    except FairfightError as exc:
        _print_error(exc)
        return EXIT_INVALID
    if report is None:
        return EXIT_INVALID
    if report.family is not None:
        from .family import run_family_eval

        return run_family_eval(opts, report, state)
    spec = report.spec
    problem = _only_problem(spec, opts.only)
    if problem:
        print(f"error: --only: {problem}", file=sys.stderr)
        return EXIT_INVALID
    plan = compile_plan(spec, seeds=opts.seeds, only=opts.only)
    if plan.refusals and not opts.allow_refused:
        for refusal in plan.refusals:
            print(f"refused: {refusal.reason}", file=sys.stderr)
        print("eval refuses to start: fix the spec, or run the rest with --allow-refused", file=sys.stderr)
        return EXIT_INVALID
    out = Path(opts.out) if opts.out else default_out(spec)
    problem = _out_problem(out, spec)
    if problem:
        print(f"error: --out: {problem}", file=sys.stderr)
        return EXIT_INVALID
    if not opts.no_cache:
        from ..cache import default_root

        problem = _cache_problem(Path(opts.cache).expanduser() if opts.cache else default_root(), out)
        if problem:
            print(f"error: --cache: {problem}", file=sys.stderr)
            return EXIT_INVALID
    try:  # a folder that cannot be made (a file in the way, no permission, a name too long) is bad input
        (out / "runs").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"error: cannot create the results bundle folder '{out}': {exc.strerror or exc}"
              f"{'' if opts.out else ' (choose another with --out)'}", file=sys.stderr)
        return EXIT_INVALID
    state["out"] = out
    scratch = None
    try:
        from ..cache import UserCache

        user_cache = None if opts.no_cache else UserCache(opts.cache)
        if user_cache is None:  # the passes still need a place, just not one that outlives the eval
            import tempfile

            scratch = Path(tempfile.mkdtemp(prefix="fairfight-forward-"))
        state["scratch"] = scratch
        evaluation = Evaluation(spec, plan, out, overrides=opts.overrides, cache=user_cache, forward=scratch,
                                loader=report.loader)
        executor = executor_for(opts, evaluation, evaluation.bundle.root / ".exchange")
        evaluation.isolation = executor.isolation
        trials = evaluation.count_trials()
    except FairfightError as exc:
        _print_error(exc)
        return EXIT_INVALID
    total = len(plan.runs) + trials
    tuning = f" + {trials} tuning trials" if trials else ""
    where = f"cache: {user_cache.root}" if user_cache else "no cache"
    print(f"fairfight eval: {len(plan.runs)} runs{tuning}, bundle: {out}, {where}", file=sys.stderr)
    for refusal in plan.refusals:
        print(f"refused at plan time: {refusal.reason}", file=sys.stderr)
    interrupted = False
    with _Progress(total, 0, enabled=opts.progress) as progress:
        def done(job, result):
            progress.done(evaluation.finish(job, result))

        evaluation.on_reused = progress.reuse
        try:
            evaluation.execute(executor, progress.started, done, seeds=opts.seeds, only=opts.only)
        except KeyboardInterrupt:
            interrupted = True
        except FairfightError as exc:
            _print_error(exc)
            return EXIT_INVALID
        print(f"{progress.reused(evaluation)} run(s) reused from an earlier eval or the cache", file=sys.stderr)
        if progress.copied(evaluation):
            print(f"{progress.copied(evaluation)} run(s) of seed-free built-ins given their first seed's result "
                  "(docs/baselines.md)", file=sys.stderr)
    results = evaluation.write(interrupted)
    _write_reports(out)
    _settle_cache(user_cache)
    _summary(results)
    if interrupted:
        print(f"interrupted: {results['counts']['pending']} run(s) not finished; run the same command with "
              f"--out {out} to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    return exit_code(results)


def _write_reports(out):
    """report.md and report.html beside results.json; a report problem never changes the exit code."""
    try:
        from ..report import write_reports

        md, html = write_reports(out)
        print(f"reports: {md}, {html}", file=sys.stderr)
    except Exception as exc:  # noqa: BLE001 - the results are written; the reports can be re-rendered
        print(f"warning: the reports were not written ({type(exc).__name__}: {exc}); the results are complete: "
              f"run `fairfight report {out}` to try again", file=sys.stderr)


def _summary(results):
    from ..report.terminal import print_summary

    print_summary(results)


def _summary_table(results):
    from ..report.terminal import summary_table

    summary_table(results)
