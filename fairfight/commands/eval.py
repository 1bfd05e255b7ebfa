"""`fairfight eval` and `fairfight plan`: the core behind the click layer."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..spec.method_checks import REFUSED

EXIT_OK, EXIT_NOT_SUPPORTED, EXIT_INVALID, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


@dataclass
class EvalOptions:
    spec: str
    overrides: list = field(default_factory=list)
    out: str | None = None
    executor: str | None = None
    workers: int | None = None
    seeds: int | None = None
    only: list = field(default_factory=list)
    cache: str | None = None  # the user cache's folder (default: fairfight.cache.default_root())
    progress: bool = True
    executor_options: dict = field(default_factory=dict)
    allow_refused: bool = False  # run the rest when a contender would be refused (else exit 2 first)
    no_cache: bool = False  # share nothing: forward passes in a temporary folder, runs not stored
    members: list = field(default_factory=list)  # a family: the members to run (default: all)


def _check(opts, *, refusals_ok, data=False):
    """The spec's check report, its problems printed (stderr); None when it is invalid."""
    from ..spec.check import check_file
    from .validate import print_diagnostics

    report = check_file(opts.spec, opts.overrides, refusals_ok=refusals_ok, data=data)
    if not report.ok or report.warnings:
        print_diagnostics([report], strict=False, stream=sys.stderr)
    if not report.ok:
        if not refusals_ok and any(d.code == REFUSED for d in report.errors):
            print("eval refuses to start: a contender would be refused (see above); fix the spec, or run the rest "
                  "with --allow-refused", file=sys.stderr)
        return None
    return report


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


def _out_problem(out: Path, spec) -> str | None:
    """Why OUT cannot hold this spec's bundle, or None. The bundle is out of every contender's
    reach, so a bundle around the spec's folder walls the methods out of their own code (every
    run refused); and resuming into another task's bundle would leave its runs among this one's."""
    import json

    here, bundle = spec.base_dir.resolve(), out.resolve()
    if here == bundle or bundle in here.parents:
        return (f"{out} holds the spec's own folder ({spec.base_dir}); a bundle is out of every contender's "
                f"reach, so its methods could not be imported: write it elsewhere, e.g. --out {out / 'runs' / spec.task.name}")
    try:
        previous = json.loads((out / "results.json").read_text(encoding="utf-8"))["task"]["name"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if previous != spec.task.name:
        return (f"{out} holds the bundle of another task ('{previous}'; this spec's is '{spec.task.name}'); "
                "the same --out resumes the same fight: pick another folder")
    return None


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
    from ..evaluator.orchestration.executors import make_executor
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
        name = opts.executor or spec.execution.executor
        options = {"slurm": dict(spec.execution.slurm), "ray": dict(spec.execution.ray)}.get(name, {})
        options.update(opts.executor_options)
        from ..evaluator.model_side.models import local_model_type

        executor = make_executor(name, opts.workers or spec.execution.workers, options,
                                 exchange=evaluation.bundle.root / ".exchange",
                                 model_type=local_model_type(spec.model.source, spec.base_dir),
                                 device=evaluation.device)
        evaluation.isolation = executor.isolation
        warn_isolation(executor)
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
    results = evaluation.write(interrupted)
    _write_reports(out)
    _settle_cache(user_cache)
    _summary(results)
    if interrupted:
        print(f"interrupted: {results['counts']['pending']} run(s) not finished; run the same command with "
              f"--out {out} to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    return exit_code(results)


def warn_isolation(executor) -> None:
    if executor.isolation[0] == "tripwire":
        print(f"warning: isolation: tripwire ({executor.isolation[1]}): contenders are watched by an audit hook, "
              "not walled in by the operating system; native code can get past it", file=sys.stderr)
    elif executor.isolation[0] == "none":
        print("warning: isolation: none (executor 'inline' runs contenders in this process: no fresh process, "
              "no audit hook, no timeouts); for debugging, not for a fight", file=sys.stderr)


def _cache_problem(cache: Path, out: Path) -> str | None:
    """Why this cache and this bundle cannot go together: a cache inside the bundle would be published
    with it; a bundle inside the cache would be evicted with its entries."""
    cache, bundle = cache.resolve(), out.resolve()
    if cache == bundle or bundle in cache.parents:
        return f"the cache {cache} is inside the bundle folder {out}: a bundle holds only the bundle; put it elsewhere"
    if cache in bundle.parents:
        return (f"the bundle folder {out} is inside the cache {cache}, whose entries are evicted when it grows: "
                "write the bundle elsewhere")
    return None


def _settle_cache(user_cache) -> None:
    """Keep the user cache within its cap: least recently used entries go first."""
    if user_cache is None:
        return
    from ..cache import CacheError, human

    try:
        removed = user_cache.evict()
    except (CacheError, OSError) as exc:
        print(f"warning: the cache was not trimmed to its size cap ({exc})", file=sys.stderr)
        return
    if removed:
        print(f"cache: evicted {len(removed)} least recently used entr{'y' if len(removed) == 1 else 'ies'} "
              f"({human(sum(e.size for e in removed))}) to stay within its cap", file=sys.stderr)


def _only_problem(spec, only) -> str:
    """Why `--only` names something this spec does not run ('' if every name is known)."""
    from ..spec.suggest import suggest

    labels = [c.name for c in spec.contenders()]
    labels += [f"{control}({m})" for m in spec.methods for control in spec.controls]
    for name in only:
        if name not in labels:
            return f"'{name}' is not a contender of this spec{suggest(name, labels)} (contenders: {', '.join(labels)})"
    return ""


def exit_code(results) -> int:
    """0 every claim supported; 1 some claim not supported or inconclusive; 2 a refusal (or an
    invalid spec); 3 a run failed."""
    counts = results["counts"]
    trials = counts.get("trials", {})
    if counts["refused_at_plan"] or counts["refused"] or trials.get("refused"):
        return EXIT_INVALID
    if counts["failed"] or trials.get("failed"):
        return EXIT_FAILED
    verdicts = [v["verdict"] for v in results.get("verdicts", [])]
    if "invalid" in verdicts:
        return EXIT_INVALID
    return EXIT_NOT_SUPPORTED if any(v in ("not-supported", "inconclusive") for v in verdicts) else EXIT_OK


def _print_error(exc):
    from ..errors import SpecError

    print(exc.render() if isinstance(exc, SpecError) else f"error: {exc}", file=sys.stderr)


class _Progress:
    """Runs done / running / refused / failed, with an ETA (rich, on stderr)."""

    def __init__(self, total, reused, enabled=True):
        self.total, self.enabled = total, enabled and sys.stderr.isatty()
        self.counts = {"succeeded": reused, "refused": 0, "failed": 0}
        self.running = 0
        self.started_at = time.monotonic()

    def __enter__(self):
        if self.enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("[bold]runs"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                                TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TextColumn("eta"),
                                TimeRemainingColumn(), transient=False)
            self.bar.__enter__()
            self.task = self.bar.add_task("runs", total=self.total, completed=sum(self.counts.values()),
                                          status=self._status())
        return self

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.__exit__(*exc)

    def _status(self):
        c = self.counts
        return f"running {self.running}, refused {c['refused']}, failed {c['failed']}"

    def reuse(self, record):
        self.counts["succeeded"] += 1  # finished before: counted, not run again
        self._update()

    @staticmethod
    def reused(evaluation) -> int:
        return sum(1 for r in evaluation.records.values() if r.get("reused"))

    def started(self, job):
        self.running += 1
        self._update()

    def done(self, record):
        self.running -= 1
        self.counts[record["status"]] = self.counts.get(record["status"], 0) + 1
        if not self.enabled:
            what = f"trial {record['trial']}" if record.get("trial") is not None else f"seed {record['seed']}"
            print(f"  {record['label']} {what}: {record['status']}", file=sys.stderr)
        self._update()

    def _update(self):
        if self.enabled:
            self.bar.update(self.task, completed=sum(self.counts.values()), status=self._status())


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
